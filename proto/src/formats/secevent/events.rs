//! CAEP and RISC event types, each mapped to the idledger event it records: one `RecordOutcome`
//! per member of a SET's `events` (docs/formats/secevent.md, "Event types").

use super::super::RecordOutcome;
use super::super::draft::{Draft, DraftActor, DraftCredential, FieldError, kind_of};
use super::subject::{self, Prefer, Resolved};
use crate::event::{ActorKind, AttrValue, CredentialKind, EventType, SubjectKind};
use crate::time::Timestamp;

const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

/// The credential id recorded when a SET revokes every session of its subject.
pub(crate) const ALL_SESSIONS: &str = "all-sessions";

/// The event types idledger maps; every other URI is out of scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    SessionRevoked,
    CredentialChange,
    TokenClaimsChange,
    AssuranceLevelChange,
    DeviceComplianceChange,
    SessionEstablished,
    AccountCredentialChangeRequired,
    AccountPurged,
    AccountDisabled,
    AccountEnabled,
    IdentifierChanged,
    IdentifierRecycled,
    CredentialCompromise,
    RecoveryInformationChanged,
    SessionsRevoked,
}

fn classify(uri: &str) -> Option<Kind> {
    if let Some(name) = uri.strip_prefix(CAEP) {
        return match name {
            "session-revoked" => Some(Kind::SessionRevoked),
            "credential-change" => Some(Kind::CredentialChange),
            "token-claims-change" => Some(Kind::TokenClaimsChange),
            "assurance-level-change" => Some(Kind::AssuranceLevelChange),
            "device-compliance-change" => Some(Kind::DeviceComplianceChange),
            "session-established" => Some(Kind::SessionEstablished),
            _ => None,
        };
    }
    match uri.strip_prefix(RISC)? {
        "account-credential-change-required" => Some(Kind::AccountCredentialChangeRequired),
        "account-purged" => Some(Kind::AccountPurged),
        "account-disabled" => Some(Kind::AccountDisabled),
        "account-enabled" => Some(Kind::AccountEnabled),
        "identifier-changed" => Some(Kind::IdentifierChanged),
        "identifier-recycled" => Some(Kind::IdentifierRecycled),
        "credential-compromise" => Some(Kind::CredentialCompromise),
        "recovery-information-changed" => Some(Kind::RecoveryInformationChanged),
        "sessions-revoked" => Some(Kind::SessionsRevoked),
        _ => None,
    }
}

/// What every event of one SET shares.
#[derive(Debug)]
pub(crate) struct SetContext<'a> {
    pub(crate) claims: &'a serde_json::Value,
    pub(crate) iss: &'a str,
    pub(crate) jti: &'a str,
    /// `toe` if the SET has one, else `iat`: the time of an event without `event_timestamp`.
    pub(crate) default_time: Timestamp,
    /// Whether more than one event is in the SET, so each id gets `#<n>`.
    pub(crate) several: bool,
    /// The attributes every event of the SET carries (`set.verified`, `set.kid`, …).
    pub(crate) shared: Vec<(String, AttrValue)>,
}

/// The outcome of the `index`th event (in URI order) of a SET.
pub(crate) fn map_event(
    ctx: &SetContext<'_>,
    index: usize,
    uri: &str,
    body: &serde_json::Value,
) -> RecordOutcome {
    let pointer = format!("/events/{}", escape(uri));
    let Some(kind) = classify(uri) else {
        return RecordOutcome::out_of_scope(uri);
    };
    match build(ctx, kind, uri, body, &pointer) {
        Ok(Some(mut draft)) => {
            if ctx.several {
                draft.id = format!("{}#{index}", ctx.jti);
            }
            RecordOutcome::event(draft, ctx.jti, pointer)
        }
        Ok(None) => RecordOutcome::out_of_scope(uri),
        Err(error) => RecordOutcome::Malformed { pointer, error },
    }
}

/// RFC 6901: a member name as one reference token.
pub(crate) fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The draft for one event; `None` when its subject names no identity.
fn build(
    ctx: &SetContext<'_>,
    kind: Kind,
    uri: &str,
    body: &serde_json::Value,
    pointer: &str,
) -> Result<Option<Draft>, FieldError> {
    let Some(Started {
        mut draft,
        mut attrs,
        session,
    }) = start(ctx, kind, uri, body, pointer)?
    else {
        return Ok(None);
    };
    match kind {
        Kind::SessionRevoked | Kind::SessionsRevoked => {
            draft.kind = EventType::CredentialRevoked;
            draft.credential = Some(DraftCredential {
                id: session.unwrap_or_else(|| ALL_SESSIONS.to_owned()),
                kind: CredentialKind::Token,
                fingerprint: None,
            });
        }
        Kind::CredentialChange => credential_change(body, pointer, &mut draft, &mut attrs)?,
        Kind::TokenClaimsChange => token_claims_change(body, pointer, &mut attrs)?,
        Kind::AssuranceLevelChange => assurance_level_change(body, pointer, &mut attrs)?,
        Kind::DeviceComplianceChange => device_compliance_change(body, pointer, &mut attrs)?,
        Kind::SessionEstablished => session_established(body, pointer, &mut draft, &mut attrs)?,
        Kind::CredentialCompromise => {
            credential_compromise(body, pointer, &mut draft, &mut attrs)?;
        }
        Kind::AccountCredentialChangeRequired => {
            attrs.0.push((
                "risc.credential_change_required".into(),
                AttrValue::Bool(true),
            ));
        }
        Kind::AccountPurged => draft.kind = EventType::IdentityDeleted,
        Kind::AccountDisabled => {
            draft.kind = EventType::IdentityDisabled;
            if let Some(reason) = optional_text(body, pointer, "reason")? {
                draft.reason = Some(reason.to_owned());
            }
        }
        Kind::AccountEnabled => draft.kind = EventType::IdentityEnabled,
        Kind::IdentifierChanged => {
            attrs.text("risc.new_value", optional_text(body, pointer, "new-value")?);
        }
        Kind::IdentifierRecycled => {
            attrs
                .0
                .push(("risc.identifier_recycled".into(), AttrValue::Bool(true)));
        }
        Kind::RecoveryInformationChanged => {
            attrs.0.push((
                "risc.recovery_information_changed".into(),
                AttrValue::Bool(true),
            ));
        }
    }
    draft.attributes = attrs.0;
    Ok(Some(draft))
}

/// What every event type fills in the same way, before its own members are read.
struct Started {
    draft: Draft,
    attrs: Attrs,
    /// The session the subject names, if any.
    session: Option<String>,
}

/// The body checked to be an object, the subject resolved, the time, actor, reason and shared
/// attributes filled in; `None` when the subject names no identity.
fn start(
    ctx: &SetContext<'_>,
    kind: Kind,
    uri: &str,
    body: &serde_json::Value,
    pointer: &str,
) -> Result<Option<Started>, FieldError> {
    if !body.is_object() {
        return Err(FieldError::new(
            pointer,
            format!("expected an object, found {}", kind_of(body)),
        ));
    }
    let prefer = if kind == Kind::DeviceComplianceChange {
        Prefer::Device
    } else {
        Prefer::User
    };
    // The drafts of RISC before the Shared Signals Framework put the subject in the event.
    let resolved = match (
        body.get("subject").filter(|v| !v.is_null()),
        ctx.claims.get("sub_id").filter(|v| !v.is_null()),
    ) {
        (Some(inner), _) => subject::resolve(inner, &format!("{pointer}/subject"), prefer)?,
        (None, Some(sub_id)) => subject::resolve(sub_id, "/sub_id", prefer)?,
        (None, None) => return Err(FieldError::missing("/sub_id")),
    };
    let Some(Resolved { subject, session }) = resolved else {
        return Ok(None);
    };
    let time = match body.get("event_timestamp").filter(|v| !v.is_null()) {
        Some(v) => numeric_date(v, &format!("{pointer}/event_timestamp"))?,
        None => ctx.default_time,
    };
    let mut draft = Draft::new(
        format!("secevent:{}", ctx.iss),
        ctx.jti,
        EventType::IdentityUpdated,
        time,
        subject,
    );
    let mut attrs = Attrs(ctx.shared.clone());
    attrs.text("set.event_type", Some(uri));
    let initiating = optional_text(body, pointer, "initiating_entity")?;
    attrs.text("caep.initiating_entity", initiating);
    draft.actor = Some(actor(ctx.iss, initiating, &draft));
    draft.reason = localized(body, "reason_admin");
    Ok(Some(Started {
        draft,
        attrs,
        session,
    }))
}

/// CAEP `credential-change`: a credential created, updated, revoked or deleted.
fn credential_change(
    body: &serde_json::Value,
    pointer: &str,
    draft: &mut Draft,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    let credential_type = required_text(body, pointer, "credential_type")?;
    let change_type = required_text(body, pointer, "change_type")?;
    draft.kind = match change_type {
        "create" => EventType::CredentialIssued,
        "update" => EventType::CredentialRotated,
        "revoke" | "delete" => EventType::CredentialRevoked,
        other => {
            return Err(FieldError::new(
                format!("{pointer}/change_type"),
                format!(
                    "expected create, revoke, update or delete, found `{}`",
                    super::jws::printable(other)
                ),
            ));
        }
    };
    let serial = optional_text(body, pointer, "x509_serial")?;
    let friendly = optional_text(body, pointer, "friendly_name")?;
    draft.credential = Some(DraftCredential {
        id: serial.or(friendly).unwrap_or(credential_type).to_owned(),
        kind: credential_kind(credential_type),
        fingerprint: None,
    });
    attrs.text("caep.credential_type", Some(credential_type));
    attrs.text("caep.change_type", Some(change_type));
    attrs.text(
        "caep.x509_issuer",
        optional_text(body, pointer, "x509_issuer")?,
    );
    attrs.text(
        "caep.fido2_aaguid",
        optional_text(body, pointer, "fido2_aaguid")?,
    );
    if serial.is_some() {
        attrs.text("caep.friendly_name", friendly);
    }
    Ok(())
}

/// CAEP `token-claims-change`: the names of the claims that changed.
fn token_claims_change(
    body: &serde_json::Value,
    pointer: &str,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    let field = format!("{pointer}/claims");
    let claims = match body.get("claims") {
        Some(serde_json::Value::Object(claims)) if !claims.is_empty() => claims,
        None | Some(serde_json::Value::Null) => {
            return Err(FieldError::missing(field));
        }
        Some(other) => {
            return Err(FieldError::new(
                field,
                format!(
                    "expected an object of one or more claims, found {}",
                    describe(other)
                ),
            ));
        }
    };
    // Only the names: a claim's value may be anything, of any size.
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    attrs.text("caep.claims_changed", Some(&names.join(",")));
    Ok(())
}

/// CAEP `assurance-level-change`: the namespace and the levels, kept as attributes.
fn assurance_level_change(
    body: &serde_json::Value,
    pointer: &str,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    attrs.text(
        "caep.namespace",
        Some(required_text(body, pointer, "namespace")?),
    );
    attrs.text(
        "caep.current_level",
        Some(required_text(body, pointer, "current_level")?),
    );
    attrs.text(
        "caep.previous_level",
        optional_text(body, pointer, "previous_level")?,
    );
    attrs.text(
        "caep.change_direction",
        optional_text(body, pointer, "change_direction")?,
    );
    Ok(())
}

/// CAEP `device-compliance-change`: the previous and current status, each checked.
fn device_compliance_change(
    body: &serde_json::Value,
    pointer: &str,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    for member in ["previous_status", "current_status"] {
        let status = required_text(body, pointer, member)?;
        if status != "compliant" && status != "not-compliant" {
            return Err(FieldError::new(
                format!("{pointer}/{member}"),
                format!(
                    "expected compliant or not-compliant, found `{}`",
                    super::jws::printable(status)
                ),
            ));
        }
        attrs.text(&format!("caep.{member}"), Some(status));
    }
    Ok(())
}

/// CAEP `session-established`: the subject authenticated, recorded as done by the subject.
fn session_established(
    body: &serde_json::Value,
    pointer: &str,
    draft: &mut Draft,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    draft.kind = EventType::IdentityAuthenticated;
    draft.actor = Some(subject_as_actor(draft));
    attrs.text("caep.acr", optional_text(body, pointer, "acr")?);
    if let Some(amr) = body.get("amr").and_then(serde_json::Value::as_array) {
        let methods: Vec<&str> = amr.iter().filter_map(serde_json::Value::as_str).collect();
        attrs.text("caep.amr", Some(&methods.join(",")));
    }
    attrs.text("caep.ext_id", optional_text(body, pointer, "ext_id")?);
    Ok(())
}

/// RISC `credential-compromise`: the credential revoked, the reason `compromised` (the
/// administrator's reason kept as `risc.reason_admin`).
fn credential_compromise(
    body: &serde_json::Value,
    pointer: &str,
    draft: &mut Draft,
    attrs: &mut Attrs,
) -> Result<(), FieldError> {
    let credential_type = required_text(body, pointer, "credential_type")?;
    draft.kind = EventType::CredentialRevoked;
    draft.credential = Some(DraftCredential {
        id: credential_type.to_owned(),
        kind: credential_kind(credential_type),
        fingerprint: None,
    });
    attrs.text("caep.credential_type", Some(credential_type));
    attrs.text("risc.reason_admin", draft.reason.as_deref());
    draft.reason = Some("compromised".to_owned());
    Ok(())
}

/// Attributes as they are collected; absent values are left out.
struct Attrs(Vec<(String, AttrValue)>);

impl Attrs {
    fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            self.0
                .push((key.to_owned(), AttrValue::Text(value.to_owned())));
        }
    }
}

/// Who an event is recorded as done by: the subject when CAEP says the user did it, else the
/// transmitter (`iss`), a system, whatever `initiating_entity` says (kept as an attribute).
fn actor(iss: &str, initiating: Option<&str>, draft: &Draft) -> DraftActor {
    if initiating == Some("user") {
        return subject_as_actor(draft);
    }
    DraftActor {
        id: iss.to_owned(),
        kind: ActorKind::System,
        mfa: None,
    }
}

fn subject_as_actor(draft: &Draft) -> DraftActor {
    DraftActor {
        id: draft.subject.id.clone(),
        kind: if draft.subject.kind == SubjectKind::Human {
            ActorKind::Human
        } else {
            ActorKind::Service
        },
        mfa: None,
    }
}

/// The credential kind of a CAEP `credential_type` (also RISC's).
fn credential_kind(credential_type: &str) -> CredentialKind {
    match credential_type {
        // A PIN is a memorised secret the user types, as a password is.
        "password" | "pin" => CredentialKind::Password,
        "x509" => CredentialKind::Certificate,
        "fido2-platform" | "fido2-roaming" | "fido-u2f" | "phone-voice" | "phone-sms" | "app" => {
            CredentialKind::MfaFactor
        }
        // A verifiable credential is a signed token the holder presents.
        "verifiable-credential" => CredentialKind::Token,
        // CAEP allows any type the transmitter and receiver agree on; the type is kept in
        // `caep.credential_type`.
        _ => CredentialKind::Secret,
    }
}

/// A localizable message (`reason_admin`): its `en` text, else the first language in order; a
/// plain string as sent.
fn localized(body: &serde_json::Value, member: &str) -> Option<String> {
    match body.get(member)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Object(map) => map
            .get("en")
            .and_then(serde_json::Value::as_str)
            .or_else(|| {
                map.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
                    .min_by(|a, b| a.0.cmp(b.0))
                    .map(|(_, s)| s)
            })
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        _ => None,
    }
}

fn optional_text<'v>(
    body: &'v serde_json::Value,
    pointer: &str,
    member: &str,
) -> Result<Option<&'v str>, FieldError> {
    match body.get(member) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::new(
            format!("{pointer}/{member}"),
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn required_text<'v>(
    body: &'v serde_json::Value,
    pointer: &str,
    member: &str,
) -> Result<&'v str, FieldError> {
    match optional_text(body, pointer, member)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(FieldError::new(format!("{pointer}/{member}"), "empty")),
        None => Err(FieldError::missing(format!("{pointer}/{member}"))),
    }
}

fn describe(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Object(_) => "an empty object",
        other => kind_of(other),
    }
}

/// A NumericDate (RFC 7519: seconds since the epoch, possibly fractional) as a time.
pub(crate) fn numeric_date(v: &serde_json::Value, field: &str) -> Result<Timestamp, FieldError> {
    const NANOS: i64 = 1_000_000_000;
    let out_of_range = || FieldError::new(field, "seconds since the epoch outside the time range");
    if let Some(secs) = v.as_i64() {
        return secs
            .checked_mul(NANOS)
            .map(Timestamp)
            .ok_or_else(out_of_range);
    }
    match v.as_f64() {
        // `i64::MAX` nanoseconds is about 9.22e9 seconds; stay clear of the rounding edge.
        Some(secs) if secs.is_finite() && secs.abs() < 9.2e9 => {
            let nanos = (secs * 1e9).round() as i64;
            Ok(Timestamp(nanos))
        }
        Some(_) => Err(out_of_range()),
        None => Err(FieldError::new(
            field,
            format!(
                "expected seconds since the epoch (a number), found {}",
                kind_of(v)
            ),
        )),
    }
}
