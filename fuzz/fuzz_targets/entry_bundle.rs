//! Fuzz target: the tlog-tiles entry bundle reader never panics, reads at most 256 entries, and
//! any bundle it accepts is written back byte for byte.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = idledger_proto::tiles::decode_entry_bundle(data) {
        assert!(entries.len() <= 256);
        let again = idledger_proto::tiles::encode_entry_bundle(0, entries.iter().copied())
            .expect("entries read from a bundle fit one");
        assert_eq!(again, data);
    }
});
