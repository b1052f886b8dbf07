//! What a source format's mapper builds from one record: an event in native terms (`Draft`),
//! still unvalidated, which `validate` checks by exactly the rules native JSON meets
//! (docs/EVENTS.md), and the helpers mappers share to read JSON records and name their fields.

use crate::decode::ValidatedEvent;
use crate::event::{
    ActorKind, AttrValue, CredentialKind, Decision, EventType, MembershipKind, Outcome, SubjectKind,
};
use crate::rejection::RejectReason;
use crate::time::Timestamp;
use crate::wire::{WireActor, WireAttributes, WireCredential, WireEvent, WireSubject, WireValue};
use std::borrow::Cow;

/// An identity lifecycle event as a mapper builds it, owned and typed. Every field means what
/// the native field of the same name means (docs/EVENTS.md); validation is the native one.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// The deduplication namespace: the format and, where the record names it, the tenant
    /// (`okta:acme.okta.com`, `cloudtrail:123456789012`); documented per format.
    pub source: String,
    /// The source's own event id: `(source, id)` is the deduplication key.
    pub id: String,
    pub kind: EventType,
    /// When the source says the event happened.
    pub time: Timestamp,
    pub actor: Option<DraftActor>,
    pub subject: DraftSubject,
    pub grant_id: Option<String>,
    pub request_id: Option<String>,
    pub resource: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub decision: Option<Decision>,
    pub expires_at: Option<Timestamp>,
    pub credential: Option<DraftCredential>,
    pub owner: Option<String>,
    /// Anything else worth keeping, by the source's own names (validated like native
    /// attributes: no secret names, at most 64; order does not matter).
    pub attributes: Vec<(String, AttrValue)>,
    /// `Failed` when the source reports the operation failed: kept, changes no projection.
    pub outcome: Outcome,
    /// Set on `access.granted`/`access.revoked` that are membership in a group, role or team.
    pub membership: Option<MembershipKind>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DraftActor {
    pub id: String,
    pub kind: ActorKind,
    pub mfa: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DraftSubject {
    pub id: String,
    pub kind: SubjectKind,
}

/// A credential by what identifies it. `fingerprint` is the SHA-256 of the credential's value
/// when the source gives one (never the value); passwords, MFA factors and certificates known
/// by serial or thumbprint have none.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftCredential {
    pub id: String,
    pub kind: CredentialKind,
    pub fingerprint: Option<[u8; 32]>,
}

impl Draft {
    /// A draft with the fields every event has; the rest empty, the outcome a success.
    pub fn new(
        source: impl Into<String>,
        id: impl Into<String>,
        kind: EventType,
        time: Timestamp,
        subject: DraftSubject,
    ) -> Draft {
        Draft {
            source: source.into(),
            id: id.into(),
            kind,
            time,
            actor: None,
            subject,
            grant_id: None,
            request_id: None,
            resource: None,
            reason: None,
            ticket: None,
            decision: None,
            expires_at: None,
            credential: None,
            owner: None,
            attributes: Vec::new(),
            outcome: Outcome::Succeeded,
            membership: None,
        }
    }

    /// The wire form native JSON decodes into, so validation is the native one.
    pub(crate) fn to_wire(&self) -> WireEvent<'_> {
        fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        let time = |t: Timestamp| Cow::Owned(t.to_rfc3339());
        WireEvent {
            id: Some(Cow::Borrowed(&self.id)),
            source: Some(Cow::Borrowed(&self.source)),
            kind: Some(Cow::Borrowed(self.kind.as_str())),
            time: Some(time(self.time)),
            actor: self.actor.as_ref().map(|a| WireActor {
                id: Some(Cow::Borrowed(&a.id)),
                kind: Some(Cow::Borrowed(a.kind.as_str())),
                mfa: a.mfa,
            }),
            subject: Some(WireSubject {
                id: Some(Cow::Borrowed(&self.subject.id)),
                kind: Some(Cow::Borrowed(self.subject.kind.as_str())),
            }),
            grant_id: text(&self.grant_id),
            request_id: text(&self.request_id),
            resource: text(&self.resource),
            reason: text(&self.reason),
            ticket: text(&self.ticket),
            policy: None,
            decision: self.decision.map(|d| Cow::Borrowed(d.as_str())),
            expires_at: self.expires_at.map(time),
            exception: None,
            credential: self.credential.as_ref().map(|c| WireCredential {
                id: Some(Cow::Borrowed(&c.id)),
                kind: Some(Cow::Borrowed(c.kind.as_str())),
                fingerprint: c
                    .fingerprint
                    .map(|f| Cow::Owned(format!("sha256:{}", crate::hash::Hash(f).to_hex()))),
                other_members: Vec::new(),
            }),
            owner: text(&self.owner),
            attributes: (!self.attributes.is_empty()).then(|| {
                WireAttributes(
                    self.attributes
                        .iter()
                        .map(|(k, v)| (Cow::Borrowed(k.as_str()), wire_value(v)))
                        .collect(),
                )
            }),
            outcome: Some(Cow::Borrowed(self.outcome.as_str())),
            membership: self.membership.map(|m| Cow::Borrowed(m.as_str())),
        }
    }

    /// Validates the draft by the native rules.
    pub fn validate(&self) -> Result<ValidatedEvent, RejectReason> {
        crate::decode::validate_wire(&self.to_wire())
    }
}

fn wire_value(v: &AttrValue) -> WireValue<'_> {
    match v {
        AttrValue::Text(t) => WireValue::Text(Cow::Borrowed(t)),
        AttrValue::Integer(i) => WireValue::Integer(*i),
        AttrValue::Number(n) => WireValue::Number(*n),
        AttrValue::Bool(b) => WireValue::Bool(*b),
    }
}

/// Why a record cannot be read as the format it claims: the field (a JSON pointer such as
/// `/eventName` or `/target/0/id`; empty for the whole record) and what was wrong, in the
/// project's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.field, self.message)
        }
    }
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
    /// A required field that is absent or null.
    pub fn missing(field: impl Into<String>) -> FieldError {
        FieldError::new(field, "required, absent or null")
    }
}

/// The JSON value at `pointer` (RFC 6901), if present and not null.
pub fn at<'v>(doc: &'v serde_json::Value, pointer: &str) -> Option<&'v serde_json::Value> {
    doc.pointer(pointer).filter(|v| !v.is_null())
}

/// The string at `pointer`, or a `FieldError` naming it: missing, or not a string.
pub fn required_str<'v>(doc: &'v serde_json::Value, pointer: &str) -> Result<&'v str, FieldError> {
    match at(doc, pointer) {
        None => Err(FieldError::missing(pointer)),
        Some(v) => v.as_str().ok_or_else(|| {
            FieldError::new(pointer, format!("expected a string, found {}", kind_of(v)))
        }),
    }
}

/// The string at `pointer` if present; a `FieldError` if present but not a string.
pub fn optional_str<'v>(
    doc: &'v serde_json::Value,
    pointer: &str,
) -> Result<Option<&'v str>, FieldError> {
    match at(doc, pointer) {
        None => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| {
            FieldError::new(pointer, format!("expected a string, found {}", kind_of(v)))
        }),
    }
}

/// The integer at `pointer`, or a `FieldError` naming it.
pub fn required_i64(doc: &serde_json::Value, pointer: &str) -> Result<i64, FieldError> {
    match at(doc, pointer) {
        None => Err(FieldError::missing(pointer)),
        Some(v) => v.as_i64().ok_or_else(|| {
            FieldError::new(
                pointer,
                format!("expected an integer, found {}", kind_of(v)),
            )
        }),
    }
}

/// An RFC 3339 time at `pointer`.
pub fn required_time(doc: &serde_json::Value, pointer: &str) -> Result<Timestamp, FieldError> {
    let text = required_str(doc, pointer)?;
    Timestamp::parse_rfc3339(text)
        .map_err(|e| FieldError::new(pointer, format!("not an RFC 3339 time: {e}")))
}

/// A time in milliseconds since the Unix epoch (OCSF's `timestamp_t`).
pub fn time_from_unix_millis(field: &str, millis: i64) -> Result<Timestamp, FieldError> {
    millis
        .checked_mul(1_000_000)
        .map(Timestamp)
        .ok_or_else(|| FieldError::new(field, format!("{millis} ms is outside the time range")))
}

/// How a JSON value's type is named in messages.
pub fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The grant id of a membership: one id for the same subject in the same group, role or team,
/// whichever format granted it and whichever revoked it, so the two read as one episode.
/// `resource` is the group's, role's or team's name as the source gives it; `subject` the
/// subject id the mapper chose (the login or e-mail address where the source has one).
pub fn membership_grant_id(kind: MembershipKind, resource: &str, subject: &str) -> String {
    format!("membership:{kind}:{resource}:{subject}")
}

/// A required string that must not be empty.
pub fn nonempty<'v>(doc: &'v serde_json::Value, pointer: &str) -> Result<&'v str, FieldError> {
    let text = required_str(doc, pointer)?;
    if text.is_empty() {
        return Err(FieldError::new(
            pointer,
            "expected a non-empty string, found \"\"",
        ));
    }
    Ok(text)
}

/// Free text native validation keeps as an attribute value: not empty, at most
/// `MAX_TEXT_CHARS` characters, and only characters free text may hold (`characters`).
pub fn is_keepable_text(text: &str) -> bool {
    use crate::characters::{Chars, count_over, first_refused};
    !text.is_empty()
        && count_over(text, crate::decode::MAX_TEXT_CHARS).is_none()
        && first_refused(text, Chars::FreeText).is_none()
}

/// Keeps the string at `pointer` as a text attribute if native validation keeps it as free
/// text; an extra that is absent, of another type, too long or holding a refused character is
/// left out rather than costing the event.
pub fn put_text(
    attributes: &mut Vec<(String, AttrValue)>,
    key: &str,
    doc: &serde_json::Value,
    pointer: &str,
) {
    if let Some(text) = at(doc, pointer).and_then(serde_json::Value::as_str)
        && is_keepable_text(text)
    {
        attributes.push((key.to_owned(), AttrValue::Text(text.to_owned())));
    }
}
