//! Fuzz target: the leaf decoder never panics, and any leaf it accepts re-encodes identically.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = idledger_proto::Entry::decode(data) {
        assert_eq!(entry.encode(), data);
    }
});
