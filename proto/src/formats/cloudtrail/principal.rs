//! Who a CloudTrail record is by and about: the calling principal (`userIdentity`) as an actor,
//! the person behind a console sign-in, a role named by its ARN, and the time STS gives
//! temporary credentials as their expiry.

use crate::event::{ActorKind, SubjectKind};
use crate::formats::draft::{at, kind_of, optional_str, required_str};
use crate::formats::{DraftActor, DraftSubject, FieldError};
use crate::time::Timestamp;
use serde_json::Value;

/// The principal that made the call.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    pub actor: DraftActor,
    /// The caller's IAM user name when the caller is an IAM user: the user an access-key,
    /// login-profile or MFA call acts on when it names none.
    pub iam_user: Option<String>,
}

/// The caller of a record, or `None` when `userIdentity` is absent or names no one.
///
/// The actor id is the caller's ARN, else its principal id, else the service that invoked the
/// call (`AWSService`), else its user name or account. Root, IAM users and federated users
/// (SAML, Identity Center, `GetFederationToken`) are people; an assumed role is a person when
/// it is an IAM Identity Center session (`AWSReservedSSO_*` roles) and a service otherwise;
/// everything else is a service.
pub(super) fn caller(doc: &Value) -> Result<Option<Caller>, FieldError> {
    let Some(identity) = at(doc, "/userIdentity") else {
        return Ok(None);
    };
    if !identity.is_object() {
        return Err(FieldError::new(
            "/userIdentity",
            format!("expected an object, found {}", kind_of(identity)),
        ));
    }
    let text = |field: &str| -> Result<Option<&str>, FieldError> {
        Ok(optional_str(doc, &format!("/userIdentity/{field}"))?.filter(|s| !s.is_empty()))
    };
    let kind = text("type")?.unwrap_or_default();
    let mut id = None;
    for field in ["arn", "principalId", "invokedBy", "userName", "accountId"] {
        if let Some(found) = text(field)? {
            id = Some(found);
            break;
        }
    }
    let Some(id) = id else {
        return Ok(None);
    };
    let actor_kind = match kind {
        "Root" | "IAMUser" | "FederatedUser" | "SAMLUser" | "IdentityCenterUser" => {
            ActorKind::Human
        }
        "AssumedRole" if is_identity_center_session(doc)? => ActorKind::Human,
        _ => ActorKind::Service,
    };
    let mfa = match optional_str(
        doc,
        "/userIdentity/sessionContext/attributes/mfaAuthenticated",
    )? {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let iam_user = if kind == "IAMUser" {
        text("userName")?.map(str::to_owned)
    } else {
        None
    };
    Ok(Some(Caller {
        actor: DraftActor {
            id: id.to_owned(),
            kind: actor_kind,
            mfa,
        },
        iam_user,
    }))
}

/// Whether an assumed-role caller is an IAM Identity Center (SSO) session: its role is one
/// Identity Center provisions, named `AWSReservedSSO_<permission set>_<suffix>`.
fn is_identity_center_session(doc: &Value) -> Result<bool, FieldError> {
    let issuer = optional_str(doc, "/userIdentity/sessionContext/sessionIssuer/userName")?;
    let arn = optional_str(doc, "/userIdentity/arn")?;
    Ok(issuer.is_some_and(|n| n.starts_with("AWSReservedSSO_"))
        || arn.is_some_and(|a| a.contains(":assumed-role/AWSReservedSSO_")))
}

/// The person a console sign-in is by: an IAM user by user name (as given; IAM user names are
/// case-preserving), the root user by its ARN, and a role session or federated user by the
/// session name the identity provider set (lowercased; usually a login or e-mail address).
pub(super) fn console_subject(doc: &Value) -> Result<DraftSubject, FieldError> {
    let human = |id: String| DraftSubject {
        id,
        kind: SubjectKind::Human,
    };
    match required_str(doc, "/userIdentity/type")? {
        "IAMUser" => Ok(human(
            required_str(doc, "/userIdentity/userName")?.to_owned(),
        )),
        "Root" => Ok(human(required_str(doc, "/userIdentity/arn")?.to_owned())),
        "AssumedRole" | "FederatedUser" => {
            let arn = required_str(doc, "/userIdentity/arn")?;
            match arn.rsplit_once('/') {
                Some((_, session)) if !session.is_empty() => Ok(human(session.to_lowercase())),
                _ => Err(FieldError::new(
                    "/userIdentity/arn",
                    format!("expected a session ARN ending in `/<session name>`, found `{arn}`"),
                )),
            }
        }
        other => Err(FieldError::new(
            "/userIdentity/type",
            format!(
                "expected `IAMUser`, `Root`, `AssumedRole` or `FederatedUser` for a console sign-in, found `{other}`"
            ),
        )),
    }
}

/// A role named by an ARN (`arn:<partition>:iam::<account>:role/<path>/<name>`), as the subject
/// `arn:<partition>:iam::<account>:role/<name>`: without its path, as IAM events that name the
/// role only by name build it.
pub(super) fn role_subject(arn: &str) -> Option<DraftSubject> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    if partition.is_empty() || account.is_empty() || name.is_empty() {
        return None;
    }
    Some(DraftSubject {
        id: format!("arn:{partition}:iam::{account}:role/{name}"),
        kind: SubjectKind::ServiceAccount,
    })
}

/// The expiry of STS credentials as CloudTrail writes it: RFC 3339, or the `Jan 3, 2024,
/// 9:51:35 PM` form (UTC) most STS records carry. Anything else gives no expiry.
pub(super) fn parse_expiration(text: &str) -> Option<Timestamp> {
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        return Some(t);
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let cleaned = text.replace(',', " ");
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let [month, day, year, clock, half] = words.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let day: u32 = day.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    let mut fields = clock.split(':');
    let (Some(hour), Some(minute), Some(second), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return None;
    };
    let hour: u32 = hour.parse().ok()?;
    let minute: u32 = minute.parse().ok()?;
    let second: u32 = second.parse().ok()?;
    if !(1..=12).contains(&hour) {
        return None;
    }
    let hour = match *half {
        "AM" => hour % 12,
        "PM" => hour % 12 + 12,
        _ => return None,
    };
    Timestamp::parse_rfc3339(&format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
    ))
    .ok()
}
