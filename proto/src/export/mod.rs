//! The export stream (docs/EXPORT.md): lines a SIEM can ingest, each entry line carrying what
//! an auditor needs to prove it came from the signed log, and the offline check of such a
//! stream (`verify_export`), with the verifier keys alone.
//!
//! Entry lines come in three record formats (`RecordFormat`): `native` JSON lines, `ocsf`
//! (each entry an OCSF 1.9.0-dev IAM event with its integrity in the `record_integrity`
//! profile, `ocsf`) and `cef` (ArcSight Common Event Format, `cef`). Native and OCSF streams
//! share the native start and checkpoint lines, each a JSON object with a `kind`:
//! - `start`: the stream's origin, the index it starts at, and the roots of the perfect subtrees
//!   of the tree before it (its frontier), so the entries that follow can be hashed onto it;
//! - `entry`: index, leaf hash, the leaf bytes (base64) and the entry as JSON, and with proofs
//!   an inclusion proof against a checkpoint the stream carries;
//! - `checkpoint`: a signed checkpoint note whose size is where the entries before it end.
//!
//! A CEF stream has CEF start and checkpoint lines of its own carrying the same values.
//!
//! A contiguous stream is checked by rebuilding the tree: the frontier and the leaves up to each
//! checkpoint must hash to its signed root, so a changed, dropped, reordered or inserted entry
//! cannot pass; the index and chain link of each entry name where it happened. A filtered stream
//! (or a SIEM extract of some of its lines) is checked line by line through each entry's proof.
//! Every OCSF or CEF record is also rendered again from its leaf and must equal what it shows.

mod cef;
mod describe;
mod ocsf;
mod read;
mod strict_json;
mod verify;

#[cfg(test)]
mod ocsf_schema_tests;
#[cfg(test)]
mod tests;

pub use cef::parse::{CefError, CefLine, parse_cef};
pub use cef::{
    CEF_CHECKPOINT_CLASS, CEF_PRODUCT, CEF_START_CLASS, CEF_VENDOR, escape_header_into,
    escape_value_into, write_cef_checkpoint, write_cef_entry, write_cef_start,
};
pub use ocsf::{LEAF_SERIALIZATION, RECORD_INTEGRITY_PROFILE, write_ocsf_entry};
pub use verify::{verify_export, verify_export_witnessed};

use crate::entry::Entry;
use crate::hash::Hash;
use crate::view::EntryView;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `format` of a stream's start line.
pub const EXPORT_FORMAT: &str = "idledger-export/v1";

/// The OCSF schema version OCSF records claim (`metadata.version`).
pub const OCSF_VERSION: &str = "1.9.0-dev";

/// This idledger's version, as OCSF `metadata.product.version` and the CEF Device Version.
pub const PRODUCER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One line of a native (or OCSF) export stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Start {
        format: String,
        origin: String,
        from: u64,
        /// Base64 roots of the perfect subtrees of the first `from` leaves, largest first.
        frontier: Vec<String>,
        /// Entries were left out by a filter: every entry line carries its own proof.
        #[serde(default)]
        filtered: bool,
    },
    Entry {
        index: u64,
        /// Base64 of the RFC 6962 leaf hash.
        leaf_hash: String,
        /// Base64 of the leaf's bytes.
        leaf: String,
        entry: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<LineProof>,
    },
    Checkpoint {
        size: u64,
        note: String,
    },
    /// Not part of the verifiable stream: the last record of a live follow the server cut off,
    /// telling its client where to ask again (docs/EXPORT.md). It vouches for nothing and
    /// `verify_export` passes over it.
    Resume {
        from: u64,
    },
}

/// An entry's inclusion proof against the checkpoint of `size` the stream carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineProof {
    pub size: u64,
    /// Base64 hashes of the audit path, the leaf's sibling first.
    pub path: Vec<String>,
}

/// What a verified export established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedExport {
    pub entries: u64,
    /// The sizes of the checkpoints that vouched for entries.
    pub checkpoints: Vec<u64>,
    /// Findings, each naming its line (1-based) and entry.
    pub findings: Vec<String>,
    /// The log the stream is of (its start line's, else its checkpoints'), if any line names it.
    pub origin: Option<String>,
    /// For a contiguous stream: the indexes it holds every entry of (from its start line's index
    /// to its last checkpoint's size), so that any entry dropped from it is a finding. `None`
    /// for a filtered stream or an extract, whose entries are each proven on their own: an
    /// entry left out of one cannot be told from an entry the filter left out.
    pub contiguous: Option<std::ops::Range<u64>>,
    /// With a witness policy: the sizes of the checkpoints the result rests on, each cosigned
    /// by witnesses meeting the policy's quorum.
    pub witnessed: Vec<u64>,
}

impl VerifiedExport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty() && self.entries > 0
    }
}

/// The JSON an entry line shows for a leaf: the decoded entry, as serde writes it.
pub fn entry_json(entry: &Entry) -> serde_json::Value {
    serde_json::to_value(entry).unwrap_or(serde_json::Value::Null)
}

/// How entry lines are written: the record format a SIEM ingests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RecordFormat {
    /// JSON lines with `kind` (`entry`): the entry as idledger shows it.
    #[default]
    Native,
    /// OCSF 1.9.0-dev events of the IAM category, start and checkpoint lines native.
    Ocsf,
    /// ArcSight Common Event Format lines, start and checkpoint lines too.
    Cef,
}

impl RecordFormat {
    pub const ALL: [RecordFormat; 3] =
        [RecordFormat::Native, RecordFormat::Ocsf, RecordFormat::Cef];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Native => "native",
            RecordFormat::Ocsf => "ocsf",
            RecordFormat::Cef => "cef",
        }
    }
}

impl fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record format name that is none of `native`, `ocsf`, `cef`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format `{0}`: expected native, ocsf or cef")]
pub struct UnknownRecordFormat(pub String);

impl std::str::FromStr for RecordFormat {
    type Err = UnknownRecordFormat;

    fn from_str(text: &str) -> Result<RecordFormat, UnknownRecordFormat> {
        RecordFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| UnknownRecordFormat(text.to_owned()))
    }
}

/// What every entry record carries besides the entry: the log, the index, the leaf bytes and
/// their RFC 6962 hash, and with proofs the inclusion proof.
#[derive(Clone, Copy, Debug)]
pub struct EntryRecord<'a> {
    /// The log's origin (its checkpoints' first line).
    pub origin: &'a str,
    pub index: u64,
    /// The leaf bytes (docs/FORMAT.md).
    pub leaf: &'a [u8],
    /// `SHA-256(0x00 || leaf)`.
    pub leaf_hash: Hash,
    pub proof: Option<&'a LineProof>,
}

/// Writes a native entry line (one JSON object, no newline) to `buf`: the bytes
/// `Line::Entry` serializes to, written member by member straight from the leaf's view
/// (`view::write_entry_json`) rather than through a JSON value.
pub fn write_native_entry(buf: &mut Vec<u8>, record: &EntryRecord<'_>, entry: &EntryView<'_>) {
    buf.extend_from_slice(br#"{"kind":"entry","index":"#);
    crate::view::push_u64(buf, record.index);
    buf.extend_from_slice(br#","leaf_hash":""#);
    push_base64(buf, &record.leaf_hash.0);
    buf.extend_from_slice(br#"","leaf":""#);
    push_base64(buf, record.leaf);
    buf.extend_from_slice(br#"","entry":"#);
    crate::view::write_entry_json(buf, entry);
    if let Some(proof) = record.proof {
        buf.extend_from_slice(br#","proof":"#);
        // A size and base64 strings: serializing cannot fail.
        let _ = serde_json::to_writer(&mut *buf, proof);
    }
    buf.push(b'}');
}

/// Appends the standard base64 of `bytes` (with the CPU's vector instructions where it has
/// them: a leaf's base64 is a fifth of a native line's cost without them).
fn push_base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    base64_simd::STANDARD.encode_append(bytes, buf);
}

/// Writes an entry line of `format` (no newline) to `buf`.
pub fn write_entry(
    buf: &mut Vec<u8>,
    format: RecordFormat,
    record: &EntryRecord<'_>,
    entry: &EntryView<'_>,
) {
    match format {
        RecordFormat::Native => write_native_entry(buf, record, entry),
        RecordFormat::Ocsf => write_ocsf_entry(buf, record, &entry.to_entry()),
        RecordFormat::Cef => write_cef_entry(buf, record, &entry.to_entry()),
    }
}
