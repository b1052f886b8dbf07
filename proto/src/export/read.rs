//! Reads one line of an export stream, whatever its format, into what the verifier checks: a
//! JSON object with a `kind` is a native line, one with a `class_uid` an OCSF record, a line
//! starting `CEF:` a CEF line. An entry line gives its index, leaf, leaf hash, proof and (OCSF,
//! CEF) origin, and what it shows, which the verifier holds against its leaf.

use super::cef::parse::{CefLine, parse_cef};
use super::cef::{
    CEF_CHECKPOINT_CLASS, CEF_START_CLASS, write_cef_checkpoint_as, write_cef_start_as,
};
use super::{Line, LineProof, RecordFormat, strict_json};
use crate::hash::Hash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize as _;
use serde_json::Value;

/// One line, read.
#[derive(Debug)]
pub(super) enum ReadLine {
    Start(Start),
    Entry(Box<EntryLine>),
    Checkpoint {
        size: u64,
        note: String,
    },
    /// A follow's resume record: no part of the stream.
    Resume,
}

#[derive(Debug)]
pub(super) struct Start {
    pub format: String,
    pub origin: String,
    pub from: u64,
    /// Base64 roots of the perfect subtrees of the first `from` leaves.
    pub frontier: Vec<String>,
    pub filtered: bool,
}

/// An entry line: what it claims about the log, and what it shows.
#[derive(Debug)]
pub(super) struct EntryLine {
    pub format: RecordFormat,
    pub index: u64,
    /// Base64 of the stated leaf hash.
    pub leaf_hash: String,
    /// Base64 of the leaf.
    pub leaf: String,
    pub proof: Option<LineProof>,
    /// The log the record names (OCSF `chain_uid`, CEF `cs1`); native lines name none.
    pub origin: Option<String>,
    pub shown: Shown,
}

/// What an entry line shows of its entry.
#[derive(Debug)]
pub(super) enum Shown {
    /// The entry as JSON.
    Native(Value),
    /// The OCSF record, and the idledger version it says wrote it.
    Ocsf {
        record: Value,
        producer: String,
    },
    Cef(CefLine),
}

/// Reads a line; the error says what the line is not.
pub(super) fn read_line(raw: &str) -> Result<ReadLine, String> {
    if raw.starts_with("CEF:") {
        return read_cef(raw);
    }
    // A line is read only if every JSON reader reads it the same way, checked before anything
    // parses it (so serde_json's raw-value key never reaches its parser). Text that is not JSON
    // at all goes on, to be told what it is not.
    if let Err(strict_json::Unread::Ambiguous(why)) = strict_json::check(raw) {
        return Err(format!(
            "not an export line every JSON reader reads alike: {why}"
        ));
    }
    // An OCSF record is tried first when it starts as the writer writes one, so neither kind
    // of line is parsed twice in a stream idledger wrote.
    if raw.starts_with(r#"{"class_uid""#)
        && let Ok(record) = serde_json::from_str::<Value>(raw)
        && record.get("kind").is_none()
    {
        return read_ocsf(record);
    }
    let native_error = match serde_json::from_str::<Line>(raw) {
        Ok(line) => return Ok(read_native(line)),
        Err(e) => e,
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(record) if record.get("class_uid").is_some() && record.get("kind").is_none() => {
            read_ocsf(record)
        }
        Ok(Value::Object(o)) if o.contains_key("kind") => {
            Err(format!("not an export line: {native_error}"))
        }
        Ok(_) => Err("not an export line: expected a JSON object with `kind` (native) or `class_uid` (OCSF), or a line starting `CEF:`".into()),
        Err(e) => Err(format!("not an export line: {e}")),
    }
}

fn read_native(line: Line) -> ReadLine {
    match line {
        Line::Start {
            format,
            origin,
            from,
            frontier,
            filtered,
        } => ReadLine::Start(Start {
            format,
            origin,
            from,
            frontier,
            filtered,
        }),
        Line::Entry {
            index,
            leaf_hash,
            leaf,
            entry,
            proof,
        } => ReadLine::Entry(Box::new(EntryLine {
            format: RecordFormat::Native,
            index,
            leaf_hash,
            leaf,
            proof,
            origin: None,
            shown: Shown::Native(entry),
        })),
        Line::Checkpoint { size, note } => ReadLine::Checkpoint { size, note },
        Line::Resume { .. } => ReadLine::Resume,
    }
}

/// An OCSF record: index, leaf and proof from `unmapped.idledger`, leaf hash and origin from
/// the first attestation.
fn read_ocsf(record: Value) -> Result<ReadLine, String> {
    let text = |pointer: &str| -> Result<String, String> {
        record
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "an OCSF record without the text `{pointer}`: not an idledger export record"
                )
            })
    };
    let index = record
        .pointer("/unmapped/idledger/index")
        .and_then(Value::as_u64)
        .ok_or("an OCSF record without the integer `/unmapped/idledger/index`: not an idledger export record")?;
    let leaf = text("/unmapped/idledger/leaf")?;
    let leaf_hash = text("/attestation_list/0/fingerprint/value")?;
    let origin = text("/attestation_list/0/chain_uid")?;
    let producer = text("/metadata/product/version")?;
    let proof = match record.pointer("/unmapped/idledger/proof") {
        None => None,
        Some(p) => Some(LineProof::deserialize(p).map_err(|e| {
            format!("entry {index}: its `unmapped.idledger.proof` is not a proof: {e}")
        })?),
    };
    Ok(ReadLine::Entry(Box::new(EntryLine {
        format: RecordFormat::Ocsf,
        index,
        leaf_hash,
        leaf,
        proof,
        origin: Some(origin),
        shown: Shown::Ocsf { record, producer },
    })))
}

fn read_cef(raw: &str) -> Result<ReadLine, String> {
    let line = parse_cef(raw).map_err(|e| format!("not a CEF line: {e}"))?;
    let field = |key: &str, label: &str| -> Result<&str, String> {
        line.get(key)
            .ok_or_else(|| format!("a CEF `{}` line without `{key}` ({label})", line.class_id))
    };
    let number = |key: &str, label: &str| -> Result<u64, String> {
        let text = field(key, label)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{key}` ({label}) is `{text}`, not a decimal integer"
            ));
        }
        text.parse()
            .map_err(|_| format!("`{key}` ({label}) is `{text}`, not a 64-bit integer"))
    };
    match line.class_id.as_str() {
        CEF_START_CLASS => {
            let origin = field("cs1", "origin")?.to_owned();
            let from = number("cn1", "from")?;
            let frontier_text = field("cs2", "frontier")?;
            let frontier: Vec<String> = if frontier_text.is_empty() {
                Vec::new()
            } else {
                frontier_text.split(',').map(str::to_owned).collect()
            };
            let hashes: Vec<Hash> = frontier
                .iter()
                .map(|h| Hash::from_base64(h))
                .collect::<Option<_>>()
                .ok_or("the CEF start line's frontier (`cs2`) is not base64 hashes")?;
            let filtered = match field("cs4", "filtered")? {
                "true" => true,
                "false" => false,
                other => return Err(format!("`cs4` (filtered) is `{other}`, not true or false")),
            };
            let format = field("cs3", "format")?.to_owned();
            let mut again = Vec::new();
            write_cef_start_as(
                &mut again,
                &origin,
                from,
                &hashes,
                filtered,
                &line.device_version,
            );
            same_as_written(&line, &again, "start")?;
            Ok(ReadLine::Start(Start {
                format,
                origin,
                from,
                frontier,
                filtered,
            }))
        }
        CEF_CHECKPOINT_CLASS => {
            let size = number("cn1", "size")?;
            let note = B64
                .decode(field("cs1", "note")?)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or("the CEF checkpoint line's note (`cs1`) is not base64 of text")?;
            let mut again = Vec::new();
            write_cef_checkpoint_as(&mut again, size, &note, &line.device_version);
            same_as_written(&line, &again, "checkpoint")?;
            Ok(ReadLine::Checkpoint { size, note })
        }
        _ => {
            let index = number("cn1", "index")?;
            let proof = match line.get("cs4") {
                None => None,
                Some(text) => Some(proof_from_text(text).ok_or_else(|| {
                    format!("entry {index}: its proof (`cs4`) is not `<size>:<base64 hash>,...`")
                })?),
            };
            let entry = EntryLine {
                format: RecordFormat::Cef,
                index,
                origin: Some(field("cs1", "origin")?.to_owned()),
                leaf_hash: field("cs2", "leaf hash")?.to_owned(),
                leaf: field("cs3", "leaf")?.to_owned(),
                proof,
                shown: Shown::Cef(line.clone()),
            };
            Ok(ReadLine::Entry(Box::new(entry)))
        }
    }
}

/// `<size>:<hash>,<hash>...` (no hashes after the colon for a tree of one leaf).
fn proof_from_text(text: &str) -> Option<LineProof> {
    let (size, path) = text.split_once(':')?;
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let path: Vec<String> = if path.is_empty() {
        Vec::new()
    } else {
        path.split(',').map(str::to_owned).collect()
    };
    if path.iter().any(String::is_empty) {
        return None;
    }
    Some(LineProof {
        size: size.parse().ok()?,
        path,
    })
}

/// A CEF start or checkpoint line must be exactly what idledger writes for its values.
fn same_as_written(shown: &CefLine, written: &[u8], what: &str) -> Result<(), String> {
    let written = std::str::from_utf8(written)
        .ok()
        .and_then(|text| parse_cef(text).ok());
    match written.as_ref().and_then(|w| cef_difference(shown, w)) {
        None if written.is_some() => Ok(()),
        None => Err(format!("the CEF {what} line cannot be written again")),
        Some(difference) => Err(format!(
            "the CEF {what} line is not as idledger writes one: {difference}"
        )),
    }
}

/// The first way a CEF line differs from the one idledger writes, if any: a header field, a
/// key it lacks, a key it adds, or a value.
pub(super) fn cef_difference(shown: &CefLine, expected: &CefLine) -> Option<String> {
    let header = [
        ("CEF version", &shown.version, &expected.version),
        ("Device Vendor", &shown.vendor, &expected.vendor),
        ("Device Product", &shown.product, &expected.product),
        (
            "Device Version",
            &shown.device_version,
            &expected.device_version,
        ),
        ("Device Event Class ID", &shown.class_id, &expected.class_id),
        ("Name", &shown.name, &expected.name),
        ("Severity", &shown.severity, &expected.severity),
    ];
    if let Some((name, _, _)) = header.iter().find(|(_, a, b)| a != b) {
        return Some(format!("its header's {name}"));
    }
    for (key, value) in &expected.extension {
        match shown.extension.get(key) {
            None => return Some(format!("it lacks `{key}`")),
            Some(v) if v != value => return Some(format!("its `{key}`")),
            Some(_) => {}
        }
    }
    shown
        .extension
        .keys()
        .find(|k| !expected.extension.contains_key(*k))
        .map(|k| format!("it adds `{k}`"))
}

/// The first JSON path at which `shown` differs from `expected`, if any.
pub(super) fn json_difference(shown: &Value, expected: &Value) -> Option<String> {
    fn walk(shown: &Value, expected: &Value, path: &mut String) -> Option<String> {
        match (shown, expected) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, want) in b {
                    let len = path.len();
                    path.push('/');
                    path.push_str(key);
                    let found = match a.get(key) {
                        None => Some(format!("it lacks `{path}`")),
                        Some(have) => walk(have, want, path),
                    };
                    path.truncate(len);
                    if found.is_some() {
                        return found;
                    }
                }
                a.keys()
                    .find(|k| !b.contains_key(*k))
                    .map(|k| format!("it adds `{path}/{k}`"))
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                a.iter().zip(b).enumerate().find_map(|(i, (have, want))| {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    let found = walk(have, want, path);
                    path.truncate(len);
                    found
                })
            }
            // Numbers by their text: serde_json holds -0.0 equal to 0.0.
            (Value::Number(a), Value::Number(b)) if a.to_string() == b.to_string() => None,
            (Value::Number(_), _) | (_, Value::Number(_)) => Some(format!(
                "its `{}`",
                if path.is_empty() { "/" } else { path }
            )),
            (a, b) if a == b => None,
            _ => Some(format!(
                "its `{}`",
                if path.is_empty() { "/" } else { path }
            )),
        }
    }
    walk(shown, expected, &mut String::new())
}
