//! Native JSON (version 1) input: decoding and validation into a `ValidatedEvent`, or a
//! `Rejection` that names the problem precisely and never keeps secret material (what may be
//! kept is `secret`'s rule; the JSON shapes read are in `wire`).

use crate::characters::{self, Chars};
use crate::event::{Decision, Event, EventType, Family, MembershipKind, Outcome};
use crate::hash::{Hash, sha256};
use crate::rejection::{KeptPayload, MAX_KEPT_RAW_BYTES, RejectReason, Rejection, quote};
use crate::secret::{self, Finding};
use crate::time::{EARLIEST_EVENT_TIME, EVENT_TIME_END, Timestamp};
use crate::view::{AttrValueView, EventView};
use crate::wire::{self, WireAttributes, WireEvent, WireValue};
use std::borrow::Cow;

mod members;
use members::{validate_actor, validate_credential, validate_policy, validate_subject};

/// Secret detection lives in `secret`; these stay reachable here for the crates that call them.
pub use crate::secret::{is_secret_name, secret_in_entry, secret_in_event, secret_in_key};

/// Largest accepted payload, in bytes; it bounds every string of an event in bytes too.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Longest `id`, `source`, actor, subject, grant, request, credential id and owner. Lengths
/// count characters, as JSON Schema's `maxLength` does (`characters::count_over`).
pub const MAX_ID_CHARS: usize = 256;
/// Longest `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 4096;
/// Longest other string field, and attribute string value, in characters.
pub const MAX_TEXT_CHARS: usize = 1024;
/// Most attributes in one event, and the longest attribute key in characters.
pub const MAX_ATTRIBUTES: usize = 64;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 128;

/// An event that passed every check of docs/EVENTS.md, held as its canonical encoding (computed
/// once, by whichever thread validated it) and where the ids the ledger indexes lie in it. Only
/// `decode_event` and `check` make one.
///
/// Validation builds no owned `Event`: it checks a view borrowing the JSON's strings and encodes
/// that view (the same bytes as the owned event's). An event crossing to the ledger's writer is
/// one allocation, not one per field, so the writer frees one block per event and a queue of
/// validated events holds each event's bytes once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedEvent {
    encoded: Vec<u8>,
    ids: IndexedIds,
    /// The encoded `Some(SourceRecord)` of an event mapped from a source format; empty for a
    /// native one. It follows the event in the leaf and is not part of what deduplicates it.
    record: Vec<u8>,
}

/// A string's place inside `ValidatedEvent::encoded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// The ids the ledger reads from every event it appends: deduplication key, back-links, the
/// resource index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IndexedIds {
    source: Span,
    id: Span,
    subject: Span,
    grant: Option<Span>,
    credential: Option<Span>,
    resource: Option<Span>,
}

impl ValidatedEvent {
    /// Encodes a validated event, locating its indexed ids as it goes.
    fn encode(event: &EventView<'_>) -> ValidatedEvent {
        let (encoded, at) = crate::entry::encode_event_locating_ids(event);
        let span = |start: usize, s: &str| {
            let span = Span {
                start: start as u32,
                len: s.len() as u32,
            };
            (encoded.get(start..start + s.len()) == Some(s.as_bytes())).then_some(span)
        };
        let opt = |start: Option<usize>, s: Option<&str>| match (start, s) {
            (Some(start), Some(s)) => span(start, s).map(Some),
            (None, None) => Some(None),
            _ => None,
        };
        let located = (|| {
            Some(IndexedIds {
                source: span(at.source, event.source)?,
                id: span(at.id, event.id)?,
                subject: span(at.subject, event.subject.id)?,
                grant: opt(at.grant, event.grant_id)?,
                credential: opt(at.credential, event.credential.as_ref().map(|c| c.id))?,
                resource: opt(at.resource, event.resource)?,
            })
        })();
        match located {
            Some(ids) => ValidatedEvent {
                encoded,
                ids,
                record: Vec::new(),
            },
            // The field-by-field encoder no longer matches the event's layout: locate the ids
            // by decoding instead (slower, always right), and let debug builds say so.
            None => {
                debug_assert!(false, "encode_event_locating_ids is out of step with Event");
                ValidatedEvent::from_encoded(encoded)
            }
        }
    }

    /// Wraps a validated event's canonical encoding, locating its indexed ids by decoding it.
    fn from_encoded(encoded: Vec<u8>) -> ValidatedEvent {
        let view = EventView::decode(&encoded).expect("an event's own canonical encoding decodes");
        let base = encoded.as_ptr() as usize;
        // Every string of the view borrows from `encoded`, so its offset is its address less
        // the buffer's; events stay far below 4 GiB.
        let span = |s: &str| Span {
            start: (s.as_ptr() as usize - base) as u32,
            len: s.len() as u32,
        };
        let ids = IndexedIds {
            source: span(view.source),
            id: span(view.id),
            subject: span(view.subject.id),
            grant: view.grant_id.map(span),
            credential: view.credential.as_ref().map(|c| span(c.id)),
            resource: view.resource.map(span),
        };
        ValidatedEvent {
            encoded,
            ids,
            record: Vec::new(),
        }
    }
    fn text(&self, span: Span) -> &str {
        let bytes = &self.encoded[span.start as usize..(span.start + span.len) as usize];
        std::str::from_utf8(bytes).expect("spans cover strings of the validated encoding")
    }
    pub fn source(&self) -> &str {
        self.text(self.ids.source)
    }
    pub fn id(&self) -> &str {
        self.text(self.ids.id)
    }
    pub fn subject_id(&self) -> &str {
        self.text(self.ids.subject)
    }
    pub fn grant_id(&self) -> Option<&str> {
        self.ids.grant.map(|s| self.text(s))
    }
    pub fn credential_id(&self) -> Option<&str> {
        self.ids.credential.map(|s| self.text(s))
    }
    pub fn resource(&self) -> Option<&str> {
        self.ids.resource.map(|s| self.text(s))
    }
    /// A view of the event, borrowed from its encoding.
    pub fn view(&self) -> EventView<'_> {
        EventView::decode(&self.encoded).expect("an event's own canonical encoding decodes")
    }
    /// The owned event (decoded again from its encoding).
    pub fn to_event(&self) -> Event {
        self.view().to_event()
    }
    pub fn into_event(self) -> Event {
        self.to_event()
    }
    /// The event's canonical encoding: the bytes it has inside a leaf.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
    /// The event with the source record it was mapped from.
    pub fn with_record(mut self, record: &crate::source_record::SourceRecord) -> ValidatedEvent {
        self.record = crate::entry::encode_source_record(record);
        self
    }
    /// The encoded source record (`Some`) that follows the event in its leaf, or nothing for a
    /// native event (whose leaf holds `None` there).
    pub fn encoded_record(&self) -> &[u8] {
        &self.record
    }
    /// The canonical encoding, kept without copying.
    pub fn into_encoded(self) -> Vec<u8> {
        self.encoded
    }
    /// The SHA-256 of the event's canonical encoding (computed on each call).
    pub fn content_hash(&self) -> Hash {
        sha256(&self.encoded)
    }
    /// Validates an event built in code (rather than decoded from JSON) by the same rules.
    pub fn check(event: Event) -> Result<ValidatedEvent, RejectReason> {
        // Writing an event as JSON cannot fail; should it, the reason is in the project's words.
        let json = serde_json::to_vec(&event).map_err(|_| RejectReason::InvalidValue {
            field: String::new(),
            message: "the event cannot be written as JSON".into(),
        })?;
        decode_event(&json).map_err(|r| r.reason)
    }
}

/// The SHA-256 of an event's canonical encoding.
pub fn content_hash(event: &Event) -> Hash {
    sha256(&crate::entry::encode_event(event))
}

/// Decodes and validates one native JSON event.
#[allow(
    clippy::result_large_err,
    reason = "a rejection is an expected outcome, kept as evidence; it is built once per bad message"
)]
pub fn decode_event(raw: &[u8]) -> Result<ValidatedEvent, Rejection> {
    if raw.is_empty() {
        return Err(quarantine(raw, RejectReason::EmptyPayload));
    }
    if secret::holds_private_key_block(raw) {
        return Err(redact(raw, pem()));
    }
    if raw.len() > MAX_PAYLOAD_BYTES {
        let reason = RejectReason::Oversized {
            limit: MAX_PAYLOAD_BYTES as u64,
            found: raw.len() as u64,
        };
        return Err(quarantine(raw, reason));
    }
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t,
        Err(e) => {
            let reason = RejectReason::NotUtf8 {
                valid_up_to: e.valid_up_to() as u64,
            };
            return Err(quarantine(raw, reason));
        }
    };
    let parsed = wire::parse(text);
    let result = match parsed {
        Ok(wire) => validate(&wire).map(|event| ValidatedEvent::encode(&event)),
        Err(reason) => Err(Failure::Reason(reason)),
    };
    match result {
        Ok(validated) => {
            // An escaped marker (`\u0050RIVATE KEY-----`) passes the check of the raw bytes
            // above; the encoding holds every string as decoded.
            if memchr::memchr(b'\\', raw).is_some()
                && secret::holds_private_key_block(validated.encoded())
            {
                return Err(redact(raw, pem()));
            }
            Ok(validated)
        }
        Err(Failure::Secret(location)) => {
            Err(redact(raw, RejectReason::SecretMaterial { location }))
        }
        Err(Failure::RedactedReason(reason)) => Err(redact(raw, reason)),
        // A payload that failed for another reason may still carry a secret under a member
        // name the schema never reached: the rule for kept bytes decides.
        Err(Failure::Reason(reason)) => Err(quarantine(raw, reason)),
    }
}

/// The rejection of `raw` for `reason`, keeping its bytes only if the rule for kept bytes
/// (`secret::secret_in_input`) allows: where it finds secret material the reason becomes
/// `secret_material` there; where it cannot read the bytes the reason stands. Either way only
/// the length and SHA-256 are kept.
pub(crate) fn quarantine(raw: &[u8], reason: RejectReason) -> Rejection {
    match secret::secret_in_input(raw, MAX_KEPT_RAW_BYTES) {
        None => Rejection {
            reason,
            payload: KeptPayload::raw(raw),
        },
        Some(Finding::Secret(location)) => redact(raw, RejectReason::SecretMaterial { location }),
        Some(Finding::Unproven(_)) => redact(raw, reason),
    }
}

fn redact(raw: &[u8], reason: RejectReason) -> Rejection {
    Rejection {
        reason,
        payload: KeptPayload::redacted(raw),
    }
}

fn pem() -> RejectReason {
    RejectReason::SecretMaterial {
        location: secret::PEM_LOCATION.into(),
    }
}

enum Failure {
    Reason(RejectReason),
    /// Rejected for this reason, but the payload may hold a secret: keep only its hash.
    RedactedReason(RejectReason),
    Secret(String),
}

impl From<RejectReason> for Failure {
    fn from(r: RejectReason) -> Failure {
        Failure::Reason(r)
    }
}

/// A string field: not empty, at most `max` characters, and only characters of its kind (see
/// `characters`).
fn text<'w>(
    field: &str,
    value: &'w Option<Cow<'_, str>>,
    max: usize,
    chars: Chars,
) -> Result<Option<&'w str>, RejectReason> {
    match value.as_deref() {
        None => Ok(None),
        Some("") => Err(RejectReason::EmptyField {
            field: field.to_owned(),
        }),
        Some(v) => {
            if let Some(found) = characters::count_over(v, max) {
                return Err(RejectReason::FieldTooLong {
                    field: field.to_owned(),
                    limit: max as u64,
                    found,
                });
            }
            match characters::first_refused(v, chars) {
                Some((at, c)) => Err(RejectReason::InvalidValue {
                    field: field.to_owned(),
                    message: characters::refusal(at, c),
                }),
                None => Ok(Some(v)),
            }
        }
    }
}

/// A missing required field (built only once a field is found missing).
fn missing(field: &str) -> RejectReason {
    RejectReason::MissingField {
        field: field.to_owned(),
    }
}

fn required<'w>(field: &str, value: Option<&'w str>) -> Result<&'w str, RejectReason> {
    value.ok_or_else(|| missing(field))
}

fn enumerated<T>(
    field: &str,
    value: &Option<Cow<'_, str>>,
    parse: fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<Option<T>, RejectReason> {
    match value {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| RejectReason::WrongType {
            field: field.to_owned(),
            message: format!(
                "unknown value `{}`, expected one of {}",
                quote(v),
                names.join(", ")
            ),
        }),
    }
}

/// A time field: RFC 3339, inside the window of event times.
fn time_field(
    field: &str,
    value: &Option<Cow<'_, str>>,
) -> Result<Option<Timestamp>, RejectReason> {
    let Some(v) = value else { return Ok(None) };
    let invalid = |message: String| RejectReason::InvalidTime {
        field: field.to_owned(),
        found: quote(v),
        message,
    };
    let time = Timestamp::parse_rfc3339(v).map_err(|e| invalid(e.to_string()))?;
    if !time.is_event_time() {
        return Err(invalid(format!(
            "outside the window of event times, {EARLIEST_EVENT_TIME} (inclusive) to {EVENT_TIME_END} (exclusive)"
        )));
    }
    Ok(Some(time))
}

fn fingerprint(value: &str) -> Result<[u8; 32], RejectReason> {
    let bad = || RejectReason::BadFingerprint {
        found: quote(value),
    };
    let hex_part = value.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex_part.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| bad())?;
    Ok(out)
}

/// Validates a wire event built by a source format's mapper, by the native rules. A mapper
/// copies no member it does not know, so no failure needs the record redacted here; a secret
/// found is a reason like any other (the caller keeps the record by the rule for kept bytes).
pub(crate) fn validate_wire(w: &WireEvent<'_>) -> Result<ValidatedEvent, RejectReason> {
    match validate(w) {
        Ok(event) => Ok(ValidatedEvent::encode(&event)),
        Err(Failure::Reason(r) | Failure::RedactedReason(r)) => Err(r),
        Err(Failure::Secret(location)) => Err(RejectReason::SecretMaterial { location }),
    }
}

/// Validates a decoded wire event into a view borrowing its strings (from the input, or from the
/// wire event where JSON escapes had to be decoded): no string is copied before the event is
/// encoded.
fn validate<'w>(w: &'w WireEvent<'_>) -> Result<EventView<'w>, Failure> {
    let id = required("id", text("id", &w.id, MAX_ID_CHARS, Chars::Identifier)?)?;
    let source = required(
        "source",
        text("source", &w.source, MAX_ID_CHARS, Chars::Identifier)?,
    )?;
    let kind_text = w
        .kind
        .as_deref()
        .ok_or_else(|| RejectReason::MissingField {
            field: "type".into(),
        })?;
    let kind = EventType::parse(kind_text).ok_or_else(|| RejectReason::UnknownType {
        found: quote(kind_text),
    })?;
    let time = time_field("time", &w.time)?.ok_or_else(|| missing("time"))?;

    let subject = validate_subject(w.subject.as_ref())?;
    let actor = validate_actor(w.actor.as_ref(), kind)?;

    let credential = w.credential.as_ref().map(validate_credential).transpose()?;

    let attributes = match &w.attributes {
        Some(WireAttributes(list)) => validate_attributes(list)?,
        None => Vec::new(),
    };

    let policy = w.policy.as_ref().map(validate_policy).transpose()?;

    let event = EventView {
        source,
        id,
        kind,
        time,
        actor,
        subject,
        grant_id: text("grant_id", &w.grant_id, MAX_ID_CHARS, Chars::Identifier)?,
        request_id: text("request_id", &w.request_id, MAX_ID_CHARS, Chars::Identifier)?,
        resource: text("resource", &w.resource, MAX_TEXT_CHARS, Chars::Identifier)?,
        reason: text("reason", &w.reason, MAX_REASON_CHARS, Chars::FreeText)?,
        ticket: text("ticket", &w.ticket, MAX_TEXT_CHARS, Chars::Identifier)?,
        policy,
        decision: enumerated("decision", &w.decision, Decision::parse, Decision::NAMES)?,
        expires_at: time_field("expires_at", &w.expires_at)?,
        exception: w.exception.unwrap_or(false),
        credential,
        owner: text("owner", &w.owner, MAX_ID_CHARS, Chars::Identifier)?,
        attributes,
        outcome: enumerated("outcome", &w.outcome, Outcome::parse, Outcome::NAMES)?
            .unwrap_or(Outcome::Succeeded),
        membership: enumerated(
            "membership",
            &w.membership,
            MembershipKind::parse,
            MembershipKind::NAMES,
        )?,
    };
    check_required_for_type(&event)?;
    Ok(event)
}

/// The attributes, checked and sorted by key: no secret name, keys identifiers of at most
/// `MAX_ATTRIBUTE_KEY_CHARS`, text values free text of at most `MAX_TEXT_CHARS`, no key twice.
fn validate_attributes<'w>(
    list: &'w [(Cow<'_, str>, WireValue<'_>)],
) -> Result<Vec<(&'w str, AttrValueView<'w>)>, Failure> {
    if list.len() > MAX_ATTRIBUTES {
        return Err(RejectReason::InvalidValue {
            field: "attributes".into(),
            message: format!("{} attributes; the limit is {MAX_ATTRIBUTES}", list.len()),
        }
        .into());
    }
    let mut attributes = Vec::with_capacity(list.len());
    for (key, value) in list {
        let key: &str = key;
        // Built only for a rejection: this loop runs for every attribute of every event. The
        // key is quoted with the characters an identifier may not hold written out.
        let field = || format!("attributes.{}", quote(&characters::escaped(key)));
        if is_secret_name(key) {
            return Err(Failure::Secret(field()));
        }
        if key.is_empty() {
            return Err(RejectReason::EmptyField { field: field() }.into());
        }
        if let Some((at, c)) = characters::first_refused(key, Chars::Identifier) {
            return Err(RejectReason::InvalidValue {
                field: field(),
                message: format!("key {}", characters::refusal(at, c)),
            }
            .into());
        }
        if let Some(found) = characters::count_over(key, MAX_ATTRIBUTE_KEY_CHARS) {
            return Err(RejectReason::FieldTooLong {
                field: field(),
                limit: MAX_ATTRIBUTE_KEY_CHARS as u64,
                found,
            }
            .into());
        }
        if let WireValue::Text(t) = value
            && let Some(found) = characters::count_over(t, MAX_TEXT_CHARS)
        {
            return Err(RejectReason::FieldTooLong {
                field: field(),
                limit: MAX_TEXT_CHARS as u64,
                found,
            }
            .into());
        }
        let value = match value {
            WireValue::Text(t) => match characters::first_refused(t, Chars::FreeText) {
                Some((at, c)) => {
                    return Err(RejectReason::InvalidValue {
                        field: field(),
                        message: characters::refusal(at, c),
                    }
                    .into());
                }
                None => AttrValueView::Text(t),
            },
            WireValue::Integer(i) => AttrValueView::Integer(*i),
            WireValue::Number(n) => AttrValueView::Number(*n),
            WireValue::Bool(b) => AttrValueView::Bool(*b),
        };
        attributes.push((key, value));
    }
    attributes.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(pair) = attributes.windows(2).find(|p| p[0].0 == p[1].0) {
        return Err(RejectReason::InvalidValue {
            field: format!("attributes.{}", quote(pair[0].0)),
            message: "appears more than once".into(),
        }
        .into());
    }
    Ok(attributes)
}

/// The per-type requirements of docs/EVENTS.md.
fn check_required_for_type(e: &EventView<'_>) -> Result<(), RejectReason> {
    match e.kind.family() {
        Family::Access => {
            if e.grant_id.is_none() {
                return Err(missing("grant_id"));
            }
            if e.resource.is_none() {
                return Err(missing("resource"));
            }
            if e.kind == EventType::AccessReviewed && e.decision.is_none() {
                return Err(missing("decision"));
            }
        }
        Family::Credential => {
            if e.credential.is_none() {
                return Err(missing("credential"));
            }
        }
        Family::Identity => {
            let needs_owner = e.kind == EventType::IdentityOwnerChanged
                || (e.kind == EventType::IdentityCreated && !e.subject.kind.is_human());
            if needs_owner && e.owner.is_none() {
                return Err(missing("owner"));
            }
        }
    }
    if e.membership.is_some() && e.kind.family() != Family::Access {
        return Err(RejectReason::InvalidValue {
            field: "membership".into(),
            message: format!("only access events are membership, not `{}`", e.kind),
        });
    }
    if e.decision.is_some() && e.kind != EventType::AccessReviewed {
        return Err(RejectReason::InvalidValue {
            field: "decision".into(),
            message: format!(
                "only `access.reviewed` carries a decision, not `{}`",
                e.kind
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        Actor, ActorKind, AttrValue, Credential, CredentialKind, Policy, Subject, SubjectKind,
    };
    use proptest::prelude::*;

    proptest! {
        /// The ids located while encoding field by field are where a decode of the bytes finds
        /// them, and the bytes (encoded from a view of the event) are `encode_event`'s, with every
        /// optional field present or not and every kind of attribute value: the located path
        /// never needs its fallback.
        #[test]
        fn ids_located_while_encoding_are_where_decoding_finds_them(
            source in "\\PC{1,12}", id in "\\PC{1,24}", subject in "\\PC{1,30}",
            actor in proptest::option::of("\\PC{1,10}"),
            grant in proptest::option::of("\\PC{1,20}"),
            request in proptest::option::of("\\PC{0,8}"),
            resource in proptest::option::of("\\PC{1,20}"),
            reason in proptest::option::of("\\PC{0,40}"),
            policy in proptest::option::of(("\\PC{1,8}", proptest::option::of("\\PC{0,4}"))),
            expires in proptest::option::of(any::<i64>()),
            credential in proptest::option::of("\\PC{1,20}"),
            owner in proptest::option::of("\\PC{1,20}"),
            // Sorted by key, each key once, as every stored event's attributes are.
            attributes in proptest::collection::btree_map("\\PC{1,8}", prop_oneof![
                "\\PC{0,8}".prop_map(AttrValue::Text),
                any::<i64>().prop_map(AttrValue::Integer),
                (-1e300f64..1e300).prop_map(AttrValue::Number),
                any::<bool>().prop_map(AttrValue::Bool),
            ], 0..4),
        ) {
            let event = Event {
                source,
                id,
                kind: EventType::AccessGranted,
                time: Timestamp(1_700_000_000_000_000),
                actor: actor.map(|id| Actor { id, kind: ActorKind::Human, mfa: Some(true) }),
                subject: Subject { id: subject, kind: SubjectKind::ServiceAccount },
                grant_id: grant,
                request_id: request,
                resource,
                reason,
                ticket: None,
                policy: policy.map(|(id, version)| Policy { id, version, hash: None }),
                decision: Some(Decision::Keep),
                expires_at: expires.map(Timestamp),
                exception: true,
                credential: credential.map(|id| Credential {
                    id,
                    kind: CredentialKind::Certificate,
                    fingerprint: Some([7; 32]),
                }),
                owner,
                attributes: attributes.into_iter().collect(),
                outcome: crate::event::Outcome::Failed,
                membership: Some(crate::event::MembershipKind::Role),
            };
            let (bytes, at) = crate::entry::encode_event_locating_ids(&EventView::of(&event));
            prop_assert_eq!(&bytes, &crate::entry::encode_event(&event));
            let decoded = ValidatedEvent::from_encoded(bytes).ids;
            let start = |s: Option<Span>| s.map(|s| s.start as usize);
            prop_assert_eq!(
                (at.source, at.id, at.subject),
                (decoded.source.start as usize, decoded.id.start as usize, decoded.subject.start as usize)
            );
            prop_assert_eq!(
                (at.grant, at.resource, at.credential),
                (start(decoded.grant), start(decoded.resource), start(decoded.credential))
            );
            prop_assert_eq!(ValidatedEvent::encode(&EventView::of(&event)).ids, decoded);
        }
    }
}
