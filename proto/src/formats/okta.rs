//! Okta: System Log events (`LogEvent`), alone, as the System Log API's array, or in an event
//! hook delivery, mapped to idledger events (docs/formats/okta.md).
//!
//! Sources: the System Log API's `LogEvent` object
//! (<https://developer.okta.com/docs/reference/api/system-log/>), the event type catalogue
//! (<https://developer.okta.com/docs/reference/api/event-types/>) and event hook deliveries
//! (<https://developer.okta.com/docs/concepts/event-hooks/>).

use super::draft::{
    at, kind_of, membership_grant_id, nonempty, optional_str, put_text, required_str, required_time,
};
use super::{
    Draft, DraftActor, DraftCredential, DraftSubject, FieldError, FormatSettings, RecordOutcome,
};
use crate::event::{
    ActorKind, AttrValue, CredentialKind, EventType, MembershipKind, Outcome, SubjectKind,
};
use serde_json::Value;

/// The deduplication namespace. A `LogEvent` names no org, and the event hook envelope's
/// `source` is deliberately not used: the same event polled from the System Log and delivered
/// by a hook must be the same `(source, id)`, or it would be recorded twice (or, with the org
/// kept as an attribute, quarantined as a conflicting duplicate). Okta's `uuid` is unique
/// across orgs.
const SOURCE: &str = "okta";
/// The `eventType` of an event hook delivery's envelope.
const HOOK_TYPE: &str = "com.okta.event_hook";
/// The resource of an Okta admin privilege grant: `user.account.privilege.revoke` takes away
/// every admin role at once and does not say which, so all admin roles are one membership
/// (the roles granted are kept in `okta.privileges`).
pub(crate) const ADMIN_ROLE: &str = "Okta administrator";

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): a `LogEvent`
/// (string `uuid`, `eventType` and `published`), an array whose first member is one (the System
/// Log API's answer), or an event hook delivery (`eventType` `com.okta.event_hook` with a
/// `data.events` array).
pub(crate) fn recognises(doc: &Value) -> bool {
    is_log_event(doc)
        || is_hook(doc)
        || doc
            .as_array()
            .and_then(|records| records.first())
            .is_some_and(is_log_event)
}

fn is_log_event(doc: &Value) -> bool {
    ["uuid", "eventType", "published"]
        .iter()
        .all(|k| doc.get(k).is_some_and(Value::is_string))
}

fn is_hook(doc: &Value) -> bool {
    doc.get("eventType").and_then(Value::as_str) == Some(HOOK_TYPE)
        && doc.pointer("/data/events").is_some_and(Value::is_array)
}

/// The records of one message of this format: each `LogEvent` its own outcome.
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    if doc.get("eventType").and_then(Value::as_str) == Some(HOOK_TYPE) {
        let events = match at(doc, "/data/events") {
            None => return Err(FieldError::missing("/data/events")),
            Some(Value::Array(events)) => events,
            Some(other) => {
                return Err(FieldError::new(
                    "/data/events",
                    format!("expected an array, found {}", kind_of(other)),
                ));
            }
        };
        return Ok(records(events, "/data/events"));
    }
    match doc {
        Value::Array(events) => Ok(records(events, "")),
        Value::Object(_) => Ok(vec![map_record(doc, "")]),
        other => Err(FieldError::new(
            "",
            format!(
                "expected an Okta LogEvent, an array of them or an event hook delivery, found {}",
                kind_of(other)
            ),
        )),
    }
}

fn records(events: &[Value], prefix: &str) -> Vec<RecordOutcome> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| map_record(event, &format!("{prefix}/{i}")))
        .collect()
}

/// What one `LogEvent` is. Field pointers in errors are relative to the record.
fn map_record(rec: &Value, pointer: &str) -> RecordOutcome {
    match read_record(rec) {
        Ok(Read::Event(draft)) => {
            let event_id = draft.id.clone();
            RecordOutcome::event(*draft, event_id, pointer)
        }
        Ok(Read::OutOfScope(kind)) => RecordOutcome::out_of_scope(kind),
        Err(error) => RecordOutcome::Malformed {
            pointer: pointer.to_owned(),
            error,
        },
    }
}

enum Read {
    Event(Box<Draft>),
    OutOfScope(String),
}

/// How an Okta event type maps (docs/formats/okta.md has the table).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// An identity event about the `User` target.
    Lifecycle(EventType),
    /// Membership of the `UserGroup` target.
    Group(EventType),
    /// Assignment to the `AppInstance` target.
    App(EventType),
    /// Admin privileges of the `User` target.
    Privilege(EventType),
    /// The `Token` target, an API token.
    ApiToken(EventType),
    /// One MFA factor of the `User` target.
    Factor(EventType),
    /// All MFA factors of the `User` target.
    FactorsReset,
    /// The `User` target's password.
    Password,
    /// The actor signing in.
    Login,
}

fn rule(event_type: &str) -> Option<Rule> {
    use EventType as T;
    Some(match event_type {
        "user.lifecycle.create" => Rule::Lifecycle(T::IdentityCreated),
        "user.lifecycle.activate" | "user.lifecycle.unsuspend" => {
            Rule::Lifecycle(T::IdentityEnabled)
        }
        "user.lifecycle.deactivate" | "user.lifecycle.suspend" => {
            Rule::Lifecycle(T::IdentityDisabled)
        }
        "user.lifecycle.delete" | "user.lifecycle.delete.completed" => {
            Rule::Lifecycle(T::IdentityDeleted)
        }
        "user.account.update_profile" => Rule::Lifecycle(T::IdentityUpdated),
        "group.user_membership.add" => Rule::Group(T::AccessGranted),
        "group.user_membership.remove" => Rule::Group(T::AccessRevoked),
        "application.user_membership.add" => Rule::App(T::AccessGranted),
        "application.user_membership.remove" => Rule::App(T::AccessRevoked),
        "user.account.privilege.grant" => Rule::Privilege(T::AccessGranted),
        "user.account.privilege.revoke" => Rule::Privilege(T::AccessRevoked),
        "system.api_token.create" => Rule::ApiToken(T::CredentialIssued),
        "system.api_token.revoke" => Rule::ApiToken(T::CredentialRevoked),
        "user.mfa.factor.activate" => Rule::Factor(T::CredentialIssued),
        "user.mfa.factor.deactivate" => Rule::Factor(T::CredentialRevoked),
        "user.mfa.factor.reset_all" => Rule::FactorsReset,
        "user.account.update_password" | "user.account.reset_password" => Rule::Password,
        "user.session.start" | "user.authentication.sso" | "user.authentication.auth_via_mfa" => {
            Rule::Login
        }
        _ => return None,
    })
}

fn read_record(rec: &Value) -> Result<Read, FieldError> {
    if !rec.is_object() {
        return Err(FieldError::new(
            "",
            format!("expected a LogEvent object, found {}", kind_of(rec)),
        ));
    }
    let event_type = nonempty(rec, "/eventType")?;
    let Some(rule) = rule(event_type) else {
        return Ok(Read::OutOfScope(event_type.to_owned()));
    };
    let Some(outcome) = outcome(rec)? else {
        return Ok(Read::OutOfScope(event_type.to_owned()));
    };
    let id = nonempty(rec, "/uuid")?;
    let time = required_time(rec, "/published")?;
    let actor = actor(rec)?;

    let mut attributes = vec![(
        "okta.event_type".to_owned(),
        AttrValue::Text(event_type.to_owned()),
    )];
    for (key, pointer) in [
        ("okta.display_message", "/displayMessage"),
        ("okta.outcome_reason", "/outcome/reason"),
        ("okta.transaction_id", "/transaction/id"),
        ("okta.client_ip", "/client/ipAddress"),
        ("okta.actor_id", "/actor/id"),
    ] {
        put_text(&mut attributes, key, rec, pointer);
    }

    let (kind, subject) = match rule {
        Rule::Lifecycle(kind) => (kind, user_target(rec, &mut attributes)?),
        Rule::Login => {
            // The one signing in is the actor: a session has no `User` target.
            if actor.kind != ActorKind::Human {
                return Err(FieldError::new(
                    "/actor/type",
                    format!(
                        "a sign-in is by a User, found {}",
                        quote(required_str(rec, "/actor/type")?)
                    ),
                ));
            }
            put_text(
                &mut attributes,
                "okta.auth_provider",
                rec,
                "/authenticationContext/authenticationProvider",
            );
            if let Some((i, _)) = find_target(rec, "AppInstance")? {
                put_text(
                    &mut attributes,
                    "okta.app",
                    rec,
                    &format!("/target/{i}/displayName"),
                );
            }
            let subject = DraftSubject {
                id: actor.id.clone(),
                kind: SubjectKind::Human,
            };
            (EventType::IdentityAuthenticated, subject)
        }
        Rule::ApiToken(kind) => {
            let (i, _) = target(rec, "Token")?;
            let token = nonempty(rec, &format!("/target/{i}/id"))?;
            put_text(
                &mut attributes,
                "okta.token_name",
                rec,
                &format!("/target/{i}/displayName"),
            );
            let subject = DraftSubject {
                id: token.to_owned(),
                kind: SubjectKind::ApiKey,
            };
            (kind, subject)
        }
        Rule::Group(kind) | Rule::App(kind) | Rule::Privilege(kind) | Rule::Factor(kind) => {
            (kind, user_target(rec, &mut attributes)?)
        }
        Rule::FactorsReset => (
            EventType::CredentialRevoked,
            user_target(rec, &mut attributes)?,
        ),
        Rule::Password => (
            EventType::CredentialRotated,
            user_target(rec, &mut attributes)?,
        ),
    };

    let mut draft = Draft::new(SOURCE, id, kind, time, subject);
    draft.actor = Some(actor);
    draft.outcome = outcome;
    fill_specifics(&mut draft, rule, rec, &mut attributes)?;
    draft.attributes = attributes;
    Ok(Read::Event(Box::new(draft)))
}

/// The fields one rule adds to the draft: grants, resources and credentials.
fn fill_specifics(
    draft: &mut Draft,
    rule: Rule,
    rec: &Value,
    attributes: &mut Vec<(String, AttrValue)>,
) -> Result<(), FieldError> {
    let login = draft.subject.id.clone();
    match rule {
        Rule::Lifecycle(_) => {}
        Rule::Login => {
            if at(rec, "/eventType").and_then(Value::as_str)
                == Some("user.authentication.auth_via_mfa")
            {
                // The factor used, where the event names it; a sign-in's credential is optional.
                draft.credential = factor_name(rec)?.map(|factor| {
                    credential(
                        format!("okta:{login}:mfa:{factor}"),
                        CredentialKind::MfaFactor,
                    )
                });
            }
        }
        Rule::Group(_) => {
            let (i, _) = target(rec, "UserGroup")?;
            let group = nonempty(rec, &format!("/target/{i}/displayName"))?;
            draft.membership = Some(MembershipKind::Group);
            draft.grant_id = Some(membership_grant_id(MembershipKind::Group, group, &login));
            draft.resource = Some(group.to_owned());
        }
        Rule::App(_) => {
            let (i, _) = target(rec, "AppInstance")?;
            let app_id = nonempty(rec, &format!("/target/{i}/id"))?;
            let app = nonempty(rec, &format!("/target/{i}/displayName"))?;
            draft.grant_id = Some(format!("okta-app:{app_id}:{login}"));
            draft.resource = Some(app.to_owned());
        }
        Rule::Privilege(_) => {
            put_text(
                attributes,
                "okta.privileges",
                rec,
                "/debugContext/debugData/privilegeGranted",
            );
            draft.membership = Some(MembershipKind::Role);
            draft.grant_id = Some(membership_grant_id(
                MembershipKind::Role,
                ADMIN_ROLE,
                &login,
            ));
            draft.resource = Some(ADMIN_ROLE.to_owned());
        }
        Rule::ApiToken(_) => {
            draft.credential = Some(credential(
                format!("okta:token:{}", draft.subject.id),
                CredentialKind::Token,
            ));
        }
        Rule::Factor(_) => {
            let factor = factor_name(rec)?.ok_or_else(|| {
                FieldError::new(
                    "/target",
                    "no AuthenticatorEnrollment or Factor target, and no /debugContext/debugData/factor",
                )
            })?;
            draft.credential = Some(credential(
                format!("okta:{login}:mfa:{factor}"),
                CredentialKind::MfaFactor,
            ));
        }
        Rule::FactorsReset => {
            draft.credential = Some(credential(
                format!("okta:{login}:mfa:all"),
                CredentialKind::MfaFactor,
            ));
        }
        Rule::Password => {
            draft.credential = Some(credential(
                format!("okta:{login}:password"),
                CredentialKind::Password,
            ));
        }
    }
    Ok(())
}

fn credential(id: String, kind: CredentialKind) -> DraftCredential {
    DraftCredential {
        id,
        kind,
        fingerprint: None,
    }
}

/// `outcome.result`: `Some` outcome for a finished operation, `None` for one that neither
/// succeeded nor failed (`SKIPPED`, `CHALLENGE`, `UNKNOWN`: out of scope).
fn outcome(rec: &Value) -> Result<Option<Outcome>, FieldError> {
    match required_str(rec, "/outcome/result")? {
        "SUCCESS" | "ALLOW" => Ok(Some(Outcome::Succeeded)),
        "FAILURE" | "DENY" => Ok(Some(Outcome::Failed)),
        "SKIPPED" | "CHALLENGE" | "UNKNOWN" => Ok(None),
        other => Err(FieldError::new(
            "/outcome/result",
            format!(
                "expected SUCCESS, FAILURE, ALLOW, DENY, SKIPPED, CHALLENGE or UNKNOWN, found {}",
                quote(other)
            ),
        )),
    }
}

/// Who acted: a `User` by login (lowercased), Okta itself (`SystemPrincipal`) or any other
/// principal (an app, a client, a token) by `alternateId`, else its Okta id.
fn actor(rec: &Value) -> Result<DraftActor, FieldError> {
    let kind = match nonempty(rec, "/actor/type")? {
        "User" => ActorKind::Human,
        "SystemPrincipal" => ActorKind::System,
        _ => ActorKind::Service,
    };
    let id = match kind {
        ActorKind::Human => nonempty(rec, "/actor/alternateId")?.to_lowercase(),
        _ => match optional_str(rec, "/actor/alternateId")? {
            Some(name) if !name.is_empty() && name != "unknown" => name.to_owned(),
            _ => nonempty(rec, "/actor/id")?.to_owned(),
        },
    };
    Ok(DraftActor {
        id,
        kind,
        mfa: None,
    })
}

/// The `User` target as the subject: its login (`alternateId`), lowercased.
fn user_target(
    rec: &Value,
    attributes: &mut Vec<(String, AttrValue)>,
) -> Result<DraftSubject, FieldError> {
    let (i, _) = target(rec, "User")?;
    let login = nonempty(rec, &format!("/target/{i}/alternateId"))?;
    put_text(attributes, "okta.user_id", rec, &format!("/target/{i}/id"));
    Ok(DraftSubject {
        id: login.to_lowercase(),
        kind: SubjectKind::Human,
    })
}

/// The factor an MFA event is about: the id of its `AuthenticatorEnrollment` (Identity Engine)
/// or `Factor` target, else `debugContext.debugData.factor` (the factor type, such as
/// `OKTA_VERIFY_PUSH`).
fn factor_name(rec: &Value) -> Result<Option<String>, FieldError> {
    for kind in ["AuthenticatorEnrollment", "Factor"] {
        if let Some((i, _)) = find_target(rec, kind)? {
            return Ok(Some(nonempty(rec, &format!("/target/{i}/id"))?.to_owned()));
        }
    }
    Ok(optional_str(rec, "/debugContext/debugData/factor")?
        .filter(|f| !f.is_empty())
        .map(str::to_owned))
}

/// The first target of `kind`, or an error naming `/target`.
fn target<'v>(rec: &'v Value, kind: &str) -> Result<(usize, &'v Value), FieldError> {
    if at(rec, "/target").is_none() {
        return Err(FieldError::missing("/target"));
    }
    find_target(rec, kind)?
        .ok_or_else(|| FieldError::new("/target", format!("no target of type {kind}")))
}

/// The first target of `kind`, if any (none when `target` is absent, as it is on a sign-in); an
/// error if `target` is not an array.
fn find_target<'v>(rec: &'v Value, kind: &str) -> Result<Option<(usize, &'v Value)>, FieldError> {
    let targets = match at(rec, "/target") {
        None => return Ok(None),
        Some(Value::Array(targets)) => targets,
        Some(other) => {
            return Err(FieldError::new(
                "/target",
                format!("expected an array, found {}", kind_of(other)),
            ));
        }
    };
    Ok(targets
        .iter()
        .enumerate()
        .find(|(_, t)| t.get("type").and_then(Value::as_str) == Some(kind)))
}

fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
#[path = "okta_tests.rs"]
mod tests;
