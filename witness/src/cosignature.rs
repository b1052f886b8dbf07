//! c2sp.org/tlog-cosignature `cosignature/v1`: the witness's Ed25519 key, its key ID and
//! verifier key (signature type 0x04), the signed message, and the signature line
//! `— <name> base64(key ID || u64 BE timestamp || Ed25519 signature)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use idledger_proto::hash::sha256;
use std::fmt;

/// The signature type byte of Ed25519 cosignature/v1 keys, in key IDs and verifier keys.
pub const COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message (domain separation).
pub const HEADER: &str = "cosignature/v1";
const SIG_PREFIX: &str = "\u{2014} ";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    #[error("witness key name: {0}")]
    Name(#[from] idledger_proto::note::NoteError),
    #[error("malformed cosigner verifier key: {0}")]
    MalformedKey(&'static str),
    #[error("malformed cosignature line: {0}")]
    MalformedLine(&'static str),
    #[error("the cosignature is by another key (name or key ID differ)")]
    OtherKey,
    #[error("the cosignature does not verify")]
    Invalid,
    #[error("timestamp {0} is zero or above 2^63 - 1")]
    Timestamp(u64),
}

/// Key ID: the first 4 bytes of SHA-256(name || 0x0A || 0x04 || 32-byte public key).
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut material = Vec::with_capacity(name.len() + 34);
    material.extend_from_slice(name.as_bytes());
    material.push(b'\n');
    material.push(COSIGNATURE_V1);
    material.extend_from_slice(key.as_bytes());
    let h = sha256(&material);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// The message a cosignature/v1 signs: the header line, `time <timestamp>`, then the whole
/// checkpoint note text (ending in its newline, without signature lines).
pub fn signed_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{HEADER}\ntime {timestamp}\n{checkpoint_text}")
}

/// Names follow signed-note's rules and keys must not be of small order; `proto` holds those
/// rules for log keys, so a name and key are checked by building a (discarded) log verifier.
fn check(name: &str, key: &VerifyingKey) -> Result<(), CosignError> {
    idledger_proto::note::VerifierKey::new(name, *key)?;
    Ok(())
}

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
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(CosignError::Timestamp(timestamp));
        }
        let signature = self
            .key
            .sign(signed_message(checkpoint_text, timestamp).as_bytes());
        let mut blob = Vec::with_capacity(76);
        blob.extend_from_slice(&self.verifier.id);
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{SIG_PREFIX}{} {}",
            self.verifier.name,
            B64.encode(blob)
        ))
    }
}

/// A cosigner's public key with its name: what a client of the witness trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({self})")
    }
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignerKey, CosignError> {
        check(name, &key)?;
        Ok(CosignerKey {
            name: name.to_owned(),
            id: key_id(name, &key),
            key,
        })
    }

    /// Parses a verifier key `<name>+<8 hex digits of key ID>+<base64(0x04 || key)>`.
    pub fn parse(text: &str) -> Result<CosignerKey, CosignError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CosignError::MalformedKey(
                "expected <name>+<hex key id>+<base64 key>",
            ));
        };
        let raw = B64
            .decode(b64)
            .map_err(|_| CosignError::MalformedKey("the key is not standard base64"))?;
        let (&[COSIGNATURE_V1], bytes) = raw.split_at(raw.len().min(1)) else {
            return Err(CosignError::MalformedKey(
                "the key is not of type 0x04 (cosignature/v1)",
            ));
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CosignError::MalformedKey("the key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| CosignError::MalformedKey("the key is not an Ed25519 point"))?;
        let parsed = CosignerKey::new(name, key)?;
        if hex::encode(parsed.id) != id {
            return Err(CosignError::MalformedKey(
                "the key ID does not match the name and key",
            ));
        }
        Ok(parsed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// Verifies a cosignature line (with or without its newline) over a checkpoint note text,
    /// strictly (RFC 8032), and returns its timestamp.
    pub fn verify(&self, checkpoint_text: &str, line: &str) -> Result<u64, CosignError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let (name, b64) = line
            .strip_prefix(SIG_PREFIX)
            .and_then(|rest| rest.split_once(' '))
            .ok_or(CosignError::MalformedLine("not `\u{2014} <name> <base64>`"))?;
        let blob = B64
            .decode(b64)
            .map_err(|_| CosignError::MalformedLine("the signature is not standard base64"))?;
        if blob.len() != 76 {
            return Err(CosignError::MalformedLine(
                "not 76 bytes (key ID, timestamp, signature)",
            ));
        }
        if name != self.name || blob[..4] != self.id {
            return Err(CosignError::OtherKey);
        }
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&blob[4..12]);
        let timestamp = u64::from_be_bytes(stamp);
        if timestamp == 0 || timestamp > i64::MAX as u64 {
            return Err(CosignError::Timestamp(timestamp));
        }
        let signature = Signature::from_slice(&blob[12..]).map_err(|_| CosignError::Invalid)?;
        self.key
            .verify_strict(
                signed_message(checkpoint_text, timestamp).as_bytes(),
                &signature,
            )
            .map_err(|_| CosignError::Invalid)?;
        Ok(timestamp)
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(COSIGNATURE_V1);
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
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
