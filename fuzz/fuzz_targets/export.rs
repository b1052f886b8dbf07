//! Fuzz target: an export stream (from the input) checked against a fixed log key: it never
//! panics, and no stream is accepted, since no input can carry the fixed key's signature on a
//! checkpoint (and entries are accepted only under a verified checkpoint).
#![no_main]
use std::sync::OnceLock;

fn keys() -> &'static [idledger_proto::VerifierKey] {
    static KEYS: OnceLock<Vec<idledger_proto::VerifierKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let log = idledger_proto::note::NoteSigner::new(
            "test.example/ledger",
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        )
        .expect("log key");
        vec![log.verifier().clone()]
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let verified = idledger_proto::export::verify_export(text, keys());
        assert!(!verified.ok(), "accepted without a signature: {verified:?}");
    }
});
