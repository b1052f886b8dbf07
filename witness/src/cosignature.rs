//! c2sp.org/tlog-cosignature `cosignature/v1`, the signer's side: the witness's Ed25519 key and
//! the signature line `— <name> base64(key ID || u64 BE timestamp || Ed25519 signature)`. The
//! key ID, verifier key, signed message and verification are `idledger_proto::cosignature`, so
//! an auditor checks cosignatures with proto alone; they are re-exported here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
pub use idledger_proto::cosignature::{
    COSIGNATURE_V1, CosignError, CosignerKey, HEADER, key_id, signed_message, valid_timestamp,
};
use std::fmt;

const SIG_PREFIX: &str = "\u{2014} ";

/// The witness's private key and name.
pub struct WitnessKey {
    verifier: CosignerKey,
    key: SigningKey,
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({})", self.verifier)
    }
}

impl WitnessKey {
    pub fn new(name: &str, key: SigningKey) -> Result<WitnessKey, CosignError> {
        Ok(WitnessKey {
            verifier: CosignerKey::new(name, key.verifying_key())?,
            key,
        })
    }

    pub fn verifier(&self) -> &CosignerKey {
        &self.verifier
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The cosignature line (without its newline) for a checkpoint note text at `timestamp`
    /// (POSIX seconds, 1 to 2^63 - 1: the witness protocol forbids a zero timestamp).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<String, CosignError> {
        if !valid_timestamp(timestamp) {
            return Err(CosignError::Timestamp(timestamp));
        }
        let signature = self
            .key
            .sign(signed_message(checkpoint_text, timestamp).as_bytes());
        let mut blob = Vec::with_capacity(76);
        blob.extend_from_slice(&self.verifier.id());
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{SIG_PREFIX}{} {}",
            self.verifier.name(),
            B64.encode(blob)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of docs/WITNESS.md.
    const DOC: &str = include_str!("../../docs/WITNESS.md");
    const VECTOR_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const VECTOR_TIME: u64 = 1679315147;

    fn vector_key() -> WitnessKey {
        WitnessKey::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).expect("valid")
    }

    #[test]
    fn the_documented_test_vector_holds() {
        let key = vector_key();
        let line = key.cosign(VECTOR_TEXT, VECTOR_TIME).expect("signs");
        let vkey = key.verifier().to_string();
        assert!(
            DOC.contains(&format!("\n    {vkey}\n")),
            "vkey {vkey} not in docs/WITNESS.md"
        );
        assert!(
            DOC.contains(&format!("\n    {line}\n")),
            "line {line} not in docs/WITNESS.md"
        );
        assert!(
            DOC.contains(
                "    cosignature/v1\n    time 1679315147\n    example.com/behind-the-sofa\n"
            ),
            "the signed message is not in docs/WITNESS.md"
        );
        assert_eq!(CosignerKey::parse(&vkey), Ok(key.verifier().clone()));
        assert_eq!(key.verifier().verify(VECTOR_TEXT, &line), Ok(VECTOR_TIME));
    }

    #[test]
    fn a_cosignature_verifies_only_for_its_text_time_and_key() {
        let key = vector_key();
        let line = key.cosign(VECTOR_TEXT, VECTOR_TIME).expect("signs");
        let other =
            WitnessKey::new("witness.example/w1", SigningKey::from_bytes(&[8; 32])).expect("valid");
        assert_eq!(
            other.verifier().verify(VECTOR_TEXT, &line),
            Err(CosignError::OtherKey)
        );
        let changed = VECTOR_TEXT.replace("20852163", "20852164");
        assert_eq!(
            key.verifier().verify(&changed, &line),
            Err(CosignError::Invalid)
        );
        // Another timestamp in the blob: the signature covers the time line.
        let mut blob = B64
            .decode(line.rsplit(' ').next().expect("payload"))
            .expect("base64");
        blob[11] ^= 1;
        let moved = format!("\u{2014} witness.example/w1 {}", B64.encode(&blob));
        assert_eq!(
            key.verifier().verify(VECTOR_TEXT, &moved),
            Err(CosignError::Invalid)
        );
        assert_eq!(key.cosign(VECTOR_TEXT, 0), Err(CosignError::Timestamp(0)));
    }

    #[test]
    fn the_key_id_uses_type_0x04_not_the_log_key_type() {
        let key = vector_key();
        let log = idledger_proto::note::VerifierKey::new(
            "witness.example/w1",
            key.signing_key().verifying_key(),
        )
        .expect("valid");
        assert_ne!(log.id(), key.verifier().id());
        assert!(
            CosignerKey::parse(&log.to_string()).is_err(),
            "a 0x01 key is not a cosigner key"
        );
    }
}
