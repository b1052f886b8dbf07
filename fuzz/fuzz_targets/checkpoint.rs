//! Fuzz target: checkpoint and signed-note parsers never panic, and parsed checkpoints
//! round-trip.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((cp, ext)) = idledger_proto::Checkpoint::parse(text) {
            if ext.is_empty() {
                assert_eq!(cp.to_text(), text);
            }
        }
        let _ = idledger_proto::note::parse_note(text);
        let _ = idledger_proto::VerifierKey::parse(text);
    }
});
