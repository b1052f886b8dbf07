//! Reading OCSF objects as idledger names things: a `user` as a subject or actor, an actor, a
//! role, group, policy or resource by its name, lists given either as an array (newer
//! versions) or as the single object older versions used, and credentials by kind.

use super::super::draft::{at, kind_of, optional_str, required_str};
use super::super::{DraftActor, DraftSubject, FieldError};
use crate::event::{ActorKind, CredentialKind, SubjectKind};
use serde_json::Value;

/// OCSF `user.type_id` values of accounts that are not a person: System (3) and Service (4).
fn is_non_human(record: &Value, user: &str) -> Result<bool, FieldError> {
    Ok(matches!(
        optional_i64(record, &format!("{user}/type_id"))?,
        Some(3 | 4)
    ))
}

/// The integer at `pointer` if present; a `FieldError` if present but not an integer.
pub(super) fn optional_i64(record: &Value, pointer: &str) -> Result<Option<i64>, FieldError> {
    match at(record, pointer) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            FieldError::new(
                pointer,
                format!("expected an integer, found {}", kind_of(v)),
            )
        }),
    }
}

/// The boolean at `pointer` if present; a `FieldError` if present but not a boolean.
pub(super) fn optional_bool(record: &Value, pointer: &str) -> Result<Option<bool>, FieldError> {
    match at(record, pointer) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| {
            FieldError::new(pointer, format!("expected a boolean, found {}", kind_of(v)))
        }),
    }
}

/// The first of `members` of the object at `object` that is a non-empty string.
fn first_text<'v>(
    record: &'v Value,
    object: &str,
    members: &[&str],
) -> Result<Option<&'v str>, FieldError> {
    for member in members {
        if let Some(text) = optional_str(record, &format!("{object}/{member}"))?
            && !text.is_empty()
        {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// The object at `pointer`, required.
fn required_object(record: &Value, pointer: &str) -> Result<(), FieldError> {
    match at(record, pointer) {
        None => Err(FieldError::missing(pointer)),
        Some(Value::Object(_)) => Ok(()),
        Some(v) => Err(FieldError::new(
            pointer,
            format!("expected an object, found {}", kind_of(v)),
        )),
    }
}

/// A `user` object as a subject: a person by their login (`name`, else `email_addr`,
/// lowercased; else `uid` as given), a System or Service account by its `name`, else `uid`, as
/// given. Also the user's `uid`, kept as an attribute when the id is another member.
pub(super) fn user_subject<'v>(
    record: &'v Value,
    user: &str,
) -> Result<(DraftSubject, Option<&'v str>), FieldError> {
    required_object(record, user)?;
    let uid = first_text(record, user, &["uid"])?;
    let non_human = is_non_human(record, user)?;
    let id = if non_human {
        first_text(record, user, &["name", "uid"])?.map(str::to_owned)
    } else {
        match first_text(record, user, &["name", "email_addr"])? {
            Some(login) => Some(login.to_lowercase()),
            None => uid.map(str::to_owned),
        }
    };
    let id = id.ok_or_else(|| {
        FieldError::new(
            user,
            "names no user: expected `name`, `email_addr` or `uid`",
        )
    })?;
    let kind = if non_human {
        SubjectKind::ServiceAccount
    } else {
        SubjectKind::Human
    };
    Ok((DraftSubject { id, kind }, uid))
}

/// An IAM role as a (non-human) subject, by its `uid` (an AWS role ARN, a Windows role SID),
/// else its `name`, as given.
pub(super) fn role_subject(record: &Value, role: &str) -> Result<DraftSubject, FieldError> {
    required_object(record, role)?;
    let id = first_text(record, role, &["uid", "name"])?
        .ok_or_else(|| FieldError::new(role, "names no role: expected `uid` or `name`"))?;
    Ok(DraftSubject {
        id: id.to_owned(),
        kind: SubjectKind::Workload,
    })
}

/// Who acted: `actor.user` (a person, or a System or Service account), else the application
/// (`actor.app_name`, `actor.app_uid`) as a service, else `actor.process.name` as the system.
/// `mfa` is `actor.session.is_mfa` where given.
pub(super) fn actor(record: &Value) -> Result<Option<DraftActor>, FieldError> {
    if at(record, "/actor").is_none() {
        return Ok(None);
    }
    required_object(record, "/actor")?;
    let mfa = optional_bool(record, "/actor/session/is_mfa")?;
    if at(record, "/actor/user").is_some() {
        let (subject, _) = user_subject(record, "/actor/user")?;
        let kind = match optional_i64(record, "/actor/user/type_id")? {
            Some(3) => ActorKind::System,
            Some(4) => ActorKind::Service,
            _ => ActorKind::Human,
        };
        return Ok(Some(DraftActor {
            id: subject.id,
            kind,
            mfa,
        }));
    }
    let (id, kind) = if let Some(app) = first_text(record, "/actor", &["app_name", "app_uid"])? {
        (app, ActorKind::Service)
    } else if let Some(process) = first_text(record, "/actor/process", &["name"])? {
        (process, ActorKind::System)
    } else {
        return Err(FieldError::new(
            "/actor",
            "names no one: expected `user`, `app_name`, `app_uid` or `process.name`",
        ));
    };
    Ok(Some(DraftActor {
        id: id.to_owned(),
        kind,
        mfa,
    }))
}

/// An object (group, role, policy, resource) by the first of `members` it has.
pub(super) fn label<'v>(
    record: &'v Value,
    object: &str,
    members: &[&str],
) -> Result<&'v str, FieldError> {
    required_object(record, object)?;
    first_text(record, object, members)?.ok_or_else(|| {
        let names: Vec<String> = members.iter().map(|m| format!("`{m}`")).collect();
        FieldError::new(object, format!("expected {}", names.join(" or ")))
    })
}

/// Where the items are: each element of the array at `plural`, else the single object at
/// `singular` (the member older OCSF versions used), else `None`. An empty array counts as
/// absent.
pub(super) fn items(
    record: &Value,
    plural: &str,
    singular: Option<&str>,
) -> Result<Option<Vec<String>>, FieldError> {
    match at(record, plural) {
        Some(Value::Array(list)) if !list.is_empty() => {
            return Ok(Some(
                (0..list.len()).map(|i| format!("{plural}/{i}")).collect(),
            ));
        }
        Some(Value::Array(_)) | None => {}
        Some(v) => {
            return Err(FieldError::new(
                plural,
                format!("expected an array, found {}", kind_of(v)),
            ));
        }
    }
    Ok(singular
        .filter(|s| at(record, s).is_some())
        .map(|s| vec![s.to_owned()]))
}

/// `items`, required: absent or empty is a `FieldError` naming `plural`.
pub(super) fn required_items(
    record: &Value,
    plural: &str,
    singular: Option<&str>,
) -> Result<Vec<String>, FieldError> {
    items(record, plural, singular)?.ok_or_else(|| FieldError::missing(plural))
}

/// The strings of the non-empty array at `pointer` (`privileges`).
pub(super) fn required_strings<'v>(
    record: &'v Value,
    pointer: &str,
) -> Result<Vec<&'v str>, FieldError> {
    let list = required_items(record, pointer, None)?;
    list.iter()
        .map(|p| match required_str(record, p)? {
            "" => Err(FieldError::new(p.as_str(), "must not be empty")),
            text => Ok(text),
        })
        .collect()
}

/// The captions of OCSF `auth_factor.factor_type_id` (the dictionary's enum), lowercased with
/// `_` for spaces: the factor's kind in its credential id.
pub(super) const FACTOR_TYPES: [(i64, &str); 13] = [
    (0, "unknown"),
    (1, "sms"),
    (2, "security_question"),
    (3, "phone_call"),
    (4, "biometric"),
    (5, "push_notification"),
    (6, "hardware_token"),
    (7, "otp"),
    (8, "email"),
    (9, "u2f"),
    (10, "webauthn"),
    (11, "password"),
    (99, "other"),
];

/// The factor type id OCSF gives a password used as a factor.
pub(super) const PASSWORD_FACTOR: i64 = 11;

/// The credential id of an MFA factor: `mfa_factor:<subject>:<type>` and `:<device uid>` when
/// the factor names its device. OCSF gives factors no id of their own, so the id is what tells
/// one of a subject's factors from another. The type is `factor_type_id`'s caption, else the
/// source's own `factor_type`, lowercased.
pub(super) fn factor_id(record: &Value, factor: &str, subject: &str) -> Result<String, FieldError> {
    required_object(record, factor)?;
    let type_id = optional_i64(record, &format!("{factor}/factor_type_id"))?;
    let known = FACTOR_TYPES
        .iter()
        .find(|(id, _)| Some(*id) == type_id && !matches!(id, 0 | 99))
        .map(|(_, name)| (*name).to_owned());
    let name = match known {
        Some(name) => name,
        None => first_text(record, factor, &["factor_type"])?
            .map(|t| t.to_lowercase().replace(' ', "_"))
            .unwrap_or_else(|| "unknown".to_owned()),
    };
    let mut id = format!("mfa_factor:{subject}:{name}");
    if let Some(device) = first_text(record, &format!("{factor}/device"), &["uid"])? {
        id.push(':');
        id.push_str(device);
    }
    Ok(id)
}

/// The kind of a credential by the source's name for its type (`API Key`, `Access Token`,
/// `Client Certificate`, `Service Account Key`…), if the name says.
pub(super) fn credential_kind(type_name: &str) -> Option<CredentialKind> {
    let name = type_name.to_lowercase();
    let kinds = [
        ("certificate", CredentialKind::Certificate),
        ("ssh", CredentialKind::SshKey),
        ("token", CredentialKind::Token),
        ("secret", CredentialKind::Secret),
        ("password", CredentialKind::Password),
        ("key", CredentialKind::ApiKey),
    ];
    kinds
        .into_iter()
        .find(|(word, _)| name.contains(word))
        .map(|(_, kind)| kind)
}
