//! Rejections: why an input was not accepted as an event, and what of its bytes is kept. A
//! rejection is recorded in the ledger as a quarantined entry, so it is part of the leaf format.

use crate::event::Event;
use crate::hash::sha256;
use bincode::{Decode, Encode};
use serde::Serialize;
use std::fmt;

/// How many raw bytes of a rejected input are kept in its quarantined entry.
pub const MAX_KEPT_RAW_BYTES: usize = 64 * 1024;
/// How much of an offending value a reason quotes.
pub const MAX_QUOTED_CHARS: usize = 128;

/// The precise reason an input was rejected: which field, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum RejectReason {
    /// The payload had no bytes.
    EmptyPayload,
    /// A Kafka tombstone: a message with no payload at all.
    Tombstone,
    /// The payload is larger than the limit.
    Oversized { limit: u64, found: u64 },
    /// The payload is not UTF-8; `valid_up_to` bytes were.
    NotUtf8 { valid_up_to: u64 },
    /// The payload is not JSON.
    NotJson {
        line: u64,
        column: u64,
        message: String,
    },
    /// `type` is not one of the known event types.
    UnknownType { found: String },
    /// A field required (for this type) is absent or null.
    MissingField { field: String },
    /// A field has the wrong JSON type or an unknown enumerated value.
    WrongType { field: String, message: String },
    /// A field that is not part of the schema.
    UnknownField { field: String },
    /// A time that does not parse as RFC 3339 or is impossible.
    InvalidTime {
        field: String,
        found: String,
        message: String,
    },
    /// A string longer than its limit, in characters (Unicode scalar values). Entries written
    /// before lengths counted characters hold bytes here (docs/EVENTS.md, CHANGELOG.md).
    FieldTooLong {
        field: String,
        limit: u64,
        found: u64,
    },
    /// A string that must not be empty.
    EmptyField { field: String },
    /// A credential fingerprint that is not `sha256:` and 64 hex digits.
    BadFingerprint { found: String },
    /// A value that is well-typed but not allowed (e.g. duplicate attribute, too many attributes).
    InvalidValue { field: String, message: String },
    /// The payload carries what looks like secret material; only its hash is kept.
    SecretMaterial { location: String },
    /// The same (source, id) was already recorded with different content at `first_index`.
    ConflictingDuplicate { first_index: u64 },
    /// A record that claims a source format (docs/FORMATS.md) but cannot be read as it: `field`
    /// (a JSON pointer into the record, or empty for the whole record) is missing or holds a value
    /// the format does not allow.
    FormatField {
        format: String,
        field: String,
        message: String,
    },
    /// Under `auto`, a record whose shape matches no format, or more than one (`matched`).
    UnrecognisedFormat { matched: Vec<String> },
}

impl RejectReason {
    /// A short stable name for the class, used in metrics and reports.
    pub fn class(&self) -> &'static str {
        match self {
            RejectReason::EmptyPayload => "empty_payload",
            RejectReason::Tombstone => "tombstone",
            RejectReason::Oversized { .. } => "oversized",
            RejectReason::NotUtf8 { .. } => "not_utf8",
            RejectReason::NotJson { .. } => "not_json",
            RejectReason::UnknownType { .. } => "unknown_type",
            RejectReason::MissingField { .. } => "missing_field",
            RejectReason::WrongType { .. } => "wrong_type",
            RejectReason::UnknownField { .. } => "unknown_field",
            RejectReason::InvalidTime { .. } => "invalid_time",
            RejectReason::FieldTooLong { .. } => "field_too_long",
            RejectReason::EmptyField { .. } => "empty_field",
            RejectReason::BadFingerprint { .. } => "bad_fingerprint",
            RejectReason::InvalidValue { .. } => "invalid_value",
            RejectReason::SecretMaterial { .. } => "secret_material",
            RejectReason::ConflictingDuplicate { .. } => "conflicting_duplicate",
            RejectReason::FormatField { .. } => "format_field",
            RejectReason::UnrecognisedFormat { .. } => "unrecognised_format",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::EmptyPayload => write!(f, "empty payload: expected a JSON event"),
            RejectReason::Tombstone => write!(f, "tombstone: message has no payload"),
            RejectReason::Oversized { limit, found } => {
                write!(f, "payload is {found} bytes; the limit is {limit}")
            }
            RejectReason::NotUtf8 { valid_up_to } => {
                write!(
                    f,
                    "payload is not UTF-8: invalid byte at offset {valid_up_to}"
                )
            }
            RejectReason::NotJson {
                line,
                column,
                message,
            } => {
                write!(
                    f,
                    "payload is not JSON: {message} at line {line} column {column}"
                )
            }
            RejectReason::UnknownType { found } => {
                write!(
                    f,
                    "field `type`: unknown event type `{found}`; see docs/EVENTS.md"
                )
            }
            RejectReason::MissingField { field } => write!(f, "field `{field}` is required"),
            RejectReason::WrongType { field, message } => write!(f, "field `{field}`: {message}"),
            RejectReason::UnknownField { field } => {
                write!(f, "unknown field `{field}`; put extra data in `attributes`")
            }
            RejectReason::InvalidTime {
                field,
                found,
                message,
            } => {
                write!(
                    f,
                    "field `{field}`: `{found}` is not a valid time: {message}"
                )
            }
            RejectReason::FieldTooLong {
                field,
                limit,
                found,
            } => {
                write!(
                    f,
                    "field `{field}` is {found} characters; the limit is {limit}"
                )
            }
            RejectReason::EmptyField { field } => write!(f, "field `{field}` must not be empty"),
            RejectReason::BadFingerprint { found } => write!(
                f,
                "field `credential.fingerprint`: expected `sha256:` and 64 hex digits, found `{found}`"
            ),
            RejectReason::InvalidValue { field, message } => {
                write!(f, "field `{field}`: {message}")
            }
            RejectReason::SecretMaterial { location } => write!(
                f,
                "secret material at `{location}`: secret values are never stored, send a sha256 fingerprint"
            ),
            RejectReason::ConflictingDuplicate { first_index } => write!(
                f,
                "same source and id as entry {first_index} but different content"
            ),
            RejectReason::FormatField {
                format,
                field,
                message,
            } if field.is_empty() => write!(f, "not a {format} record: {message}"),
            RejectReason::FormatField {
                format,
                field,
                message,
            } => write!(f, "{format} record, field `{field}`: {message}"),
            RejectReason::UnrecognisedFormat { matched } if matched.is_empty() => write!(
                f,
                "the record matches no input format's shape (docs/FORMATS.md, `auto`)"
            ),
            RejectReason::UnrecognisedFormat { matched } => write!(
                f,
                "the record matches the shapes of several input formats ({}); set the topic's format",
                matched.join(", ")
            ),
        }
    }
}

/// What is kept of a rejected input.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[bincode(decode_context = "crate::leaf_version::LeafVersion")]
#[serde(tag = "kept", rename_all = "snake_case")]
pub enum KeptPayload {
    /// The raw bytes (the first `MAX_KEPT_RAW_BYTES` of them), the full length and the SHA-256
    /// of all of them.
    Raw {
        #[serde(serialize_with = "serialize_lossy")]
        bytes: Vec<u8>,
        total_len: u64,
        #[serde(serialize_with = "serialize_hash")]
        sha256: [u8; 32],
    },
    /// Only the length and SHA-256 of the input: it carried a secret.
    Redacted {
        total_len: u64,
        #[serde(serialize_with = "serialize_hash")]
        sha256: [u8; 32],
    },
    /// The decoded event (a conflicting duplicate is a valid event whose id was reused).
    Event(Box<Event>),
    /// Nothing: tombstones have no payload.
    Nothing,
}

fn serialize_lossy<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

fn serialize_hash<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    crate::hash::serialize_hex(h, s)
}

impl KeptPayload {
    pub fn raw(input: &[u8]) -> KeptPayload {
        KeptPayload::Raw {
            bytes: input[..input.len().min(MAX_KEPT_RAW_BYTES)].to_vec(),
            total_len: input.len() as u64,
            sha256: sha256(input).0,
        }
    }

    pub fn redacted(input: &[u8]) -> KeptPayload {
        KeptPayload::Redacted {
            total_len: input.len() as u64,
            sha256: sha256(input).0,
        }
    }
}

/// A rejected input: the reason and what is kept of it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[bincode(decode_context = "crate::leaf_version::LeafVersion")]
pub struct Rejection {
    pub reason: RejectReason,
    pub payload: KeptPayload,
}

impl Rejection {
    pub fn tombstone() -> Rejection {
        Rejection {
            reason: RejectReason::Tombstone,
            payload: KeptPayload::Nothing,
        }
    }
}

/// Shortens an offending value for quoting in a reason.
pub fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        s.push('…');
        s
    }
}
