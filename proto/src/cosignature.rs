//! c2sp.org/tlog-cosignature `cosignature/v1`, the verifier's side: a cosigner's key ID and
//! verifier key (signature type 0x04), the signed message, and the check of a signature line
//! `— <name> base64(key ID || u64 BE timestamp || Ed25519 signature)`. The witness crate signs
//! with these same definitions; an auditor needs only this crate to check a cosignature.

use crate::hash::sha256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, VerifyingKey};
use std::fmt;

/// The signature type byte of Ed25519 cosignature/v1 keys, in key IDs and verifier keys.
pub const COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message (domain separation).
pub const HEADER: &str = "cosignature/v1";
/// Bytes of a decoded cosignature/v1 payload: key ID, timestamp, signature.
pub const PAYLOAD_BYTES: usize = 4 + 8 + 64;
const SIG_PREFIX: &str = "\u{2014} ";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    #[error("witness key name: {0}")]
    Name(#[from] crate::note::NoteError),
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

/// Whether a timestamp is one the protocol allows: 1 to 2^63 - 1.
pub fn valid_timestamp(timestamp: u64) -> bool {
    timestamp != 0 && timestamp <= i64::MAX as u64
}

/// The name and decoded payload of a signature line `— <name> <base64>` (with or without its
/// newline), if it is one.
pub fn split_line(line: &str) -> Option<(&str, Vec<u8>)> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let (name, b64) = line.strip_prefix(SIG_PREFIX)?.split_once(' ')?;
    Some((name, B64.decode(b64).ok()?))
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
    /// Names follow signed-note's rules and keys must not be of small order: the rules of log
    /// keys, checked by building a (discarded) log verifier key.
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignerKey, CosignError> {
        crate::note::VerifierKey::new(name, key)?;
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

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether a signature line's name and key ID are this key's.
    pub fn is_claimed_by(&self, name: &str, payload: &[u8]) -> bool {
        name == self.name && payload.get(..4) == Some(&self.id[..])
    }

    /// Verifies a cosignature line (with or without its newline) over a checkpoint note text,
    /// strictly (RFC 8032), and returns its timestamp.
    pub fn verify(&self, checkpoint_text: &str, line: &str) -> Result<u64, CosignError> {
        let (name, blob) = split_line(line).ok_or(CosignError::MalformedLine(
            "not `\u{2014} <name> <standard base64>`",
        ))?;
        if blob.len() != PAYLOAD_BYTES {
            return Err(CosignError::MalformedLine(
                "not 76 bytes (key ID, timestamp, signature)",
            ));
        }
        if !self.is_claimed_by(name, &blob) {
            return Err(CosignError::OtherKey);
        }
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&blob[4..12]);
        let timestamp = u64::from_be_bytes(stamp);
        if !valid_timestamp(timestamp) {
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
