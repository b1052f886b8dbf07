//! Validation of the event's nested objects (subject, actor, credential, policy) into views
//! borrowing their strings, each refusing what does not fit with the reason the event gets.

use super::{Failure, enumerated, fingerprint, is_secret_name, missing, required, text};
use super::{MAX_ID_CHARS, MAX_TEXT_CHARS};
use crate::characters::{self, Chars};
use crate::event::{ActorKind, CredentialKind, EventType, SubjectKind};
use crate::rejection::RejectReason;
use crate::view::{ActorView, CredentialView, PolicyView, SubjectView};
use crate::wire;

/// The subject: required, with an identifier and a kind.
pub(super) fn validate_subject<'w>(
    subject: Option<&'w wire::WireSubject<'_>>,
) -> Result<SubjectView<'w>, Failure> {
    let subject = subject.ok_or_else(|| missing("subject"))?;
    Ok(SubjectView {
        id: required(
            "subject.id",
            text("subject.id", &subject.id, MAX_ID_CHARS, Chars::Identifier)?,
        )?,
        kind: enumerated(
            "subject.kind",
            &subject.kind,
            SubjectKind::parse,
            SubjectKind::NAMES,
        )?
        .ok_or_else(|| missing("subject.kind"))?,
    })
}

/// The actor: required unless the event's type may happen without one.
pub(super) fn validate_actor<'w>(
    actor: Option<&'w wire::WireActor<'_>>,
    kind: EventType,
) -> Result<Option<ActorView<'w>>, Failure> {
    match actor {
        Some(a) => Ok(Some(ActorView {
            id: required(
                "actor.id",
                text("actor.id", &a.id, MAX_ID_CHARS, Chars::Identifier)?,
            )?,
            kind: enumerated("actor.kind", &a.kind, ActorKind::parse, ActorKind::NAMES)?
                .ok_or_else(|| missing("actor.kind"))?,
            mfa: a.mfa,
        })),
        None if kind.actor_optional() => Ok(None),
        None => Err(RejectReason::MissingField {
            field: "actor".into(),
        }
        .into()),
    }
}

/// A credential: its identifier, kind and fingerprint, and no other member (a member with a
/// secret's name is a secret finding; any other is refused with the payload redacted, since it
/// may hold a secret under a name not recognised).
pub(super) fn validate_credential<'w>(
    c: &'w wire::WireCredential<'_>,
) -> Result<CredentialView<'w>, Failure> {
    if let Some(member) = c.other_members.iter().find(|m| is_secret_name(m)) {
        return Err(Failure::Secret(format!(
            "credential.{}",
            characters::escaped(member)
        )));
    }
    if let Some(member) = c.other_members.first() {
        return Err(Failure::RedactedReason(RejectReason::UnknownField {
            field: format!("credential.{}", characters::escaped(member)),
        }));
    }
    Ok(CredentialView {
        id: required(
            "credential.id",
            text("credential.id", &c.id, MAX_ID_CHARS, Chars::Identifier)?,
        )?,
        kind: enumerated(
            "credential.kind",
            &c.kind,
            CredentialKind::parse,
            CredentialKind::NAMES,
        )?
        .ok_or_else(|| missing("credential.kind"))?,
        fingerprint: c.fingerprint.as_deref().map(fingerprint).transpose()?,
    })
}

/// A policy: its identifier, and an optional version and hash.
pub(super) fn validate_policy<'w>(p: &'w wire::WirePolicy<'_>) -> Result<PolicyView<'w>, Failure> {
    Ok(PolicyView {
        id: required(
            "policy.id",
            text("policy.id", &p.id, MAX_ID_CHARS, Chars::Identifier)?,
        )?,
        version: text(
            "policy.version",
            &p.version,
            MAX_TEXT_CHARS,
            Chars::Identifier,
        )?,
        hash: text("policy.hash", &p.hash, MAX_TEXT_CHARS, Chars::Identifier)?,
    })
}
