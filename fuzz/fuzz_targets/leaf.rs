//! Fuzz target: the leaf decoder never panics, any leaf it accepts re-encodes identically, and
//! the borrowed decoder (`EntryView`, used by verification and replay) accepts exactly the same
//! leaves with exactly the same value.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let owned = idledger_proto::Entry::decode(data);
    let viewed = idledger_proto::view::EntryView::decode(data).map(|v| v.to_entry());
    assert_eq!(viewed.as_ref().ok(), owned.as_ref().ok());
    if let Ok(entry) = owned {
        assert_eq!(entry.encode(), data);
    }
});
