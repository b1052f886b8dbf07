//! Entra ID: Microsoft Entra ID audit logs, as Microsoft Graph `directoryAudit` objects (alone
//! or a `value` page) or as Azure Monitor diagnostic-settings records (`records`), mapped to
//! idledger events (docs/formats/entra.md).
//!
//! Sources: the `directoryAudit` resource
//! (<https://learn.microsoft.com/graph/api/resources/directoryaudit>), the Azure Monitor
//! resource log schema (<https://learn.microsoft.com/azure/azure-monitor/platform/resource-logs-schema>)
//! and the `AuditLogs` table (<https://learn.microsoft.com/azure/azure-monitor/reference/tables/auditlogs>).

mod keys;

use super::draft::{
    at, is_keepable_text, kind_of, membership_grant_id, nonempty, optional_str, put_text,
    required_time,
};
use super::{
    Draft, DraftActor, DraftCredential, DraftSubject, FieldError, FormatSettings, RecordOutcome,
};
use crate::event::{ActorKind, AttrValue, EventType, MembershipKind, Outcome, SubjectKind};
use serde_json::Value;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): a
/// `directoryAudit` (string `activityDisplayName`, `category` and `loggedByService`), a Graph
/// page of them (`value`), or a diagnostic-settings message (`records` whose first member has
/// a string `operationName` and an object `properties`).
pub(crate) fn recognises(doc: &Value) -> bool {
    is_audit(doc)
        || first_of(doc, "value").is_some_and(is_audit)
        || first_of(doc, "records").is_some_and(|r| {
            r.get("operationName").is_some_and(Value::is_string)
                && r.get("properties").is_some_and(Value::is_object)
        })
}

fn is_audit(doc: &Value) -> bool {
    ["activityDisplayName", "category", "loggedByService"]
        .iter()
        .all(|k| doc.get(k).is_some_and(Value::is_string))
}

fn first_of<'v>(doc: &'v Value, key: &str) -> Option<&'v Value> {
    doc.get(key)?.as_array()?.first()
}

/// The records of one message of this format: each audit its own outcome.
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    if !doc.is_object() {
        return Err(FieldError::new(
            "",
            format!(
                "expected a directoryAudit, a page of them or diagnostic records, found {}",
                kind_of(doc)
            ),
        ));
    }
    if doc.get("records").is_some() {
        let records = array(doc, "/records")?;
        return Ok(records
            .iter()
            .enumerate()
            .flat_map(|(i, rec)| outcomes(rec, Shape::Diagnostic, &format!("/records/{i}")))
            .collect());
    }
    if doc.get("value").is_some() && !is_audit(doc) {
        let audits = array(doc, "/value")?;
        return Ok(audits
            .iter()
            .enumerate()
            .flat_map(|(i, audit)| outcomes(audit, Shape::Audit, &format!("/value/{i}")))
            .collect());
    }
    Ok(outcomes(doc, Shape::Audit, ""))
}

fn array<'v>(doc: &'v Value, pointer: &str) -> Result<&'v Vec<Value>, FieldError> {
    match at(doc, pointer) {
        None => Err(FieldError::missing(pointer)),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(FieldError::new(
            pointer,
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
}

/// How a record holds its audit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// A `directoryAudit` object.
    Audit,
    /// An Azure Monitor record: the audit in `properties`, the tenant in `tenantId`.
    Diagnostic,
}

/// What one record is: one or more events, out of scope, or malformed.
fn outcomes(rec: &Value, shape: Shape, pointer: &str) -> Vec<RecordOutcome> {
    match read_record(rec, shape) {
        Ok(Read::Events(audit_id, drafts)) => drafts
            .into_iter()
            .map(|draft| RecordOutcome::event(draft, audit_id.clone(), pointer))
            .collect(),
        Ok(Read::OutOfScope(kind)) => vec![RecordOutcome::out_of_scope(kind)],
        Err(error) => vec![RecordOutcome::Malformed {
            pointer: pointer.to_owned(),
            error,
        }],
    }
}

enum Read {
    Events(String, Vec<Draft>),
    OutOfScope(String),
}

/// How an audit activity maps (docs/formats/entra.md has the table).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// An identity event about the `User` target.
    User(EventType),
    /// `Update user`: identity.updated, or disabled/enabled when `AccountEnabled` changed.
    UserUpdated,
    /// Membership of the target user, service principal or device in a group or role.
    Member(EventType, MembershipKind),
    /// An identity event about the `ServicePrincipal` target.
    ServicePrincipal(EventType),
    /// Keys of an application or service principal added or removed; `KeyDescription`
    /// required or not.
    Keys { required: bool },
}

fn rule(activity: &str) -> Option<Rule> {
    use EventType as T;
    Some(match activity {
        "Add user" => Rule::User(T::IdentityCreated),
        "Update user" => Rule::UserUpdated,
        "Disable account" => Rule::User(T::IdentityDisabled),
        "Enable account" => Rule::User(T::IdentityEnabled),
        "Delete user" => Rule::User(T::IdentityDeleted),
        "Add member to group" => Rule::Member(T::AccessGranted, MembershipKind::Group),
        "Remove member from group" => Rule::Member(T::AccessRevoked, MembershipKind::Group),
        "Add member to role" => Rule::Member(T::AccessGranted, MembershipKind::Role),
        "Remove member from role" => Rule::Member(T::AccessRevoked, MembershipKind::Role),
        "Add service principal" => Rule::ServicePrincipal(T::IdentityCreated),
        "Remove service principal" => Rule::ServicePrincipal(T::IdentityDeleted),
        // Entra writes an en dash; exports and rules often carry a hyphen.
        "Update application \u{2013} Certificates and secrets management"
        | "Update application - Certificates and secrets management" => {
            Rule::Keys { required: false }
        }
        "Add service principal credentials" | "Remove service principal credentials" => {
            Rule::Keys { required: true }
        }
        _ => return None,
    })
}

/// One record being read, and where its audit's members are in it.
struct Audit<'v> {
    rec: &'v Value,
    /// The pointer of the audit's members within the record: empty, or `/properties`.
    base: &'static str,
}

impl<'v> Audit<'v> {
    fn field(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }
    fn optional(&self, name: &str) -> Result<Option<&'v str>, FieldError> {
        optional_str(self.rec, &self.field(name))
    }
    fn nonempty(&self, name: &str) -> Result<&'v str, FieldError> {
        nonempty(self.rec, &self.field(name))
    }
}

fn read_record(rec: &Value, shape: Shape) -> Result<Read, FieldError> {
    if !rec.is_object() {
        return Err(FieldError::new(
            "",
            format!("expected an audit record object, found {}", kind_of(rec)),
        ));
    }
    let (audit, source) = match shape {
        Shape::Audit => (Audit { rec, base: "" }, "entra".to_owned()),
        Shape::Diagnostic => {
            let category = nonempty(rec, "/category")?;
            if category != "AuditLogs" {
                let operation = optional_str(rec, "/operationName")?.unwrap_or_default();
                return Ok(Read::OutOfScope(format!("entra:{category}:{operation}")));
            }
            match at(rec, "/properties") {
                Some(Value::Object(_)) => {}
                None => return Err(FieldError::missing("/properties")),
                Some(other) => {
                    return Err(FieldError::new(
                        "/properties",
                        format!("expected an object, found {}", kind_of(other)),
                    ));
                }
            }
            let source = match optional_str(rec, "/tenantId")? {
                Some(tenant) if !tenant.is_empty() => format!("entra:{tenant}"),
                _ => "entra".to_owned(),
            };
            (
                Audit {
                    rec,
                    base: "/properties",
                },
                source,
            )
        }
    };

    let activity = audit.nonempty("activityDisplayName")?;
    let category = audit.nonempty("category")?;
    let Some(rule) = rule(activity) else {
        return Ok(Read::OutOfScope(format!("entra:{category}:{activity}")));
    };
    let outcome = outcome(&audit)?;
    let id = audit.nonempty("id")?;
    let time = match (shape, at(rec, &audit.field("activityDateTime"))) {
        (Shape::Diagnostic, None) => required_time(rec, "/time")?,
        _ => required_time(rec, &audit.field("activityDateTime"))?,
    };
    let actor = actor(&audit)?;
    let targets = array(rec, &audit.field("targetResources"))?;

    let mut attributes = vec![
        (
            "entra.activity".to_owned(),
            AttrValue::Text(activity.to_owned()),
        ),
        (
            "entra.category".to_owned(),
            AttrValue::Text(category.to_owned()),
        ),
    ];
    for (key, name) in [
        ("entra.correlation_id", "correlationId"),
        ("entra.logged_by_service", "loggedByService"),
        ("entra.operation_type", "operationType"),
        ("entra.result_reason", "resultReason"),
        ("entra.initiator_ip", "initiatedBy/user/ipAddress"),
    ] {
        put_text(&mut attributes, key, rec, &audit.field(name));
    }
    let common = Common {
        source,
        id: id.to_owned(),
        time,
        actor,
        outcome,
        attributes,
    };
    let drafts = match rule {
        Rule::User(kind) => vec![user_event(&audit, targets, &common, kind)?],
        Rule::UserUpdated => {
            let kind =
                account_enabled_change(&audit, targets)?.unwrap_or(EventType::IdentityUpdated);
            vec![user_event(&audit, targets, &common, kind)?]
        }
        Rule::Member(kind, membership) => {
            match member_event(&audit, targets, &common, kind, membership)? {
                Some(draft) => vec![draft],
                None => return Ok(Read::OutOfScope(format!("entra:{category}:{activity}"))),
            }
        }
        Rule::ServicePrincipal(kind) => {
            vec![service_principal_event(&audit, targets, &common, kind)?]
        }
        Rule::Keys { required } => {
            let drafts = key_events(&audit, targets, &common, required)?;
            if drafts.is_empty() {
                return Ok(Read::OutOfScope(format!("entra:{category}:{activity}")));
            }
            drafts
        }
    };
    Ok(Read::Events(id.to_owned(), drafts))
}

/// What every event of one audit shares.
struct Common {
    source: String,
    id: String,
    time: crate::time::Timestamp,
    actor: DraftActor,
    outcome: Outcome,
    attributes: Vec<(String, AttrValue)>,
}

impl Common {
    fn draft(&self, kind: EventType, subject: DraftSubject) -> Draft {
        let mut draft = Draft::new(
            self.source.clone(),
            self.id.clone(),
            kind,
            self.time,
            subject,
        );
        draft.actor = Some(self.actor.clone());
        draft.outcome = self.outcome;
        draft.attributes = self.attributes.clone();
        draft
    }
}

/// `result`: success, or failure and timeout (the operation is not known to be done: kept as
/// a failure, which changes no state). Diagnostic records without it give `resultType`.
fn outcome(audit: &Audit<'_>) -> Result<Outcome, FieldError> {
    let (pointer, text) = match audit.optional("result")? {
        Some(text) => (audit.field("result"), text),
        None if audit.base.is_empty() => return Err(FieldError::missing("/result")),
        None => match optional_str(audit.rec, "/resultType")? {
            Some(text) => ("/resultType".to_owned(), text),
            None => return Err(FieldError::missing(audit.field("result"))),
        },
    };
    match text.to_ascii_lowercase().as_str() {
        "success" => Ok(Outcome::Succeeded),
        "failure" | "timeout" => Ok(Outcome::Failed),
        _ => Err(FieldError::new(
            pointer,
            format!("expected success, failure or timeout, found {text:?}"),
        )),
    }
}

/// Who acted: `initiatedBy.user` (a human, by userPrincipalName lowercased, else object id)
/// or `initiatedBy.app` (a service, by display name, else appId, else service principal id).
fn actor(audit: &Audit<'_>) -> Result<DraftActor, FieldError> {
    let rec = audit.rec;
    let user = audit.field("initiatedBy/user");
    let app = audit.field("initiatedBy/app");
    let first = |pointers: &[String]| -> Result<Option<String>, FieldError> {
        for pointer in pointers {
            if let Some(text) = optional_str(rec, pointer)?.filter(|t| !t.is_empty()) {
                return Ok(Some(text.to_owned()));
            }
        }
        Ok(None)
    };
    if at(rec, &user).is_some_and(Value::is_object) {
        let id = first(&[format!("{user}/userPrincipalName"), format!("{user}/id")])?
            .ok_or_else(|| FieldError::missing(format!("{user}/userPrincipalName")))?;
        return Ok(DraftActor {
            id: id.to_lowercase(),
            kind: ActorKind::Human,
            mfa: None,
        });
    }
    if at(rec, &app).is_some_and(Value::is_object) {
        let id = first(&[
            format!("{app}/displayName"),
            format!("{app}/appId"),
            format!("{app}/servicePrincipalId"),
        ])?
        .ok_or_else(|| FieldError::missing(format!("{app}/displayName")))?;
        return Ok(DraftActor {
            id,
            kind: ActorKind::Service,
            mfa: None,
        });
    }
    Err(FieldError::new(
        audit.field("initiatedBy"),
        "expected a user or an app object, found neither",
    ))
}

/// A target's type: `type` (Graph and Azure Monitor) or `Type` (some exports).
fn target_type(target: &Value) -> Option<&str> {
    target
        .get("type")
        .or_else(|| target.get("Type"))
        .and_then(Value::as_str)
}

/// The first target whose type is one of `kinds`.
fn find_target<'v>(targets: &'v [Value], kinds: &[&str]) -> Option<(usize, &'v Value)> {
    targets
        .iter()
        .enumerate()
        .find(|(_, t)| target_type(t).is_some_and(|k| kinds.contains(&k)))
}

fn require_target<'v>(
    audit: &Audit<'_>,
    targets: &'v [Value],
    kinds: &[&str],
) -> Result<(usize, &'v Value), FieldError> {
    find_target(targets, kinds).ok_or_else(|| {
        FieldError::new(
            audit.field("targetResources"),
            format!("no target of type {}", kinds.join(" or ")),
        )
    })
}

/// A user target as the subject: its userPrincipalName, lowercased. A deleted user's name
/// carries its object id (without dashes) in front; that prefix is taken off so the deletion
/// is about the same subject as the user's other events.
fn user_subject(audit: &Audit<'_>, i: usize, target: &Value) -> Result<DraftSubject, FieldError> {
    let pointer = audit.field(&format!("targetResources/{i}/userPrincipalName"));
    let upn = nonempty(audit.rec, &pointer)?.to_lowercase();
    let object_id: String = target
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_lowercase();
    let id = match upn.strip_prefix(object_id.as_str()) {
        Some(rest) if !object_id.is_empty() && rest.contains('@') => rest.to_owned(),
        _ => upn,
    };
    Ok(DraftSubject {
        id,
        kind: SubjectKind::Human,
    })
}

/// The error for a non-human target with neither a display name nor an id.
fn missing_name(audit: &Audit<'_>, i: usize) -> FieldError {
    FieldError::missing(audit.field(&format!("targetResources/{i}/displayName")))
}

/// A non-human target as the subject: its display name (as given), else its object id.
fn named_subject(target: &Value, kind: SubjectKind) -> Option<DraftSubject> {
    let name = ["displayName", "id"].iter().find_map(|k| {
        target
            .get(k)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    })?;
    Some(DraftSubject {
        id: name.to_owned(),
        kind,
    })
}

fn user_event(
    audit: &Audit<'_>,
    targets: &[Value],
    common: &Common,
    kind: EventType,
) -> Result<Draft, FieldError> {
    let (i, target) = require_target(audit, targets, &["User"])?;
    let mut draft = common.draft(kind, user_subject(audit, i, target)?);
    put_text(
        &mut draft.attributes,
        "entra.target_id",
        audit.rec,
        &audit.field(&format!("targetResources/{i}/id")),
    );
    Ok(draft)
}

/// `Update user` that changed `AccountEnabled`: disabled or enabled by its new value.
fn account_enabled_change(
    audit: &Audit<'_>,
    targets: &[Value],
) -> Result<Option<EventType>, FieldError> {
    let Some((t, m, property)) = modified_property(targets, &["User"], "AccountEnabled") else {
        return Ok(None);
    };
    let pointer = audit.field(&format!(
        "targetResources/{t}/modifiedProperties/{m}/newValue"
    ));
    let value = property
        .get("newValue")
        .map(|v| v.to_string().to_ascii_lowercase())
        .unwrap_or_default();
    match (value.contains("false"), value.contains("true")) {
        (true, false) => Ok(Some(EventType::IdentityDisabled)),
        (false, true) => Ok(Some(EventType::IdentityEnabled)),
        _ => Err(FieldError::new(pointer, "expected [true] or [false]")),
    }
}

/// The first modified property named `name` of a target of one of `kinds` (any target when
/// `kinds` is empty), with the target's and the property's index.
fn modified_property<'v>(
    targets: &'v [Value],
    kinds: &[&str],
    name: &str,
) -> Option<(usize, usize, &'v Value)> {
    targets.iter().enumerate().find_map(|(t, target)| {
        if !kinds.is_empty() && !target_type(target).is_some_and(|k| kinds.contains(&k)) {
            return None;
        }
        let properties = target.get("modifiedProperties")?.as_array()?;
        properties
            .iter()
            .enumerate()
            .find(|(_, p)| p.get("displayName").and_then(Value::as_str) == Some(name))
            .map(|(m, p)| (t, m, p))
    })
}

/// A membership added or removed; `None` when the member is not an identity (a nested group, a
/// contact): out of scope.
fn member_event(
    audit: &Audit<'_>,
    targets: &[Value],
    common: &Common,
    kind: EventType,
    membership: MembershipKind,
) -> Result<Option<Draft>, FieldError> {
    let Some((i, member)) = find_target(targets, &["User", "ServicePrincipal", "Device"]) else {
        if targets.is_empty() {
            return Err(FieldError::new(
                audit.field("targetResources"),
                "no member target",
            ));
        }
        return Ok(None);
    };
    let subject = match target_type(member) {
        Some("User") => user_subject(audit, i, member)?,
        Some("ServicePrincipal") => {
            named_subject(member, SubjectKind::Workload).ok_or_else(|| missing_name(audit, i))?
        }
        _ => named_subject(member, SubjectKind::Machine).ok_or_else(|| missing_name(audit, i))?,
    };
    let (target_kind, property) = match membership {
        MembershipKind::Role => ("Role", "Role.DisplayName"),
        _ => ("Group", "Group.DisplayName"),
    };
    let name = container_name(targets, target_kind, property).ok_or_else(|| {
        FieldError::new(
            audit.field("targetResources"),
            format!("no {target_kind} target with a displayName and no {property} property"),
        )
    })?;
    let mut draft = common.draft(kind, subject);
    draft.grant_id = Some(membership_grant_id(membership, &name, &draft.subject.id));
    draft.resource = Some(name);
    draft.membership = Some(membership);
    put_text(
        &mut draft.attributes,
        "entra.target_id",
        audit.rec,
        &audit.field(&format!("targetResources/{i}/id")),
    );
    Ok(Some(draft))
}

/// The group's or role's display name: its own target's, else the member's modified
/// property (`Group.DisplayName`), new value on an addition, old on a removal.
fn container_name(targets: &[Value], kind: &str, property: &str) -> Option<String> {
    if let Some((_, target)) = find_target(targets, &[kind])
        && let Some(name) = target
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
    {
        return Some(name.to_owned());
    }
    let (_, _, p) = modified_property(targets, &[], property)?;
    ["newValue", "oldValue"].iter().find_map(|side| {
        let raw = p.get(side)?.as_str()?;
        // Values are JSON text: `"\"Sales\""`.
        let name = match serde_json::from_str::<Value>(raw) {
            Ok(Value::String(s)) => s,
            _ => raw.trim_matches('"').to_owned(),
        };
        (!name.trim().is_empty()).then_some(name)
    })
}

fn service_principal_event(
    audit: &Audit<'_>,
    targets: &[Value],
    common: &Common,
    kind: EventType,
) -> Result<Draft, FieldError> {
    let (i, target) = require_target(audit, targets, &["ServicePrincipal"])?;
    let subject =
        named_subject(target, SubjectKind::Workload).ok_or_else(|| missing_name(audit, i))?;
    let mut draft = common.draft(kind, subject);
    if kind == EventType::IdentityCreated {
        draft.owner = Some(common.actor.id.clone());
    }
    put_text(
        &mut draft.attributes,
        "entra.target_id",
        audit.rec,
        &audit.field(&format!("targetResources/{i}/id")),
    );
    if let Some((t, m, _)) = modified_property(targets, &["ServicePrincipal"], "AppId") {
        let pointer = audit.field(&format!(
            "targetResources/{t}/modifiedProperties/{m}/newValue"
        ));
        if let Some(raw) = at(audit.rec, &pointer).and_then(Value::as_str) {
            let app_id = serde_json::from_str::<Vec<String>>(raw)
                .ok()
                .and_then(|ids| ids.into_iter().next())
                .unwrap_or_else(|| raw.trim_matches(['[', ']', '"']).to_owned());
            if is_keepable_text(&app_id) {
                draft
                    .attributes
                    .push(("entra.app_id".to_owned(), AttrValue::Text(app_id)));
            }
        }
    }
    Ok(draft)
}

/// One event per key added (credential.issued) or removed (credential.revoked); ids get `#n`
/// when there are several.
fn key_events(
    audit: &Audit<'_>,
    targets: &[Value],
    common: &Common,
    required: bool,
) -> Result<Vec<Draft>, FieldError> {
    const OWNERS: [&str; 2] = ["Application", "ServicePrincipal"];
    let (i, target) = require_target(audit, targets, &OWNERS)?;
    let subject =
        named_subject(target, SubjectKind::Workload).ok_or_else(|| missing_name(audit, i))?;
    let Some((t, m, property)) = modified_property(targets, &OWNERS, "KeyDescription") else {
        if required {
            return Err(FieldError::new(
                audit.field(&format!("targetResources/{i}/modifiedProperties")),
                "no KeyDescription property",
            ));
        }
        return Ok(Vec::new());
    };
    let side = |name: &str| {
        keys::listed(property.get(name)).map_err(|message| {
            FieldError::new(
                audit.field(&format!(
                    "targetResources/{t}/modifiedProperties/{m}/{name}"
                )),
                message,
            )
        })
    };
    let (added, removed) = keys::changes(&side("oldValue")?, &side("newValue")?);
    let changes: Vec<(EventType, keys::Key)> = added
        .into_iter()
        .map(|k| (EventType::CredentialIssued, k))
        .chain(
            removed
                .into_iter()
                .map(|k| (EventType::CredentialRevoked, k)),
        )
        .collect();
    let several = changes.len() > 1;
    Ok(changes
        .into_iter()
        .enumerate()
        .map(|(n, (kind, key))| {
            let mut draft = common.draft(kind, subject.clone());
            if several {
                draft.id = format!("{}#{}", common.id, n + 1);
            }
            draft.credential = Some(DraftCredential {
                id: key.id,
                kind: key.kind,
                fingerprint: None,
            });
            put_text(
                &mut draft.attributes,
                "entra.target_id",
                audit.rec,
                &audit.field(&format!("targetResources/{i}/id")),
            );
            draft
        })
        .collect())
}

#[cfg(test)]
#[path = "entra_tests.rs"]
mod tests;
