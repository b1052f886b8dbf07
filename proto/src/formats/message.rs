//! One Kafka message read in its topic's format: native JSON, a source format, or `auto`. Each
//! record in it becomes an event carrying its source record, a rejection that names the field,
//! or an out-of-scope count; nothing is dropped unaccounted (docs/FORMATS.md).

use super::{FieldError, FormatSettings, InputFormat, Mapped, Message, RecordOutcome};
use crate::decode::{ValidatedEvent, decode_event};
use crate::hash::sha256;
use crate::rejection::{KeptPayload, MAX_KEPT_RAW_BYTES, RejectReason, Rejection};
use crate::secret;
use crate::source_record::{Original, RecordEnvelope, RecordFormat, RecordSignature, SourceRecord};

/// Largest message a source format reads: a CloudTrail log file or an Okta event-hook delivery
/// holds many records (Kafka's default message limit). Native events keep their own limit.
pub const MAX_SOURCE_MESSAGE_BYTES: usize = 1024 * 1024;

/// What one record of a message became.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are nearly every record; boxing them would allocate once more per event"
)]
pub enum Decoded {
    Event(ValidatedEvent),
    Rejected(Rejection),
    /// Well-formed, outside idledger's scope: counted by the source's own type name.
    OutOfScope {
        format: InputFormat,
        kind: String,
    },
}

/// Reads one message in `format`.
pub fn decode_message(
    format: InputFormat,
    settings: &FormatSettings,
    message: Message<'_>,
) -> Vec<Decoded> {
    if format == InputFormat::Native {
        return vec![native(message.payload)];
    }
    if let Some(rejection) = refuse_payload(message.payload) {
        return vec![Decoded::Rejected(rejection)];
    }
    // Under `auto` the payload is parsed once, to recognise it, and read from that parse.
    let (format, parsed) = match format {
        InputFormat::Auto => match recognise(message) {
            Ok((InputFormat::Native, _)) => return vec![native(message.payload)],
            Ok(recognised) => recognised,
            Err(reason) => return vec![Decoded::Rejected(quarantine(message.payload, reason))],
        },
        other => (other, None),
    };
    let records = match (&parsed, format) {
        (Some(doc), f) if !matches!(f, InputFormat::CloudEvents | InputFormat::SecEvent) => {
            super::map_parsed(f, doc, settings)
        }
        _ => super::map_message(format, message, settings),
    };
    match records {
        Err(error) => vec![Decoded::Rejected(quarantine(
            message.payload,
            format_reason(format, "", error),
        ))],
        Ok(records) => {
            let mut locator = Locator::new(message.payload);
            records
                .into_iter()
                .map(|record| decoded(format, settings, &mut locator, record))
                .collect()
        }
    }
}

/// A native message: the native decoder's own checks and reasons.
fn native(payload: &[u8]) -> Decoded {
    match decode_event(payload) {
        Ok(event) => Decoded::Event(event),
        Err(rejection) => Decoded::Rejected(rejection),
    }
}

/// The whole-message checks every format makes before reading: bytes present, within the
/// limit, and no private key block (kept as its hash only).
fn refuse_payload(payload: &[u8]) -> Option<Rejection> {
    if payload.is_empty() {
        return Some(quarantine(payload, RejectReason::EmptyPayload));
    }
    if secret::holds_private_key_block(payload) {
        return Some(Rejection {
            reason: RejectReason::SecretMaterial {
                location: secret::PEM_LOCATION.into(),
            },
            payload: KeptPayload::redacted(payload),
        });
    }
    (payload.len() > MAX_SOURCE_MESSAGE_BYTES).then(|| {
        quarantine(
            payload,
            RejectReason::Oversized {
                limit: MAX_SOURCE_MESSAGE_BYTES as u64,
                found: payload.len() as u64,
            },
        )
    })
}

/// What one record became: its event validated by the native rules, with its source record.
fn decoded(
    format: InputFormat,
    settings: &FormatSettings,
    locator: &mut Locator<'_>,
    record: RecordOutcome,
) -> Decoded {
    match record {
        RecordOutcome::OutOfScope { kind } => Decoded::OutOfScope { format, kind },
        RecordOutcome::Malformed { pointer, error } => {
            let bytes = locator.bytes(&pointer);
            Decoded::Rejected(quarantine(bytes, format_reason(format, &pointer, error)))
        }
        RecordOutcome::Event(mapped) => {
            let bytes = locator.bytes(&mapped.pointer);
            match mapped.draft.validate() {
                Ok(event) => {
                    let record = fitting(&event, source_record(format, settings, bytes, &mapped));
                    Decoded::Event(event.with_record(&record))
                }
                Err(reason) => Decoded::Rejected(quarantine(bytes, reason)),
            }
        }
    }
}

/// The source record, with its kept original left out (hash only, `TooLarge`) when the leaf
/// would otherwise be longer than a tlog-tiles entry can be.
fn fitting(event: &crate::ValidatedEvent, mut record: SourceRecord) -> SourceRecord {
    let budget = crate::entry::MAX_TILED_LEAF_BYTES - crate::entry::LEAF_ALLOWANCE_BYTES;
    if matches!(record.original, Original::Kept { .. })
        && event.encoded().len() + crate::entry::encode_source_record(&record).len() > budget
    {
        record.original = Original::TooLarge;
    }
    record
}

/// The provenance of a mapped event.
fn source_record(
    format: InputFormat,
    settings: &FormatSettings,
    bytes: &[u8],
    mapped: &Mapped,
) -> SourceRecord {
    let original = if !settings.keep_original {
        Original::NotKept
    } else if bytes.len() > MAX_KEPT_RAW_BYTES {
        Original::TooLarge
    } else if secret::secret_in_input(bytes, MAX_KEPT_RAW_BYTES).is_some() {
        Original::Redacted
    } else {
        Original::Kept {
            bytes: bytes.to_vec(),
        }
    };
    SourceRecord {
        format: record_format(mapped.format.unwrap_or(format)),
        event_id: mapped.event_id.clone(),
        pointer: mapped.pointer.clone(),
        sha256: sha256(bytes).0,
        original,
        signature: mapped
            .signature
            .clone()
            .unwrap_or(RecordSignature::Unsigned),
        envelope: mapped.envelope.as_ref().map(|e| RecordEnvelope {
            id: e.id.clone(),
            source: e.source.clone(),
            kind: e.kind.clone(),
            time: e.time.clone(),
        }),
    }
}

/// The record format a source format's records are kept as. CloudEvents is an envelope: its
/// records are kept as the format their data was read by (`Mapped::format`).
fn record_format(format: InputFormat) -> RecordFormat {
    match format {
        InputFormat::Ocsf => RecordFormat::Ocsf,
        InputFormat::SecEvent => RecordFormat::SecEvent,
        InputFormat::CloudTrail => RecordFormat::CloudTrail,
        InputFormat::Okta => RecordFormat::Okta,
        InputFormat::Entra => RecordFormat::Entra,
        InputFormat::Github => RecordFormat::Github,
        InputFormat::Vault => RecordFormat::Vault,
        InputFormat::Native | InputFormat::Auto | InputFormat::CloudEvents => {
            unreachable!("a mapped record is always read by a record format")
        }
    }
}

/// The bytes of the record at `pointer` inside the payload: exactly as they were sent. The whole
/// payload when the pointer is empty or does not lead into the payload's own JSON (the records
/// of a JWS-signed token are inside its encoded payload: the token is the record).
pub fn record_bytes<'p>(payload: &'p [u8], pointer: &str) -> &'p [u8] {
    Locator::new(payload).bytes(pointer)
}

/// A container's members as raw JSON text: an array's by index, an object's by name.
enum Members<'p> {
    Array(Vec<&'p str>),
    Object(std::collections::HashMap<String, &'p str>),
}

/// Finds records' bytes inside one payload, parsing each container on the way to them once
/// however many records it holds (a log file's thousand records cost one parse of the file,
/// not a thousand).
struct Locator<'p> {
    payload: &'p [u8],
    text: Option<&'p str>,
    /// Containers read so far, by their pointer; `None` for one that is no container.
    containers: std::collections::HashMap<String, Option<Members<'p>>>,
}

impl<'p> Locator<'p> {
    fn new(payload: &'p [u8]) -> Locator<'p> {
        Locator {
            payload,
            text: std::str::from_utf8(payload).ok(),
            containers: std::collections::HashMap::new(),
        }
    }

    /// `record_bytes`, with the containers on the way kept for the next record.
    fn bytes(&mut self, pointer: &str) -> &'p [u8] {
        let found = match (self.text, pointer.strip_prefix('/')) {
            (Some(text), Some(path)) => self.raw_at(text, path),
            _ => None,
        };
        found.map_or(self.payload, str::as_bytes)
    }

    /// The raw JSON text at an RFC 6901 path (the pointer without its leading `/`).
    fn raw_at(&mut self, text: &'p str, path: &str) -> Option<&'p str> {
        use serde_json::value::RawValue;
        let mut current = text;
        let mut prefix = String::with_capacity(path.len() + 1);
        for token in path.split('/') {
            let members = self
                .containers
                .entry(prefix.clone())
                .or_insert_with(|| {
                    if current.trim_start().starts_with('[') {
                        let items: Vec<&'p RawValue> = serde_json::from_str(current).ok()?;
                        Some(Members::Array(
                            items.into_iter().map(RawValue::get).collect(),
                        ))
                    } else {
                        let map: std::collections::HashMap<String, &'p RawValue> =
                            serde_json::from_str(current).ok()?;
                        Some(Members::Object(
                            map.into_iter().map(|(k, v)| (k, v.get())).collect(),
                        ))
                    }
                })
                .as_ref()?;
            let name = token.replace("~1", "/").replace("~0", "~");
            current = match members {
                Members::Array(items) => *items.get(name.parse::<usize>().ok()?)?,
                Members::Object(map) => *map.get(&name)?,
            };
            prefix.push('/');
            prefix.push_str(token);
        }
        Some(current)
    }
}

/// The reason for a record that claims `format` but cannot be read as it: the field's pointer
/// (relative to the record) under the record's pointer in the message.
fn format_reason(format: InputFormat, pointer: &str, error: FieldError) -> RejectReason {
    RejectReason::FormatField {
        format: format.as_str().to_owned(),
        field: format!("{pointer}{}", error.field),
        message: error.message,
    }
}

/// The rejection of `bytes` for `reason`, keeping them only as the rule for kept bytes allows.
fn quarantine(bytes: &[u8], reason: RejectReason) -> Rejection {
    crate::decode::quarantine(bytes, reason)
}

/// The format of a message under `auto`: exactly one format's shape must match
/// (docs/FORMATS.md). The parsed payload comes back with it, so it is read once.
fn recognise(
    message: Message<'_>,
) -> Result<(InputFormat, Option<serde_json::Value>), RejectReason> {
    if message
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("ce_specversion"))
    {
        return Ok((InputFormat::CloudEvents, None));
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(message.payload) else {
        return if super::secevent::recognises_bytes(message.payload) {
            Ok((InputFormat::SecEvent, None))
        } else {
            // Not JSON: the native decoder names the problem precisely.
            Ok((InputFormat::Native, None))
        };
    };
    let mut matched = super::recognised(&doc);
    if looks_native(&doc) {
        matched.insert(0, InputFormat::Native);
    }
    match matched.as_slice() {
        [one] => Ok((*one, Some(doc))),
        _ => Err(RejectReason::UnrecognisedFormat {
            matched: matched.iter().map(|f| f.as_str().to_owned()).collect(),
        }),
    }
}

/// The native shape: an object whose `type` is one of idledger's event types and which has a
/// `subject`.
fn looks_native(doc: &serde_json::Value) -> bool {
    doc.get("type")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| crate::event::EventType::parse(t).is_some())
        && doc.get("subject").is_some_and(serde_json::Value::is_object)
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
