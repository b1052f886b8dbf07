//! The events each mapped OCSF activity becomes, by what it acts on: the subject's lifecycle,
//! its password and MFA factors, policies, privileges, roles and groups, its programmatic
//! credentials, its authentications, and managed entities (docs/formats/ocsf.md).

use super::super::draft::{at, membership_grant_id, optional_str, required_str};
use super::super::{Draft, DraftActor, DraftCredential, FieldError};
use super::activities::Action;
use super::objects::{
    PASSWORD_FACTOR, credential_kind, factor_id, items, label, optional_bool, optional_i64,
    required_items, required_strings, role_subject, user_subject,
};
use super::{Context, Reading, text_attribute};
use crate::event::{ActorKind, AttrValue, CredentialKind, EventType, MembershipKind};

/// Role Management: the role is the subject.
const ROLE_MANAGEMENT: i64 = 3008;

/// The events of a record whose activity maps (`Action::OutOfScope` is decided before).
pub(super) fn read(ctx: &Context<'_>) -> Result<Reading, FieldError> {
    let drafts = match ctx.activity.action {
        Action::Lifecycle(kind) => vec![lifecycle(ctx, subject_draft(ctx, kind)?)],
        Action::Password => {
            let mut draft = subject_draft(ctx, EventType::CredentialRotated)?;
            let id = format!("password:{}", draft.subject.id);
            draft.credential = Some(credential(id, CredentialKind::Password));
            vec![draft]
        }
        Action::MfaFactors(kind) => mfa_factors(ctx, kind)?,
        Action::Policies(kind) => policies(ctx, kind)?,
        Action::Privileges(kind) => privileges(ctx, kind)?,
        Action::Roles(kind) => roles(ctx, kind)?,
        Action::GroupUsers(kind) => group_users(ctx, kind)?,
        Action::ProgrammaticCredentials(kind) => programmatic_credentials(ctx, kind)?,
        Action::Authenticated => vec![authenticated(ctx)?],
        Action::AccountSwitch => {
            let (subject, uid) = user_subject(ctx.record, "/user")?;
            let mut draft = ctx.draft(EventType::IdentityAuthenticated, subject)?;
            push_uid(&mut draft, uid);
            vec![draft]
        }
        Action::Entity { user, credential } => return entity(ctx, user, credential),
        Action::OutOfScope(_) => {
            let (class, activity) = (ctx.activity.class, ctx.activity.id);
            return Ok(Reading::OutOfScope(format!("ocsf:{class}:{activity}")));
        }
    };
    Ok(Reading::Events {
        drafts: numbered(drafts, ctx.uid),
        event_id: ctx.uid.to_owned(),
    })
}

/// One record, several events: each gets the record's id and `#<n>`, in the record's order,
/// so the same record always gives the same ids.
fn numbered(mut drafts: Vec<Draft>, uid: &str) -> Vec<Draft> {
    if drafts.len() > 1 {
        for (n, draft) in drafts.iter_mut().enumerate() {
            draft.id = format!("{uid}#{n}");
        }
    }
    drafts
}

fn credential(id: String, kind: CredentialKind) -> DraftCredential {
    DraftCredential {
        id,
        kind,
        fingerprint: None,
    }
}

/// Keeps the user's own `uid` when the subject id is its login.
fn push_uid(draft: &mut Draft, uid: Option<&str>) {
    if let Some(uid) = uid
        && uid != draft.subject.id
    {
        draft
            .attributes
            .push(("ocsf.user.uid".into(), AttrValue::Text(uid.to_owned())));
    }
}

/// A draft about the record's subject: `/iam_role` in Role Management, `/user` elsewhere.
fn subject_draft(ctx: &Context<'_>, kind: EventType) -> Result<Draft, FieldError> {
    if ctx.activity.class == ROLE_MANAGEMENT {
        return ctx.draft(kind, role_subject(ctx.record, "/iam_role")?);
    }
    let (subject, uid) = user_subject(ctx.record, "/user")?;
    let mut draft = ctx.draft(kind, subject)?;
    push_uid(&mut draft, uid);
    Ok(draft)
}

/// A non-human identity's creation names its owner; OCSF has no such member, so the owner is
/// whoever created it (the actor), as docs/formats/ocsf.md says.
fn lifecycle(ctx: &Context<'_>, mut draft: Draft) -> Draft {
    if draft.kind == EventType::IdentityCreated && !draft.subject.kind.is_human() {
        draft.owner = ctx.actor.as_ref().map(|a| a.id.clone());
    }
    draft
}

/// One event per factor; a record that names no factor changes the subject's MFA as a whole,
/// `mfa_factor:<subject>`.
fn mfa_factors(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let base = subject_draft(ctx, kind)?;
    let subject = base.subject.id.clone();
    let ids = match items(ctx.record, "/auth_factors", None)? {
        None => vec![format!("mfa_factor:{subject}")],
        Some(factors) => factors
            .iter()
            .map(|f| factor_id(ctx.record, f, &subject))
            .collect::<Result<_, _>>()?,
    };
    Ok(ids
        .into_iter()
        .map(|id| {
            let mut draft = base.clone();
            draft.credential = Some(credential(id, CredentialKind::MfaFactor));
            draft
        })
        .collect())
}

/// An access grant of `resource` to the base draft's subject, under `grant_id`.
fn grant(base: &Draft, resource: String, grant_id: String) -> Draft {
    let mut draft = base.clone();
    draft.resource = Some(resource);
    draft.grant_id = Some(grant_id);
    draft
}

/// A policy by its `uid` (an AWS policy ARN), else its `name`; the grant is
/// `policy:<policy>:<subject>`, the same for the attach and the detach.
fn policies(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let base = subject_draft(ctx, kind)?;
    required_items(ctx.record, "/policies", Some("/policy"))?
        .iter()
        .map(|p| {
            let policy = label(ctx.record, p, &["uid", "name"])?;
            let grant_id = format!("policy:{policy}:{}", base.subject.id);
            Ok(grant(&base, policy.to_owned(), grant_id))
        })
        .collect()
}

/// Each privilege, on each resource the record names (`<resource>:<privilege>`, the resource
/// by `name`, else `uid`), or alone; the grant is `privilege:<resource>:<subject>`.
fn privileges(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let base = subject_draft(ctx, kind)?;
    let privileges = required_strings(ctx.record, "/privileges")?;
    let resources: Vec<Option<&str>> = match items(ctx.record, "/resources", Some("/resource"))? {
        None => vec![None],
        Some(list) => list
            .iter()
            .map(|r| label(ctx.record, r, &["name", "uid"]).map(Some))
            .collect::<Result<_, _>>()?,
    };
    let mut drafts = Vec::new();
    for on in &resources {
        for privilege in &privileges {
            let resource = match on {
                Some(on) => format!("{on}:{privilege}"),
                None => (*privilege).to_owned(),
            };
            let grant_id = format!("privilege:{resource}:{}", base.subject.id);
            drafts.push(grant(&base, resource, grant_id));
        }
    }
    Ok(drafts)
}

/// Role membership, the role by its `name`, else `uid`.
fn roles(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let base = subject_draft(ctx, kind)?;
    required_items(ctx.record, "/iam_roles", Some("/iam_role"))?
        .iter()
        .map(|r| {
            let role = label(ctx.record, r, &["name", "uid"])?;
            let grant_id = membership_grant_id(MembershipKind::Role, role, &base.subject.id);
            let mut draft = grant(&base, role.to_owned(), grant_id);
            draft.membership = Some(MembershipKind::Role);
            Ok(draft)
        })
        .collect()
}

/// Group membership of each user, the group by its `name`, else `uid`.
fn group_users(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let group = label(ctx.record, "/group", &["name", "uid"])?;
    required_items(ctx.record, "/users", Some("/user"))?
        .iter()
        .map(|u| {
            let (subject, uid) = user_subject(ctx.record, u)?;
            let grant_id = membership_grant_id(MembershipKind::Group, group, &subject.id);
            let mut draft = ctx.draft(kind, subject)?;
            push_uid(&mut draft, uid);
            draft.resource = Some(group.to_owned());
            draft.grant_id = Some(grant_id);
            draft.membership = Some(MembershipKind::Group);
            Ok(draft)
        })
        .collect()
}

/// Each credential by its `uid` (an access key id, a certificate serial, never a value), of
/// the kind its `type` names (`api_key` when it names none).
fn programmatic_credentials(ctx: &Context<'_>, kind: EventType) -> Result<Vec<Draft>, FieldError> {
    let base = subject_draft(ctx, kind)?;
    required_items(ctx.record, "/programmatic_credentials", None)?
        .iter()
        .map(|c| {
            let id = non_empty(ctx, &format!("{c}/uid"))?;
            let kind = optional_str(ctx.record, &format!("{c}/type"))?
                .and_then(credential_kind)
                .unwrap_or(CredentialKind::ApiKey);
            let mut draft = base.clone();
            draft.credential = Some(credential(id.to_owned(), kind));
            Ok(draft)
        })
        .collect()
}

fn non_empty<'v>(ctx: &Context<'v>, pointer: &str) -> Result<&'v str, FieldError> {
    match required_str(ctx.record, pointer)? {
        "" => Err(FieldError::new(pointer, "must not be empty")),
        text => Ok(text),
    }
}

/// A logon or ticket-granting ticket: the user authenticated, so the user is the actor too
/// (`actor.mfa` from `is_mfa`); the credential is the first factor in `/auth_factors` other
/// than a password, when there is one.
fn authenticated(ctx: &Context<'_>) -> Result<Draft, FieldError> {
    let (subject, uid) = user_subject(ctx.record, "/user")?;
    let actor = DraftActor {
        id: subject.id.clone(),
        kind: if subject.kind.is_human() {
            ActorKind::Human
        } else {
            ActorKind::Service
        },
        mfa: optional_bool(ctx.record, "/is_mfa")?,
    };
    let mut draft = ctx.draft_by(EventType::IdentityAuthenticated, subject, actor)?;
    push_uid(&mut draft, uid);
    for factor in items(ctx.record, "/auth_factors", None)?.unwrap_or_default() {
        let type_id = optional_i64(ctx.record, &format!("{factor}/factor_type_id"))?;
        if type_id != Some(PASSWORD_FACTOR) {
            let id = factor_id(ctx.record, &factor, &draft.subject.id)?;
            draft.credential = Some(credential(id, CredentialKind::MfaFactor));
            break;
        }
    }
    for (key, pointer) in [
        ("ocsf.logon_type", "/logon_type"),
        ("ocsf.auth_protocol", "/auth_protocol"),
    ] {
        draft
            .attributes
            .extend(text_attribute(ctx.record, key, pointer)?);
    }
    Ok(draft)
}

/// Entity Management: a user entity (`type_id` 2, or `type` "User") is an identity, by
/// `entity.user` when given, else by the entity's own `name` or `uid`; a credential entity
/// (`type_id` 99 or absent, and a `type` naming a key, token, certificate or secret) is a
/// credential of `entity.user`, by the entity's `uid`. Anything else is out of scope, counted
/// as `ocsf:3004:<activity_id>:<type>`.
fn entity(
    ctx: &Context<'_>,
    user: Option<EventType>,
    credential_event: Option<EventType>,
) -> Result<Reading, FieldError> {
    let record = ctx.record;
    if at(record, "/entity").is_none() {
        return Err(FieldError::missing("/entity"));
    }
    let type_id = optional_i64(record, "/entity/type_id")?;
    let type_name = optional_str(record, "/entity/type")?.filter(|t| !t.is_empty());
    let untyped = matches!(type_id, None | Some(99));
    let is_user = type_id == Some(2)
        || (untyped && type_name.is_some_and(|t| t.eq_ignore_ascii_case("user")));
    let credential_type = type_name
        .filter(|_| untyped)
        .and_then(credential_kind)
        .filter(|k| *k != CredentialKind::Password);
    let draft = match (is_user, user, credential_type, credential_event) {
        (true, Some(kind), _, _) => {
            let pointer = if at(record, "/entity/user").is_some() {
                "/entity/user"
            } else {
                "/entity"
            };
            let (subject, uid) = user_subject(record, pointer)?;
            let mut draft = ctx.draft(kind, subject)?;
            push_uid(&mut draft, uid);
            Some(lifecycle(ctx, draft))
        }
        (false, _, Some(credential_kind), Some(kind)) => {
            let (subject, _) = user_subject(record, "/entity/user")?;
            let id = non_empty(ctx, "/entity/uid")?;
            let mut draft = ctx.draft(kind, subject)?;
            draft.credential = Some(credential(id.to_owned(), credential_kind));
            Some(draft)
        }
        _ => None,
    };
    Ok(match draft {
        Some(draft) => Reading::Events {
            drafts: vec![draft],
            event_id: ctx.uid.to_owned(),
        },
        None => {
            let entity_type = match (type_name, type_id) {
                (Some(name), _) => name.to_lowercase(),
                (None, Some(id)) => id.to_string(),
                (None, None) => "unknown".to_owned(),
            };
            Reading::OutOfScope(format!("ocsf:3004:{}:{entity_type}", ctx.activity.id))
        }
    })
}
