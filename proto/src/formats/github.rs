//! GitHub: organization and enterprise audit log events, as the REST API (an array of events)
//! and audit log streaming (one event per message) deliver them, mapped to membership, access
//! and login events (docs/formats/github.md).
//!
//! Sources: "Audit log events for your organization" and "... for your enterprise"
//! (https://docs.github.com/en/organizations/keeping-your-organization-secure/managing-security-settings-for-your-organization/audit-log-events-for-your-organization),
//! and "Identifying audit log events performed by an access token" for `hashed_token`
//! (https://docs.github.com/enterprise-cloud@latest/admin/monitoring-activity-in-your-enterprise/reviewing-audit-logs-for-your-enterprise/identifying-audit-log-events-performed-by-an-access-token).

use super::draft::{
    DraftActor, DraftSubject, at, kind_of, membership_grant_id, optional_str, time_from_unix_millis,
};
use super::{Draft, FieldError, FormatSettings, RecordOutcome};
use crate::event::{ActorKind, AttrValue, EventType, MembershipKind, Outcome, SubjectKind};
use crate::time::Timestamp;
use base64::Engine as _;
use serde_json::Value;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): an audit log
/// event (`action` named `category.operation`, a time, and who or where), or a non-empty array
/// whose first member is one (a page of the REST API).
pub(crate) fn recognises(doc: &Value) -> bool {
    match doc {
        Value::Array(items) => items.first().is_some_and(is_audit_event),
        _ => is_audit_event(doc),
    }
}

fn is_audit_event(doc: &Value) -> bool {
    let Some(obj) = doc.as_object() else {
        return false;
    };
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .is_some_and(|a| a.contains('.'));
    let time = obj.contains_key("@timestamp") || obj.contains_key("created_at");
    let who = ["actor", "org", "business"]
        .iter()
        .any(|k| obj.contains_key(*k));
    // Members that mark the other formats' records (OCSF, CloudEvents, Okta, CloudTrail,
    // Entra, native), so that a record of theirs with an `action` member is not taken for ours.
    let foreign = [
        "class_uid",
        "specversion",
        "eventType",
        "eventName",
        "activityDisplayName",
        "subject",
    ]
    .iter()
    .any(|k| obj.contains_key(*k));
    action && time && who && !foreign
}

/// The records of one message: one audit log event, or an array of them (`/0`, `/1`, …).
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    match doc {
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .flat_map(|(i, record)| map_record(record, &format!("/{i}")))
            .collect()),
        Value::Object(_) => Ok(map_record(doc, "")),
        other => Err(FieldError::new(
            "",
            format!(
                "expected an audit log event (an object) or an array of them, found {}",
                kind_of(other)
            ),
        )),
    }
}

fn map_record(record: &Value, pointer: &str) -> Vec<RecordOutcome> {
    read_record(record, pointer).unwrap_or_else(|error| {
        vec![RecordOutcome::Malformed {
            pointer: pointer.to_owned(),
            error,
        }]
    })
}

/// What an action maps to; the table below says which action is which.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Organization membership: a group grant whose resource is the organization.
    OrgMember(EventType),
    /// Team membership: a team grant whose resource is the team (`org/team-slug`).
    TeamMember(EventType),
    /// A collaborator's access to a repository.
    RepoCollaborator(EventType),
    /// A fine-grained personal access token's access to the organization.
    TokenAccess(EventType),
    /// A GitHub App's installation on the organization or enterprise.
    AppInstallation(EventType),
    /// Repositories added to or removed from an installation: one event per repository.
    AppRepositories(EventType, &'static str),
    /// A GitHub App itself, as a non-human identity.
    App(EventType),
    /// An OAuth App's access to the organization.
    OauthApp(EventType),
    /// A sign-in to the enterprise (GitHub Enterprise Server).
    Login(Outcome),
}

/// Every action idledger maps; any other is out of scope, counted as `github:<action>`.
const RULES: [(&str, Rule); 21] = [
    ("org.add_member", Rule::OrgMember(EventType::AccessGranted)),
    (
        "org.update_member",
        Rule::OrgMember(EventType::AccessGranted),
    ),
    (
        "org.remove_member",
        Rule::OrgMember(EventType::AccessRevoked),
    ),
    (
        "team.add_member",
        Rule::TeamMember(EventType::AccessGranted),
    ),
    (
        "team.remove_member",
        Rule::TeamMember(EventType::AccessRevoked),
    ),
    (
        "repo.add_member",
        Rule::RepoCollaborator(EventType::AccessGranted),
    ),
    (
        "repo.update_member",
        Rule::RepoCollaborator(EventType::AccessGranted),
    ),
    (
        "repo.remove_member",
        Rule::RepoCollaborator(EventType::AccessRevoked),
    ),
    (
        "personal_access_token.request_created",
        Rule::TokenAccess(EventType::AccessRequested),
    ),
    (
        "personal_access_token.request_denied",
        Rule::TokenAccess(EventType::AccessDenied),
    ),
    (
        "personal_access_token.access_granted",
        Rule::TokenAccess(EventType::AccessGranted),
    ),
    (
        "personal_access_token.access_revoked",
        Rule::TokenAccess(EventType::AccessRevoked),
    ),
    (
        "integration_installation.create",
        Rule::AppInstallation(EventType::AccessGranted),
    ),
    (
        "integration_installation.destroy",
        Rule::AppInstallation(EventType::AccessRevoked),
    ),
    (
        "integration_installation.repositories_added",
        Rule::AppRepositories(EventType::AccessGranted, "/repositories_added_names"),
    ),
    (
        "integration_installation.repositories_removed",
        Rule::AppRepositories(EventType::AccessRevoked, "/repositories_removed_names"),
    ),
    ("integration.create", Rule::App(EventType::IdentityCreated)),
    ("integration.destroy", Rule::App(EventType::IdentityDeleted)),
    (
        "org.oauth_app_access_requested",
        Rule::OauthApp(EventType::AccessRequested),
    ),
    // GitHub: "Access to an organization was granted for an OAuth App" (effective at once).
    (
        "org.oauth_app_access_approved",
        Rule::OauthApp(EventType::AccessGranted),
    ),
    // GitHub: "Access was disabled for an OAuth App that was previously approved".
    (
        "org.oauth_app_access_denied",
        Rule::OauthApp(EventType::AccessRevoked),
    ),
];

/// Sign-ins appear only in enterprise (GitHub Enterprise Server) audit logs.
const LOGINS: [(&str, Rule); 2] = [
    ("user.login", Rule::Login(Outcome::Succeeded)),
    ("user.failed_login", Rule::Login(Outcome::Failed)),
];

fn rule_for(action: &str) -> Option<Rule> {
    RULES
        .iter()
        .chain(LOGINS.iter())
        .find(|(name, _)| *name == action)
        .map(|(_, rule)| *rule)
}

fn read_record(record: &Value, pointer: &str) -> Result<Vec<RecordOutcome>, FieldError> {
    if !record.is_object() {
        return Err(FieldError::new(
            "",
            format!(
                "expected an audit log event (an object), found {}",
                kind_of(record)
            ),
        ));
    }
    let action = required_text(record, "/action")?;
    let Some(rule) = rule_for(action) else {
        return Ok(vec![RecordOutcome::out_of_scope(format!(
            "github:{action}"
        ))]);
    };
    let document_id = required_text(record, "/_document_id")?;
    let common = Common::read(record, action, document_id)?;
    let drafts = build(rule, record, &common)?;
    if drafts.is_empty() {
        // An installation change that names no repository changes nothing idledger tracks.
        return Ok(vec![RecordOutcome::out_of_scope(format!(
            "github:{action}"
        ))]);
    }
    let several = drafts.len() > 1;
    Ok(drafts
        .into_iter()
        .enumerate()
        .map(|(n, mut draft)| {
            if several {
                draft.id = format!("{document_id}#{}", n + 1);
            }
            RecordOutcome::event(draft, document_id, pointer)
        })
        .collect())
}

/// What every event of a record shares.
struct Common<'r> {
    source: String,
    id: &'r str,
    time: Timestamp,
    actor: DraftActor,
    /// The organization, else the enterprise, the record belongs to.
    tenant: Option<&'r str>,
    attributes: Vec<(String, AttrValue)>,
}

impl<'r> Common<'r> {
    fn read(record: &'r Value, action: &str, id: &'r str) -> Result<Common<'r>, FieldError> {
        let tenant = tenant(record);
        let source = match tenant {
            Some(t) => format!("github:{t}"),
            None => "github".to_owned(),
        };
        let mut attributes = vec![(
            "github.action".to_owned(),
            AttrValue::Text(action.to_owned()),
        )];
        text_attribute(
            record,
            "/operation_type",
            "github.operation_type",
            &mut attributes,
        );
        text_attribute(
            record,
            "/programmatic_access_type",
            "github.programmatic_access_type",
            &mut attributes,
        );
        if let Some(token_id) = at(record, "/token_id").and_then(Value::as_i64) {
            attributes.push(("github.token_id".to_owned(), AttrValue::Integer(token_id)));
        }
        if let Some(sha256) = token_sha256(record) {
            attributes.push(("github.token_sha256".to_owned(), AttrValue::Text(sha256)));
        }
        Ok(Common {
            source,
            id,
            time: event_time(record)?,
            actor: actor(record)?,
            tenant,
            attributes,
        })
    }

    fn draft(&self, kind: EventType, subject: DraftSubject) -> Draft {
        let mut draft = Draft::new(&self.source, self.id, kind, self.time, subject);
        draft.actor = Some(self.actor.clone());
        draft.attributes = self.attributes.clone();
        draft
    }

    /// The organization (else enterprise) an access event's resource names.
    fn tenant(&self) -> Result<&'r str, FieldError> {
        self.tenant.ok_or_else(|| FieldError::missing("/org"))
    }
}

fn build(rule: Rule, record: &Value, common: &Common<'_>) -> Result<Vec<Draft>, FieldError> {
    let draft = match rule {
        Rule::OrgMember(kind) => {
            let org = required_text(record, "/org")?;
            let mut draft = membership(common, kind, MembershipKind::Group, org, user(record)?);
            text_attribute(
                record,
                "/permission",
                "github.permission",
                &mut draft.attributes,
            );
            text_attribute(
                record,
                "/old_permission",
                "github.old_permission",
                &mut draft.attributes,
            );
            draft
        }
        Rule::TeamMember(kind) => {
            let team = required_text(record, "/team")?;
            membership(common, kind, MembershipKind::Team, team, user(record)?)
        }
        Rule::RepoCollaborator(kind) => {
            let repo = required_text(record, "/repo")?;
            let subject = user(record)?;
            let grant = format!("github:collaborator:{repo}:{}", subject.id);
            let mut draft = access(common, kind, subject, repo, grant);
            for (field, key) in [
                ("/permission", "github.permission"),
                ("/new_repo_permission", "github.new_repo_permission"),
                ("/old_repo_permission", "github.old_repo_permission"),
            ] {
                text_attribute(record, field, key, &mut draft.attributes);
            }
            draft
        }
        Rule::TokenAccess(kind) => {
            let org = common.tenant()?;
            let token = required_text(record, "/user_programmatic_access_name")?;
            let subject = user(record)?;
            let grant = format!("github:fine_grained_pat:{org}:{}:{token}", subject.id);
            let mut draft = access(common, kind, subject, org, grant);
            draft.attributes.push((
                "github.token_name".to_owned(),
                AttrValue::Text(token.to_owned()),
            ));
            text_attribute(
                record,
                "/repository_selection",
                "github.repository_selection",
                &mut draft.attributes,
            );
            draft
        }
        Rule::AppInstallation(kind) => {
            let org = common.tenant()?;
            let app = app(record)?;
            let grant = format!("github:installation:{org}:{}", app.id);
            let mut draft = access(common, kind, app, org, grant);
            text_attribute(
                record,
                "/repository_selection",
                "github.repository_selection",
                &mut draft.attributes,
            );
            draft
        }
        Rule::AppRepositories(kind, field) => return app_repositories(record, common, kind, field),
        Rule::App(kind) => {
            let mut draft = common.draft(kind, app(record)?);
            if kind == EventType::IdentityCreated {
                draft.owner = Some(app_owner(record, common)?);
            }
            draft
        }
        Rule::OauthApp(kind) => {
            let org = common.tenant()?;
            let app = oauth_app(record)?;
            let grant = format!("github:oauth_app:{org}:{}", app.id);
            let mut draft = access(common, kind, app, org, grant);
            text_attribute(record, "/url", "github.url", &mut draft.attributes);
            draft
        }
        Rule::Login(outcome) => {
            let login = match optional_text(record, "/user")? {
                Some(user) => user,
                None => required_text(record, "/actor")?,
            };
            let mut draft = common.draft(EventType::IdentityAuthenticated, person(login));
            draft.outcome = outcome;
            draft
        }
    };
    Ok(vec![draft])
}

/// One grant per repository the installation gained or lost: `resource` is the repository as
/// GitHub names it, the grant id the installation's followed by it.
fn app_repositories(
    record: &Value,
    common: &Common<'_>,
    kind: EventType,
    field: &str,
) -> Result<Vec<Draft>, FieldError> {
    let org = common.tenant()?;
    let app = app(record)?;
    let names = match at(record, field) {
        None => return Err(FieldError::missing(field)),
        Some(Value::Array(names)) => names,
        Some(other) => {
            return Err(FieldError::new(
                field,
                format!(
                    "expected an array of repository names, found {}",
                    kind_of(other)
                ),
            ));
        }
    };
    let mut drafts = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let repo = required_text(record, &format!("{field}/{i}"))?;
        let grant = format!("github:installation:{org}:{}:{repo}", app.id);
        drafts.push(access(common, kind, app.clone(), repo, grant));
    }
    Ok(drafts)
}

fn access(
    common: &Common<'_>,
    kind: EventType,
    subject: DraftSubject,
    resource: &str,
    grant_id: String,
) -> Draft {
    let mut draft = common.draft(kind, subject);
    draft.resource = Some(resource.to_owned());
    draft.grant_id = Some(grant_id);
    draft
}

fn membership(
    common: &Common<'_>,
    kind: EventType,
    membership: MembershipKind,
    resource: &str,
    subject: DraftSubject,
) -> Draft {
    let grant = membership_grant_id(membership, resource, &subject.id);
    let mut draft = access(common, kind, subject, resource, grant);
    draft.membership = Some(membership);
    draft
}

/// The event time: `@timestamp`, else `created_at`; milliseconds since the Unix epoch (as the
/// REST API and streaming send them) or an RFC 3339 time (as some exports do).
fn event_time(record: &Value) -> Result<Timestamp, FieldError> {
    for field in ["/@timestamp", "/created_at"] {
        let Some(value) = at(record, field) else {
            continue;
        };
        return match value {
            Value::Number(n) => match n.as_i64() {
                Some(millis) => time_from_unix_millis(field, millis),
                None => Err(FieldError::new(
                    field,
                    "expected whole milliseconds since the Unix epoch, found a fraction or an out-of-range number",
                )),
            },
            Value::String(text) => Timestamp::parse_rfc3339(text)
                .map_err(|e| FieldError::new(field, format!("not an RFC 3339 time: {e}"))),
            other => Err(FieldError::new(
                field,
                format!(
                    "expected milliseconds since the Unix epoch or an RFC 3339 time, found {}",
                    kind_of(other)
                ),
            )),
        };
    }
    Err(FieldError::missing("/@timestamp"))
}

/// The organization, else the enterprise: the dedupe namespace's tenant. A record streamed from
/// an enterprise that also names an organization gets the organization, so the same event read
/// from the organization's own log has the same `(source, id)`.
fn tenant(record: &Value) -> Option<&str> {
    ["/org", "/business"].into_iter().find_map(|field| {
        at(record, field)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    })
}

/// Who acted: `actor` (a login, lowercased); a bot account or an app's token acts as a
/// service. Events without an actor (GitHub acting on its own) name the system `github`.
fn actor(record: &Value) -> Result<DraftActor, FieldError> {
    let Some(login) = optional_text(record, "/actor")? else {
        return Ok(DraftActor {
            id: "github".to_owned(),
            kind: ActorKind::System,
            mfa: None,
        });
    };
    let by_app = at(record, "/programmatic_access_type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("GitHub App"));
    let bot = is_bot(login) || at(record, "/actor_is_bot") == Some(&Value::Bool(true));
    Ok(DraftActor {
        id: login.to_lowercase(),
        kind: if bot || by_app {
            ActorKind::Service
        } else {
            ActorKind::Human
        },
        mfa: None,
    })
}

/// The user an event is about: `user`, a login, lowercased.
fn user(record: &Value) -> Result<DraftSubject, FieldError> {
    Ok(person(required_text(record, "/user")?))
}

fn person(login: &str) -> DraftSubject {
    DraftSubject {
        id: login.to_lowercase(),
        kind: if is_bot(login) {
            SubjectKind::Bot
        } else {
            SubjectKind::Human
        },
    }
}

/// Bot accounts (`dependabot[bot]`, `my-app[bot]`) are GitHub Apps acting as themselves.
fn is_bot(login: &str) -> bool {
    login.ends_with("[bot]")
}

/// A GitHub App by its slug as the audit log gives it (`integration`, else `name`).
fn app(record: &Value) -> Result<DraftSubject, FieldError> {
    let slug = match optional_text(record, "/integration")? {
        Some(slug) => slug,
        None => {
            optional_text(record, "/name")?.ok_or_else(|| FieldError::missing("/integration"))?
        }
    };
    Ok(DraftSubject {
        id: slug.to_owned(),
        kind: SubjectKind::Bot,
    })
}

/// Who owns a new GitHub App: the account it was created for (`user`), else the organization,
/// else who created it.
fn app_owner(record: &Value, common: &Common<'_>) -> Result<String, FieldError> {
    if let Some(user) = optional_text(record, "/user")? {
        return Ok(user.to_lowercase());
    }
    if let Some(org) = common.tenant {
        return Ok(org.to_owned());
    }
    match common.actor.kind {
        ActorKind::System => Err(FieldError::missing("/user")),
        _ => Ok(common.actor.id.clone()),
    }
}

/// An OAuth App: its name, else its numeric id, else the URL the audit log gives.
fn oauth_app(record: &Value) -> Result<DraftSubject, FieldError> {
    let id = if let Some(name) = optional_text(record, "/oauth_application")? {
        name.to_owned()
    } else if let Some(id) = at(record, "/oauth_application_id").and_then(Value::as_i64) {
        id.to_string()
    } else if let Some(url) = optional_text(record, "/url")? {
        url.to_owned()
    } else {
        return Err(FieldError::missing("/oauth_application"));
    };
    Ok(DraftSubject {
        id,
        kind: SubjectKind::Bot,
    })
}

/// `hashed_token`, which GitHub documents as the base64 SHA-256 of the token that performed
/// the action, as `sha256:<hex>`; anything else is not kept (the field is auxiliary: a record
/// is not quarantined for it).
fn token_sha256(record: &Value) -> Option<String> {
    let text = at(record, "/hashed_token")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let digest: [u8; 32] = bytes.try_into().ok()?;
    Some(format!("sha256:{}", crate::hash::Hash(digest).to_hex()))
}

fn text_attribute(
    record: &Value,
    field: &str,
    key: &str,
    attributes: &mut Vec<(String, AttrValue)>,
) {
    if let Some(text) = at(record, field)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        attributes.push((key.to_owned(), AttrValue::Text(text.to_owned())));
    }
}

/// A string that must be present and non-empty.
fn required_text<'v>(record: &'v Value, field: &str) -> Result<&'v str, FieldError> {
    optional_text(record, field)?.ok_or_else(|| FieldError::missing(field))
}

/// A string if present; an empty one is refused, since no identifier GitHub gives is empty.
fn optional_text<'v>(record: &'v Value, field: &str) -> Result<Option<&'v str>, FieldError> {
    match optional_str(record, field)? {
        Some("") => Err(FieldError::new(field, "empty, expected text")),
        other => Ok(other),
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
