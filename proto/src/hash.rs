//! SHA-256 hashes and the RFC 6962 leaf and interior-node hash functions.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest. Every hash in the ledger (leaves, Merkle nodes, roots, content hashes) is one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as the "previous leaf hash" of entry 0.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        self.hex().as_str().to_owned()
    }

    /// The lowercase hex text, on the stack (exports write several per entry).
    pub fn hex(&self) -> HexText {
        let mut digits = [0u8; 64];
        // 64 bytes hold exactly the hex of 32.
        let _ = hex::encode_to_slice(self.0, &mut digits);
        HexText(digits)
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Parses standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Option<Hash> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?;
        Hash::from_slice(&bytes)
    }
}

/// A hash's 64 lowercase hex digits (`Hash::hex`).
#[derive(Clone, Copy, Debug)]
pub struct HexText([u8; 64]);

impl HexText {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// Serializes 32 bytes as a hash's hex text (serde `serialize_with`).
pub fn serialize_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(Hash(*bytes).hex().as_str())
}

/// Serializes 32 bytes as `sha256:` and the hex text (content fingerprints).
pub fn serialize_sha256_hex<S: serde::Serializer>(
    bytes: &[u8; 32],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut text = [0u8; 71];
    text[..7].copy_from_slice(b"sha256:");
    text[7..].copy_from_slice(&Hash(*bytes).hex().0);
    s.serialize_str(std::str::from_utf8(&text).unwrap_or(""))
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Plain SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

/// RFC 6962 §2.1 leaf hash: `SHA-256(0x00 || leaf_bytes)`.
pub fn leaf_hash(leaf_bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf_bytes);
    Hash(hasher.finalize().into())
}

/// RFC 6962 §2.1 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buffer = [0u8; 65];
    buffer[0] = 0x01;
    buffer[1..33].copy_from_slice(&left.0);
    buffer[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buffer).into())
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Hash {
    sha256(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6962_reference_hashes() {
        // Values from the Certificate Transparency reference implementation's Merkle tests
        // (empty tree and the leaf hash of the empty leaf).
        let cases: &[(&str, Hash, &str)] = &[
            (
                "empty root",
                empty_root(),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "leaf hash of empty leaf",
                leaf_hash(b""),
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got.to_hex(), *want, "{name}");
        }
    }

    #[test]
    fn base64_round_trip_and_length_check() {
        let h = sha256(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()), Some(h));
        assert_eq!(Hash::from_base64("AAAA"), None);
        assert_eq!(Hash::from_base64("not base64!"), None);
    }
}
