//! Fuzz target: the proof-bundle verifier never panics; what it accepts, written back as JSON,
//! is accepted again with the same entries; and it accepts nothing under a key that did not sign.
#![no_main]

/// The keys that signed the seed bundles in fuzz/seeds/bundle (the ledger had rotated once, so
/// its checkpoints carry two signatures).
const SEED_KEYS: &str = include_str!("../seeds/checkpoint/vkey.txt");
/// A key that signed nothing here (the C2SP signed-note example key).
const STRANGER: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use idledger_proto::bundle::{ProofBundle, verify_bundle};
    use idledger_proto::VerifierKey;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keys: Vec<VerifierKey> = SEED_KEYS
        .lines()
        .map(|k| VerifierKey::parse(k).expect("seed key"))
        .collect();
    if let Ok(verified) = verify_bundle(text, None, &keys) {
        let bundle: ProofBundle = serde_json::from_str(text).expect("an accepted bundle parses");
        let again = verify_bundle(&bundle.to_json(), None, &keys).expect("accepted again");
        assert_eq!(again.entries, verified.entries);
    }
    let stranger = VerifierKey::parse(STRANGER).expect("spec key");
    assert!(verify_bundle(text, None, std::slice::from_ref(&stranger)).is_err());
});
