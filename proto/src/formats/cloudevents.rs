//! CloudEvents 1.0: structured mode (`application/cloudevents+json`) and binary mode (`ce_*`
//! Kafka headers), the data read by the format its `type` or `dataschema` routes to
//! (docs/formats/cloudevents.md).
//!
//! The envelope never changes a draft: the record inside maps exactly as it would sent bare,
//! and the envelope's identity is kept beside it (`Mapped::envelope`).
//!
//! Sources: the CloudEvents 1.0 specification
//! (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md), its JSON event format
//! (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md) and its
//! Kafka protocol binding
//! (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md).

use super::draft::{at, kind_of, optional_str};
use super::{Envelope, FieldError, FormatSettings, InputFormat, Message, RecordOutcome};
use crate::time::Timestamp;
use base64::Engine as _;
use serde_json::Value;

/// The longest part of an outside value quoted in a message.
const QUOTE_LIMIT: usize = 200;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): a structured
/// mode event, with `specversion`, `id`, `source` and `type` at the top level.
pub(crate) fn recognises(doc: &Value) -> bool {
    doc.as_object().is_some_and(|obj| {
        ["specversion", "id", "source", "type"]
            .iter()
            .all(|k| obj.contains_key(*k))
    })
}

/// The records of one message: the envelope from the payload (structured mode) or the headers
/// (binary mode, when a `ce_specversion` header is present), the data mapped by its routed
/// format.
pub(crate) fn map_message(
    message: Message<'_>,
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    if header(message, "ce_specversion").is_some() {
        return Ok(binary(message, settings));
    }
    let doc: Value = serde_json::from_slice(message.payload).map_err(|e| {
        FieldError::new(
            "",
            format!("not JSON (line {}, column {})", e.line(), e.column()),
        )
    })?;
    if !doc.is_object() {
        return Err(FieldError::new(
            "",
            format!("expected a CloudEvent (an object), found {}", kind_of(&doc)),
        ));
    }
    Ok(structured(&doc, settings))
}

/// The context attributes idledger reads.
struct Context {
    envelope: Envelope,
    dataschema: Option<String>,
}

/// Structured mode: the envelope and the data are members of the payload; records keep their
/// place under `/data` (`/data_base64` data is parsed, so its records are placed under `/data`
/// too).
fn structured(doc: &Value, settings: &FormatSettings) -> Vec<RecordOutcome> {
    let read = || -> Result<(Context, Value), FieldError> {
        let specversion = required_text(doc, "/specversion")?;
        check_specversion("/specversion", specversion)?;
        let envelope = Envelope {
            id: required_text(doc, "/id")?.to_owned(),
            source: required_text(doc, "/source")?.to_owned(),
            kind: required_text(doc, "/type")?.to_owned(),
            time: optional_time(doc)?,
        };
        let dataschema = optional_text(doc, "/dataschema")?.map(str::to_owned);
        if let Some(media) = optional_text(doc, "/datacontenttype")? {
            check_media("/datacontenttype", media)?;
        }
        Ok((
            Context {
                envelope,
                dataschema,
            },
            structured_data(doc)?,
        ))
    };
    match read() {
        Ok((context, data)) => route_and_map(&context, &data, settings, "/data", "/type"),
        Err(error) => vec![malformed("", error)],
    }
}

fn structured_data(doc: &Value) -> Result<Value, FieldError> {
    match (at(doc, "/data"), at(doc, "/data_base64")) {
        (Some(_), Some(_)) => Err(FieldError::new(
            "/data_base64",
            "present together with data; a CloudEvent has one or the other",
        )),
        (Some(data), None) => Ok(data.clone()),
        (None, Some(encoded)) => {
            let text = encoded.as_str().ok_or_else(|| {
                FieldError::new(
                    "/data_base64",
                    format!("expected a string, found {}", kind_of(encoded)),
                )
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| FieldError::new("/data_base64", "not base64"))?;
            parse_data("/data_base64", &bytes)
        }
        (None, None) => Err(FieldError::missing("/data")),
    }
}

/// Binary mode (Kafka protocol binding, 3.2): every context attribute is a `ce_` header, the
/// payload is the data and `content-type` its media type. Records keep their place in the
/// payload; an envelope error names the header.
fn binary(message: Message<'_>, settings: &FormatSettings) -> Vec<RecordOutcome> {
    let read = || -> Result<(Context, Value), FieldError> {
        let specversion = required_header(message, "ce_specversion")?;
        check_specversion("ce_specversion", specversion)?;
        let time = match header_text(message, "ce_time")? {
            Some(time) => Some(checked_time("ce_time", time)?),
            None => None,
        };
        let envelope = Envelope {
            id: required_header(message, "ce_id")?.to_owned(),
            source: required_header(message, "ce_source")?.to_owned(),
            kind: required_header(message, "ce_type")?.to_owned(),
            time,
        };
        let dataschema = header_text(message, "ce_dataschema")?.map(str::to_owned);
        if let Some(media) = header_text(message, "content-type")? {
            check_media("content-type", media)?;
        }
        let data = parse_data("", message.payload)?;
        Ok((
            Context {
                envelope,
                dataschema,
            },
            data,
        ))
    };
    match read() {
        Ok((context, data)) => route_and_map(&context, &data, settings, "", "ce_type"),
        Err(error) => vec![malformed("", error)],
    }
}

/// Maps the data by the format its type (else its dataschema) routes to, and places each
/// outcome in the message: records under `prefix`, events with the envelope.
fn route_and_map(
    context: &Context,
    data: &Value,
    settings: &FormatSettings,
    prefix: &str,
    type_field: &str,
) -> Vec<RecordOutcome> {
    let routes = &settings.cloudevents_routes;
    let format = longest_prefix(routes, &context.envelope.kind).or_else(|| {
        context
            .dataschema
            .as_deref()
            .and_then(|schema| longest_prefix(routes, schema))
    });
    let Some(format) = format else {
        let mut message = format!("no route matches type {}", quote(&context.envelope.kind));
        if let Some(schema) = &context.dataschema {
            message.push_str(&format!(" or dataschema {}", quote(schema)));
        }
        return vec![malformed("", FieldError::new(type_field, message))];
    };
    match super::map_parsed(format, data, settings) {
        Err(error) => vec![malformed(prefix, error)],
        Ok(outcomes) => outcomes
            .into_iter()
            .map(|outcome| place(outcome, &context.envelope, prefix))
            .collect(),
    }
}

/// The route whose prefix of `text` is longest; of equally long ones, the first configured.
fn longest_prefix(routes: &[(String, InputFormat)], text: &str) -> Option<InputFormat> {
    let mut best: Option<&(String, InputFormat)> = None;
    for route in routes
        .iter()
        .filter(|(prefix, _)| text.starts_with(prefix.as_str()))
    {
        if best.is_none_or(|b| route.0.len() > b.0.len()) {
            best = Some(route);
        }
    }
    best.map(|(_, format)| *format)
}

/// An outcome of the data placed in the message. A record that already came with an envelope
/// (a CloudEvent routed inside a CloudEvent) keeps the innermost one, the closest to it.
fn place(outcome: RecordOutcome, envelope: &Envelope, prefix: &str) -> RecordOutcome {
    match outcome {
        RecordOutcome::Event(mut mapped) => {
            if mapped.envelope.is_none() {
                mapped.envelope = Some(envelope.clone());
            }
            mapped.pointer = format!("{prefix}{}", mapped.pointer);
            RecordOutcome::Event(mapped)
        }
        RecordOutcome::Malformed { pointer, error } => {
            malformed(&format!("{prefix}{pointer}"), error)
        }
        out_of_scope @ RecordOutcome::OutOfScope { .. } => out_of_scope,
    }
}

fn malformed(pointer: &str, error: FieldError) -> RecordOutcome {
    RecordOutcome::Malformed {
        pointer: pointer.to_owned(),
        error,
    }
}

/// `specversion` must be 1.x: `1.0` is the version this reads; a later minor version keeps its
/// attributes (the specification's versioning rule).
fn check_specversion(field: &str, version: &str) -> Result<(), FieldError> {
    let minor = version.strip_prefix("1.").unwrap_or_default();
    if !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("expected 1.x (CloudEvents 1.0), found {}", quote(version)),
        ))
    }
}

fn optional_time(doc: &Value) -> Result<Option<String>, FieldError> {
    match optional_text(doc, "/time")? {
        Some(time) => Ok(Some(checked_time("/time", time)?)),
        None => Ok(None),
    }
}

/// An RFC 3339 time, kept as the source wrote it.
fn checked_time(field: &str, time: &str) -> Result<String, FieldError> {
    Timestamp::parse_rfc3339(time)
        .map(|_| time.to_owned())
        .map_err(|e| FieldError::new(field, format!("not an RFC 3339 time: {e}")))
}

fn parse_data(field: &str, bytes: &[u8]) -> Result<Value, FieldError> {
    serde_json::from_slice(bytes).map_err(|e| {
        FieldError::new(
            field,
            format!(
                "the data is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Data idledger can read is JSON, whatever else a CloudEvent may carry.
fn check_media(field: &str, media: &str) -> Result<(), FieldError> {
    if is_json_media(media) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "data of media type {} cannot be read; expected JSON",
                quote(media)
            ),
        ))
    }
}

/// `application/json`, `text/json` and any `+json` structured syntax, with or without
/// parameters (`; charset=utf-8`).
fn is_json_media(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// The first header of that name (Kafka allows repeats; the first one counts).
fn header<'m>(message: Message<'m>, name: &str) -> Option<&'m [u8]> {
    message
        .headers
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| *value)
}

/// A header's value as text: the binding sends attribute values as UTF-8.
fn header_text<'m>(message: Message<'m>, name: &str) -> Result<Option<&'m str>, FieldError> {
    match header(message, name) {
        None => Ok(None),
        Some([]) => Err(FieldError::new(name, "empty, expected text")),
        Some(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| FieldError::new(name, format!("not UTF-8 at byte {}", e.valid_up_to()))),
    }
}

fn required_header<'m>(message: Message<'m>, name: &str) -> Result<&'m str, FieldError> {
    header_text(message, name)?.ok_or_else(|| FieldError::missing(name))
}

fn required_text<'v>(doc: &'v Value, field: &str) -> Result<&'v str, FieldError> {
    optional_text(doc, field)?.ok_or_else(|| FieldError::missing(field))
}

/// A context attribute if present; the specification requires a non-empty string.
fn optional_text<'v>(doc: &'v Value, field: &str) -> Result<Option<&'v str>, FieldError> {
    match optional_str(doc, field)? {
        Some("") => Err(FieldError::new(field, "empty, expected text")),
        other => Ok(other),
    }
}

/// An outside value quoted in a message: escaped (no control or formatting character reaches
/// a reason) and cut to `QUOTE_LIMIT` characters.
fn quote(text: &str) -> String {
    let cut: String = text.chars().take(QUOTE_LIMIT).collect();
    let more = if cut.len() < text.len() { "..." } else { "" };
    format!("`{}{more}`", cut.escape_default())
}

#[cfg(test)]
#[path = "cloudevents_tests.rs"]
mod tests;
