//! CEF export lines: ArcSight Common Event Format for syslog-based SIEMs, one line per entry and
//! a start and a checkpoint line of their own, so a whole stream is CEF and every entry line
//! still carries its index, leaf hash, leaf and origin (docs/EXPORT.md, "CEF lines").
//!
//! `CEF:0|idledger|idledger|<version>|<class id>|<name>|<severity>|<extension>`: in the header
//! `\` and `|` are escaped with a backslash; in extension values `\`, `=`, newline and carriage
//! return are (`\\`, `\=`, `\n`, `\r`). `parse` reads such lines back, strictly.

pub(crate) mod parse;

use super::describe::{self, Severity, SystemDetail, system_entity};
use super::{EXPORT_FORMAT, EntryRecord, LineProof, PRODUCER_VERSION};
use crate::entry::{Body, Entry, SystemRecord};
use crate::event::Event;
use crate::hash::Hash;
use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as B64;
use std::fmt::{self, Write as _};

/// The Device Vendor and Device Product of every line.
pub const CEF_VENDOR: &str = "idledger";
pub const CEF_PRODUCT: &str = "idledger";
/// The Device Event Class ID of a stream's start line.
pub const CEF_START_CLASS: &str = "export.start";
/// The Device Event Class ID of a checkpoint line.
pub const CEF_CHECKPOINT_CLASS: &str = "checkpoint";

/// Writes the CEF line of an entry (no newline) to `buf`.
pub fn write_cef_entry(buf: &mut Vec<u8>, record: &EntryRecord<'_>, entry: &Entry) {
    write_cef_entry_as(buf, record, entry, PRODUCER_VERSION);
}

/// Writes a stream's CEF start line: the origin, the first index, the frontier (base64 roots,
/// comma-separated), the format and whether a filter left entries out.
pub fn write_cef_start(
    buf: &mut Vec<u8>,
    origin: &str,
    from: u64,
    frontier: &[Hash],
    filtered: bool,
) {
    write_cef_start_as(buf, origin, from, frontier, filtered, PRODUCER_VERSION);
}

/// Writes a CEF checkpoint line: the size and the signed note, base64 (a note has newlines and
/// an em dash, which a syslog pipeline may not carry intact).
pub fn write_cef_checkpoint(buf: &mut Vec<u8>, size: u64, note: &str) {
    write_cef_checkpoint_as(buf, size, note, PRODUCER_VERSION);
}

/// `write_cef_entry` as the idledger version `version` writes it (the header's Device Version):
/// the verifier re-renders a line with the version the line names.
pub(crate) fn write_cef_entry_as(
    buf: &mut Vec<u8>,
    record: &EntryRecord<'_>,
    entry: &Entry,
    version: &str,
) {
    let severity = Severity::of(entry).cef();
    let code = describe::code(entry);
    let name = match &entry.body {
        Body::Event(e) => describe::title(e.event.kind),
        Body::Quarantined(_) => describe::QUARANTINED_TITLE,
        Body::System(system) => describe::system_title(system),
    };
    header(buf, version, code, name, severity);
    let mut ext = Extension::new(buf);
    ext.number("rt", describe::millis(entry.received_at));
    let event = match &entry.body {
        Body::Event(e) => Some(&e.event),
        Body::Quarantined(r) => match &r.payload {
            crate::rejection::KeptPayload::Event(e) => Some(&**e),
            _ => None,
        },
        Body::System(_) => None,
    };
    if let Some(event) = event {
        ext.number("start", describe::millis(event.time));
    }
    let category = match &entry.body {
        Body::Event(e) => match e.event.kind.family() {
            crate::event::Family::Identity => "identity",
            crate::event::Family::Access => "access",
            crate::event::Family::Credential => "credential",
        },
        Body::Quarantined(_) => "quarantine",
        Body::System(_) => "system",
    };
    ext.text("cat", category);
    ext.text("act", code.split_once('.').map_or(code, |(_, verb)| verb));
    ext.text(
        "outcome",
        if describe::failed(entry) {
            "failure"
        } else {
            "success"
        },
    );
    if let Some(event) = event {
        event_fields(&mut ext, event);
    }
    match &entry.body {
        Body::Event(e) => {
            if let Some(reason) = &e.event.reason {
                ext.text("msg", reason);
            }
        }
        Body::Quarantined(r) => ext.display("msg", &r.reason),
        Body::System(system) => ext.display("msg", SystemDetail(system)),
    }
    integrity_fields(&mut ext, record);
    match &entry.body {
        Body::Event(e) => subject_matter(&mut ext, &e.event),
        Body::Quarantined(r) => ext.custom("cs6", "rejection", r.reason.class()),
        Body::System(system) => {
            let (_, entity) = system_entity(system);
            let label = match system {
                SystemRecord::Genesis { .. } => "log",
                SystemRecord::KeyAdded { .. } | SystemRecord::KeyRetired { .. } => "verifierKey",
                SystemRecord::OffsetsUnavailable { .. } | SystemRecord::OutOfScope { .. } => {
                    "partition"
                }
            };
            ext.custom("cs6", label, entity);
        }
    }
    ext.custom("cn1", "index", record.index);
    if let Some(event) = event {
        if let Some(grant) = &event.grant_id {
            ext.custom("flexString1", "grantId", grant);
        }
        if let Some(ticket) = &event.ticket {
            ext.custom("flexString2", "ticket", ticket);
        }
    }
}

/// Who did what to whom: actor, subject, the source's event id and the source.
fn event_fields(ext: &mut Extension<'_>, event: &Event) {
    if let Some(actor) = &event.actor {
        ext.text("suser", &actor.id);
    }
    ext.text("duser", &event.subject.id);
    ext.text("externalId", &event.id);
}

/// The origin, leaf hash, leaf and proof, and the event's source (cs1 to cs5).
fn integrity_fields(ext: &mut Extension<'_>, record: &EntryRecord<'_>) {
    ext.custom("cs1", "origin", record.origin);
    ext.custom(
        "cs2",
        "leafHash",
        Base64Display::new(&record.leaf_hash.0, &B64),
    );
    ext.custom("cs3", "leaf", Base64Display::new(record.leaf, &B64));
    if let Some(proof) = record.proof {
        ext.custom("cs4", "proof", ProofText(proof));
    }
}

/// The source, and what an access or credential event is about (cs5, cs6).
fn subject_matter(ext: &mut Extension<'_>, event: &Event) {
    ext.custom("cs5", "source", &event.source);
    if let Some(credential) = &event.credential {
        ext.custom("cs6", "credential", &credential.id);
    } else if let Some(resource) = &event.resource {
        ext.custom("cs6", "resource", resource);
    }
}

pub(crate) fn write_cef_start_as(
    buf: &mut Vec<u8>,
    origin: &str,
    from: u64,
    frontier: &[Hash],
    filtered: bool,
    version: &str,
) {
    header(buf, version, CEF_START_CLASS, "Export Started", 1);
    let mut ext = Extension::new(buf);
    ext.custom("cs1", "origin", origin);
    ext.custom("cn1", "from", from);
    ext.custom("cs2", "frontier", HashList(frontier));
    ext.custom("cs3", "format", EXPORT_FORMAT);
    ext.custom("cs4", "filtered", filtered);
}

pub(crate) fn write_cef_checkpoint_as(buf: &mut Vec<u8>, size: u64, note: &str, version: &str) {
    header(buf, version, CEF_CHECKPOINT_CLASS, "Signed Checkpoint", 1);
    let mut ext = Extension::new(buf);
    ext.custom("cn1", "size", size);
    ext.custom("cs1", "note", Base64Display::new(note.as_bytes(), &B64));
}

/// `CEF:0|vendor|product|version|class|name|severity|`, each field escaped.
fn header(buf: &mut Vec<u8>, version: &str, class: &str, name: &str, severity: u8) {
    buf.extend_from_slice(b"CEF:0|");
    for field in [CEF_VENDOR, CEF_PRODUCT, version, class, name] {
        escape_header_into(buf, field);
        buf.push(b'|');
    }
    // Writing to a Vec cannot fail.
    let _ = std::io::Write::write_fmt(buf, format_args!("{severity}|"));
}

/// Appends a header field with `\` and `|` escaped.
pub fn escape_header_into(buf: &mut Vec<u8>, field: &str) {
    for &b in field.as_bytes() {
        if matches!(b, b'\\' | b'|') {
            buf.push(b'\\');
        }
        buf.push(b);
    }
}

/// Appends an extension value with `\`, `=`, newline and carriage return escaped.
pub fn escape_value_into(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut done = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'=' => b"\\=",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[done..i]);
        buf.extend_from_slice(escaped);
        done = i + 1;
    }
    buf.extend_from_slice(&bytes[done..]);
}

/// A `fmt::Write` that escapes what is written as an extension value.
struct Escaping<'b>(&'b mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_value_into(self.0, s);
        Ok(())
    }
}

/// The extension part of a line, written pair by pair.
struct Extension<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Extension<'b> {
    fn new(buf: &'b mut Vec<u8>) -> Extension<'b> {
        Extension { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(b' ');
        }
        self.first = false;
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(b'=');
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        escape_value_into(self.buf, value);
    }

    fn display(&mut self, key: &str, value: impl fmt::Display) {
        self.key(key);
        // Writing to a Vec cannot fail.
        let _ = write!(Escaping(self.buf), "{value}");
    }

    fn number(&mut self, key: &str, value: i64) {
        self.display(key, value);
    }

    /// A custom field and its label: `cs1=value cs1Label=label`.
    fn custom(&mut self, key: &str, label: &str, value: impl fmt::Display) {
        self.display(key, value);
        self.buf.push(b' ');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"Label=");
        escape_value_into(self.buf, label);
    }
}

/// A proof as `<size>:<base64 hash>,<base64 hash>...` (the leaf's sibling first).
struct ProofText<'a>(&'a LineProof);

impl fmt::Display for ProofText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0.size, self.0.path.join(","))
    }
}

/// Hashes as comma-separated base64.
struct HashList<'a>(&'a [Hash]);

impl fmt::Display for HashList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, hash) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            Base64Display::new(&hash.0, &B64).fmt(f)?;
        }
        Ok(())
    }
}
