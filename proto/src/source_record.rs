//! What a mapped entry came from: the source format, the source's own event id, and the SHA-256
//! of the original record's bytes (optionally the bytes), so the ledger can prove the record a
//! SIEM feed or identity system sent, not only what idledger made of it. Part of the leaf from
//! version 2 on (docs/FORMAT.md); never part of what deduplicates an event, so the same record
//! delivered raw and in a CloudEvents envelope lands once.

use bincode::{Decode, Encode};
use serde::{Serialize, Serializer};

/// The format a record was read as. The bincode variant index is part of the leaf format: new
/// formats are only ever appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub enum RecordFormat {
    Ocsf,
    SecEvent,
    CloudTrail,
    Okta,
    Entra,
    Github,
    Vault,
}

impl RecordFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Ocsf => "ocsf",
            RecordFormat::SecEvent => "secevent",
            RecordFormat::CloudTrail => "cloudtrail",
            RecordFormat::Okta => "okta",
            RecordFormat::Entra => "entra",
            RecordFormat::Github => "github",
            RecordFormat::Vault => "vault",
        }
    }
}

impl Serialize for RecordFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What is kept of the record's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "kept", rename_all = "snake_case")]
pub enum Original {
    /// Not kept (the topic does not keep originals): the hash alone identifies the record.
    NotKept,
    /// The record's bytes, exactly as they were inside the message.
    Kept {
        #[serde(serialize_with = "serialize_lossy")]
        bytes: Vec<u8>,
    },
    /// The topic keeps originals, but this record holds (or may hold) secret material by the
    /// rule for kept bytes (docs/EVENTS.md): only the hash is kept.
    Redacted,
    /// The topic keeps originals, but with this record's bytes the leaf would be longer than a
    /// tlog-tiles entry can be (`entry::MAX_TILED_LEAF_BYTES`): only the hash is kept.
    TooLarge,
}

fn serialize_lossy<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

/// Whether a signed record (a JWS-signed Security Event Token) was verified, and by which key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "signature", rename_all = "snake_case")]
pub enum RecordSignature {
    /// The record carries no signature.
    Unsigned,
    /// Signed, but no keys were configured to verify it with: read unverified.
    NotVerified,
    /// Signed and verified with the configured key `key_id`: the JWKS `kid`, or the RFC 7638
    /// thumbprint of a key without one (stable however the key set is reordered).
    Verified { key_id: String },
}

/// The CloudEvents envelope a record arrived in.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct RecordEnvelope {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: Option<String>,
}

/// The provenance of a mapped entry.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct SourceRecord {
    pub format: RecordFormat,
    /// The source's own id of the record.
    pub event_id: String,
    /// Where the record is inside its Kafka message (RFC 6901 JSON pointer; empty when the
    /// message is the record).
    pub pointer: String,
    /// SHA-256 of the record's bytes as they were inside the message.
    #[serde(serialize_with = "serialize_hash")]
    pub sha256: [u8; 32],
    pub original: Original,
    pub signature: RecordSignature,
    pub envelope: Option<RecordEnvelope>,
}

fn serialize_hash<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    crate::hash::serialize_sha256_hex(h, s)
}
