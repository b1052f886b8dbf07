//! Security Event Tokens (RFC 8417): a JSON claims set or a JWS compact token carrying CAEP and
//! RISC events, verified against a configured JWKS when one is given
//! (docs/formats/secevent.md).
//!
//! A message is one SET; each member of its `events` is one record (pointer
//! `/events/<escaped uri>`), deduplicated as (`secevent:<iss>`, `jti`, with `#<n>` when the SET
//! holds several events). Whether the token was verified, and by which key, goes with every
//! event it maps to (`set.verified`, `set.kid`).

mod events;
mod jwks;
mod jws;
mod subject;

pub use jwks::Jwks;

use super::draft::{FieldError, kind_of};
use super::{FormatSettings, Message, RecordOutcome};
use crate::event::AttrValue;
use crate::source_record::RecordSignature;
use events::SetContext;
use jws::Verification;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): an object with
/// the string claims `iss` and `jti`, a numeric `iat` and an `events` object.
pub(crate) fn recognises(doc: &serde_json::Value) -> bool {
    doc.get("iss").is_some_and(serde_json::Value::is_string)
        && doc.get("jti").is_some_and(serde_json::Value::is_string)
        && doc.get("iat").is_some_and(serde_json::Value::is_number)
        && doc.get("events").is_some_and(serde_json::Value::is_object)
}

/// Whether a raw message is a compact JWS of a Security Event Token, for `auto`, which cannot
/// parse a JWS as JSON: explicitly typed `secevent+jwt`, or with a payload `recognises`.
pub fn recognises_bytes(payload: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(payload.trim_ascii()) else {
        return false;
    };
    jws::looks_compact(text)
        && jws::decode(text).is_ok_and(|token| {
            let typed = token
                .header
                .get("typ")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|t| {
                    t.eq_ignore_ascii_case("secevent+jwt")
                        || t.eq_ignore_ascii_case("application/secevent+jwt")
                });
            typed || recognises(&token.payload)
        })
}

/// The records of one message: a claims set, a JWS compact token, or a JSON string holding one
/// (as a CloudEvent's `data` may).
pub(crate) fn map_message(
    message: Message<'_>,
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    let bytes = message.payload.trim_ascii();
    match bytes.first() {
        Some(b'{') => {
            let doc: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|_| FieldError::new("", "not JSON: expected a SET claims set"))?;
            map(&doc, settings)
        }
        Some(b'"') => match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::String(token)) if jws::looks_compact(&token) => {
                Ok(map_token(&token, settings))
            }
            _ => Err(not_a_set()),
        },
        _ => match std::str::from_utf8(bytes) {
            Ok(token) if jws::looks_compact(token) => Ok(map_token(token, settings)),
            _ => Err(not_a_set()),
        },
    }
}

fn not_a_set() -> FieldError {
    FieldError::new(
        "",
        "expected a SET: a JSON claims set or a JWS compact token (header.payload.signature)",
    )
}

/// The records of a claims set that arrived as JSON, unsigned.
pub(crate) fn map(
    doc: &serde_json::Value,
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    let Some(obj) = doc.as_object() else {
        return Err(FieldError::new(
            "",
            format!(
                "expected a SET claims set (an object), found {}",
                kind_of(doc)
            ),
        ));
    };
    if !["iss", "jti", "events"]
        .iter()
        .any(|m| obj.contains_key(*m))
    {
        return Err(FieldError::new(
            "",
            "not a SET: none of `iss`, `jti` and `events` is present",
        ));
    }
    // With keys configured, only a verified token is read: an unsigned claims set would be a
    // way around verification.
    if settings.jwks.is_some() {
        return Ok(vec![RecordOutcome::Malformed {
            pointer: String::new(),
            error: FieldError::new(
                "/signature",
                "absent: a JWKS is configured, so only signed tokens (JWS) are read",
            ),
        }]);
    }
    Ok(map_claims(doc, &Verification { kid: None }))
}

/// The records of a compact JWS: verified when a JWKS is configured, else read unverified.
fn map_token(text: &str, settings: &FormatSettings) -> Vec<RecordOutcome> {
    let malformed = |error| {
        vec![RecordOutcome::Malformed {
            pointer: String::new(),
            error,
        }]
    };
    let token = match jws::decode(text) {
        Ok(token) => token,
        Err(error) => return malformed(error),
    };
    let verification = match &settings.jwks {
        Some(jwks) => match token.verify(jwks) {
            Ok(verification) => verification,
            Err(error) => return malformed(error),
        },
        None => Verification { kid: None },
    };
    // The entry's source record says whether the token was verified, and by which key.
    let signature = match &verification.kid {
        Some(key_id) => RecordSignature::Verified {
            key_id: key_id.clone(),
        },
        None => RecordSignature::NotVerified,
    };
    let mut outcomes = map_claims(&token.payload, &verification);
    for outcome in &mut outcomes {
        if let RecordOutcome::Event(mapped) = outcome {
            mapped.signature = Some(signature.clone());
        }
    }
    outcomes
}

/// The records of a claims set: one per event, in URI order; one `Malformed` for the whole set
/// when a claim every event needs is wrong.
fn map_claims(claims: &serde_json::Value, verification: &Verification) -> Vec<RecordOutcome> {
    let read =
        || -> Result<(SetContext<'_>, &serde_json::Map<String, serde_json::Value>), FieldError> {
            let iss = required_text(claims, "iss")?;
            let jti = required_text(claims, "jti")?;
            let iat = match claims.get("iat").filter(|v| !v.is_null()) {
                Some(v) => events::numeric_date(v, "/iat")?,
                None => return Err(FieldError::missing("/iat")),
            };
            let default_time = match claims.get("toe").filter(|v| !v.is_null()) {
                Some(v) => events::numeric_date(v, "/toe")?,
                None => iat,
            };
            let list = match claims.get("events") {
                None | Some(serde_json::Value::Null) => return Err(FieldError::missing("/events")),
                Some(serde_json::Value::Object(list)) if !list.is_empty() => list,
                Some(serde_json::Value::Object(_)) => {
                    return Err(FieldError::new("/events", "expected at least one event"));
                }
                Some(other) => {
                    return Err(FieldError::new(
                        "/events",
                        format!(
                            "expected an object keyed by event type URI, found {}",
                            kind_of(other)
                        ),
                    ));
                }
            };
            let mut shared = vec![(
                "set.verified".to_owned(),
                AttrValue::Bool(verification.kid.is_some()),
            )];
            if let Some(kid) = &verification.kid {
                shared.push(("set.kid".to_owned(), AttrValue::Text(kid.clone())));
            }
            if let Some(txn) = claims.get("txn").and_then(serde_json::Value::as_str) {
                shared.push(("set.txn".to_owned(), AttrValue::Text(txn.to_owned())));
            }
            if let Some(aud) = audience(claims) {
                shared.push(("set.aud".to_owned(), AttrValue::Text(aud)));
            }
            let ctx = SetContext {
                claims,
                iss,
                jti,
                default_time,
                several: list.len() > 1,
                shared,
            };
            Ok((ctx, list))
        };
    match read() {
        Err(error) => vec![RecordOutcome::Malformed {
            pointer: String::new(),
            error,
        }],
        Ok((ctx, list)) => {
            // URI order, so the `#<n>` of an event does not depend on how a parser orders
            // members.
            let mut uris: Vec<(&String, &serde_json::Value)> = list.iter().collect();
            uris.sort_by(|a, b| a.0.cmp(b.0));
            uris.into_iter()
                .enumerate()
                .map(|(index, (uri, body))| events::map_event(&ctx, index, uri, body))
                .collect()
        }
    }
}

fn required_text<'v>(claims: &'v serde_json::Value, member: &str) -> Result<&'v str, FieldError> {
    let field = format!("/{member}");
    match claims.get(member) {
        None | Some(serde_json::Value::Null) => Err(FieldError::missing(field)),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        Some(serde_json::Value::String(_)) => Err(FieldError::new(field, "empty")),
        Some(other) => Err(FieldError::new(
            field,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

/// `aud` as text: a string as sent, an array's strings joined by spaces.
fn audience(claims: &serde_json::Value) -> Option<String> {
    match claims.get("aud")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => {
            let names: Vec<&str> = list.iter().filter_map(serde_json::Value::as_str).collect();
            (!names.is_empty()).then(|| names.join(" "))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "secevent_tests.rs"]
mod tests;

#[cfg(test)]
mod jws_tests;
