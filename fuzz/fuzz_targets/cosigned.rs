//! Fuzz target: a cosigned checkpoint note (from the input) checked against a fixed policy, and
//! a policy file (from the input) read: neither panics, and a note is never accepted, since no
//! input can carry the fixed keys' signatures.
#![no_main]
use std::sync::OnceLock;

fn policy() -> &'static idledger_proto::witness_policy::Policy {
    static POLICY: OnceLock<idledger_proto::witness_policy::Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let log = idledger_proto::note::NoteSigner::new(
            "log.example/a",
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        )
        .expect("log key");
        let witness = idledger_proto::cosignature::CosignerKey::new(
            "witness.example/w",
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
        )
        .expect("witness key");
        let text = format!(
            "log {}\nwitness w {}\nquorum w\n",
            log.verifier(),
            witness
        );
        idledger_proto::witness_policy::Policy::parse(&text).expect("policy")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(idledger_proto::cosigned::verify_cosigned(text, policy()).is_err());
        let _ = idledger_proto::witness_policy::Policy::parse(text);
    }
});
