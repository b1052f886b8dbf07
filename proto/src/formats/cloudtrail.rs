//! CloudTrail: AWS CloudTrail records for IAM, STS and console sign-in, one record or a log file
//! of `Records`, mapped to identity lifecycle and use events (docs/formats/cloudtrail.md).
//!
//! Every record is read on its own: one bad record in a log file is quarantined by its pointer
//! (`/Records/3`) and the others are still mapped. The field a `FieldError` names is a pointer
//! within the record.

mod principal;

use super::draft::{at, kind_of, membership_grant_id, optional_str, required_str, required_time};
use super::{Draft, DraftCredential, DraftSubject, FieldError, FormatSettings, RecordOutcome};
use crate::event::{AttrValue, CredentialKind, EventType, MembershipKind, Outcome, SubjectKind};
use principal::{Caller, caller, console_subject, role_subject};
use serde_json::Value;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): a record with
/// `eventVersion`, `eventSource` and `eventName`, or a log file whose `Records` is an array (of
/// records, if it has any). Entra's diagnostic export spells its array `records`.
pub(crate) fn recognises(doc: &Value) -> bool {
    if let Some(records) = doc.get("Records") {
        return records
            .as_array()
            .is_some_and(|r| r.first().is_none_or(is_record));
    }
    is_record(doc)
}

fn is_record(doc: &Value) -> bool {
    ["eventVersion", "eventSource", "eventName"]
        .iter()
        .all(|k| doc.get(k).is_some_and(Value::is_string))
}

/// The records of one message of this format: a log file maps record by record, each with its
/// pointer `/Records/<i>`; a lone record has the empty pointer.
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    if !doc.is_object() {
        return Err(FieldError::new(
            "",
            format!(
                "expected a CloudTrail record or log file (an object), found {}",
                kind_of(doc)
            ),
        ));
    }
    match doc.get("Records") {
        None => Ok(vec![map_record(doc, "")]),
        Some(Value::Array(records)) => Ok(records
            .iter()
            .enumerate()
            .map(|(i, record)| map_record(record, &format!("/Records/{i}")))
            .collect()),
        Some(other) => Err(FieldError::new(
            "/Records",
            format!("expected an array of records, found {}", kind_of(other)),
        )),
    }
}

/// What one record maps to, before it is placed in the message.
enum Mapping {
    Event(Box<Draft>),
    OutOfScope(String),
}

fn map_record(record: &Value, pointer: &str) -> RecordOutcome {
    match read_record(record) {
        Ok(Mapping::Event(draft)) => {
            let event_id = draft.id.clone();
            RecordOutcome::event(*draft, event_id, pointer)
        }
        Ok(Mapping::OutOfScope(kind)) => RecordOutcome::out_of_scope(kind),
        Err(error) => RecordOutcome::Malformed {
            pointer: pointer.to_owned(),
            error,
        },
    }
}

/// The fields every mapped record has, read once.
struct Record<'a> {
    doc: &'a Value,
    name: &'a str,
    source: String,
    id: &'a str,
    time: crate::time::Timestamp,
    outcome: Outcome,
    caller: Option<Caller>,
}

fn read_record(doc: &Value) -> Result<Mapping, FieldError> {
    if !doc.is_object() {
        return Err(FieldError::new(
            "",
            format!(
                "expected a CloudTrail record (an object), found {}",
                kind_of(doc)
            ),
        ));
    }
    let event_source = required_str(doc, "/eventSource")?;
    let name = required_str(doc, "/eventName")?;
    let id = required_str(doc, "/eventID")?;
    let time = required_time(doc, "/eventTime")?;
    let in_scope = match event_source {
        "iam.amazonaws.com" => is_iam_event(name),
        "sts.amazonaws.com" => matches!(
            name,
            "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity"
        ),
        "signin.amazonaws.com" => name == "ConsoleLogin",
        _ => false,
    };
    if !in_scope {
        return Ok(Mapping::OutOfScope(format!("{event_source}:{name}")));
    }
    let source = match optional_str(doc, "/recipientAccountId")? {
        Some(account) => format!("cloudtrail:{account}"),
        None => "cloudtrail".to_owned(),
    };
    let failed = at(doc, "/errorCode").is_some()
        || (name == "ConsoleLogin"
            && optional_str(doc, "/responseElements/ConsoleLogin")? == Some("Failure"));
    let record = Record {
        doc,
        name,
        source,
        id,
        time,
        outcome: if failed {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        },
        caller: caller(doc)?,
    };
    let draft = match event_source {
        "iam.amazonaws.com" => iam_event(&record)?,
        "sts.amazonaws.com" => assume_role(&record)?,
        _ => console_login(&record)?,
    };
    Ok(Mapping::Event(Box::new(draft)))
}

const IAM_EVENTS: [&str; 28] = [
    "CreateUser",
    "UpdateUser",
    "DeleteUser",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "ChangePassword",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "DeleteUserPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "PutGroupPolicy",
    "DeleteGroupPolicy",
    "CreateRole",
    "DeleteRole",
];

fn is_iam_event(name: &str) -> bool {
    IAM_EVENTS.contains(&name)
}

impl Record<'_> {
    /// A draft with what every event of this record has: source, id, time, actor, outcome and
    /// the common attributes.
    fn draft(&self, kind: EventType, subject: DraftSubject) -> Result<Draft, FieldError> {
        let mut draft = Draft::new(&self.source, self.id, kind, self.time, subject);
        let caller = self
            .caller
            .as_ref()
            .ok_or_else(|| FieldError::missing("/userIdentity"))?;
        draft.actor = Some(caller.actor.clone());
        draft.outcome = self.outcome;
        let mut attrs = vec![("aws.event_name", Some(self.name))];
        for (key, pointer) in [
            ("aws.region", "/awsRegion"),
            ("aws.source_ip", "/sourceIPAddress"),
            ("aws.request_id", "/requestID"),
            ("aws.error_code", "/errorCode"),
            ("aws.principal_type", "/userIdentity/type"),
        ] {
            attrs.push((key, optional_str(self.doc, pointer)?));
        }
        for (key, value) in attrs {
            push_text(&mut draft, key, value);
        }
        Ok(draft)
    }

    /// The account the IAM call was made in: where its users, roles and groups live.
    fn account(&self) -> Result<&str, FieldError> {
        match optional_str(self.doc, "/recipientAccountId")? {
            Some(account) => Ok(account),
            None => required_str(self.doc, "/userIdentity/accountId")
                .map_err(|_| FieldError::missing("/recipientAccountId")),
        }
    }

    /// `aws`, `aws-cn` or `aws-us-gov`, from the region the record names.
    fn partition(&self) -> Result<&'static str, FieldError> {
        let region = optional_str(self.doc, "/awsRegion")?.unwrap_or_default();
        Ok(if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        })
    }

    fn param(&self, name: &str) -> Result<&str, FieldError> {
        required_str(self.doc, &format!("/requestParameters/{name}"))
    }

    /// The IAM user a request names, as given (IAM user names are case-preserving).
    fn user(&self) -> Result<DraftSubject, FieldError> {
        Ok(human(self.param("userName")?))
    }

    /// The IAM user a request names, or the calling IAM user when the API lets the name be
    /// left out (access keys, login profiles, MFA devices act on the caller then).
    fn user_or_caller(&self) -> Result<DraftSubject, FieldError> {
        if let Some(name) = optional_str(self.doc, "/requestParameters/userName")? {
            return Ok(human(name));
        }
        if let Some(name) = optional_str(self.doc, "/responseElements/accessKey/userName")? {
            return Ok(human(name));
        }
        match &self.caller {
            Some(Caller {
                iam_user: Some(name),
                ..
            }) => Ok(human(name)),
            _ => Err(FieldError::missing("/requestParameters/userName")),
        }
    }

    /// A role by its ARN, built from the account and the role name so that every record about
    /// one role names it alike, with or without the role's path.
    fn role(&self) -> Result<DraftSubject, FieldError> {
        let name = self.param("roleName")?;
        Ok(DraftSubject {
            id: format!(
                "arn:{}:iam::{}:role/{name}",
                self.partition()?,
                self.account()?
            ),
            kind: SubjectKind::ServiceAccount,
        })
    }

    /// A group by its ARN, built like a role's.
    fn group(&self) -> Result<(DraftSubject, &str), FieldError> {
        let name = self.param("groupName")?;
        let subject = DraftSubject {
            id: format!(
                "arn:{}:iam::{}:group/{name}",
                self.partition()?,
                self.account()?
            ),
            kind: SubjectKind::ServiceAccount,
        };
        Ok((subject, name))
    }

    /// A credential the record names at `pointer`; a failed issuance names none, so it gets
    /// `unissued:<eventID>`, which no AWS identifier can equal.
    fn credential(
        &self,
        pointer: &str,
        kind: CredentialKind,
    ) -> Result<DraftCredential, FieldError> {
        let id = match (optional_str(self.doc, pointer)?, self.outcome) {
            (Some(id), _) => id.to_owned(),
            (None, Outcome::Failed) => format!("unissued:{}", self.id),
            (None, Outcome::Succeeded) => return Err(FieldError::missing(pointer)),
        };
        Ok(DraftCredential {
            id,
            kind,
            fingerprint: None,
        })
    }
}

fn human(name: &str) -> DraftSubject {
    DraftSubject {
        id: name.to_owned(),
        kind: SubjectKind::Human,
    }
}

/// Keeps a text attribute when present and short enough for an event (1,024 characters).
fn push_text(draft: &mut Draft, key: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty() && v.chars().count() <= 1024) {
        draft
            .attributes
            .push((key.to_owned(), AttrValue::Text(value.to_owned())));
    }
}

fn iam_event(r: &Record<'_>) -> Result<Draft, FieldError> {
    use EventType as T;
    let credential_event = |kind: EventType, pointer: &str, ckind: CredentialKind| {
        let mut draft = r.draft(kind, r.user_or_caller()?)?;
        draft.credential = Some(r.credential(pointer, ckind)?);
        Ok::<Draft, FieldError>(draft)
    };
    let login_profile = |kind: EventType| {
        let subject = r.user_or_caller()?;
        let mut draft = r.draft(kind, subject.clone())?;
        draft.credential = Some(DraftCredential {
            id: format!("login-profile:{}", subject.id),
            kind: CredentialKind::Password,
            fingerprint: None,
        });
        if let Some(reset) =
            at(r.doc, "/requestParameters/passwordResetRequired").and_then(Value::as_bool)
        {
            draft.attributes.push((
                "aws.password_reset_required".to_owned(),
                AttrValue::Bool(reset),
            ));
        }
        Ok::<Draft, FieldError>(draft)
    };
    match r.name {
        "CreateUser" => r.draft(T::IdentityCreated, r.user()?),
        "DeleteUser" => r.draft(T::IdentityDeleted, r.user()?),
        "UpdateUser" => {
            let mut draft = r.draft(T::IdentityUpdated, r.user()?)?;
            push_text(
                &mut draft,
                "aws.new_user_name",
                optional_str(r.doc, "/requestParameters/newUserName")?,
            );
            push_text(
                &mut draft,
                "aws.new_path",
                optional_str(r.doc, "/requestParameters/newPath")?,
            );
            Ok(draft)
        }
        "CreateAccessKey" => credential_event(
            T::CredentialIssued,
            "/responseElements/accessKey/accessKeyId",
            CredentialKind::ApiKey,
        ),
        "DeleteAccessKey" => credential_event(
            T::CredentialRevoked,
            "/requestParameters/accessKeyId",
            CredentialKind::ApiKey,
        ),
        "UpdateAccessKey" => {
            let status = r.param("status")?;
            let kind = match status {
                "Inactive" => T::CredentialRevoked,
                "Active" => T::CredentialIssued,
                other => {
                    return Err(FieldError::new(
                        "/requestParameters/status",
                        format!("expected `Active` or `Inactive`, found `{other}`"),
                    ));
                }
            };
            r.param("accessKeyId")?;
            let mut draft = credential_event(
                kind,
                "/requestParameters/accessKeyId",
                CredentialKind::ApiKey,
            )?;
            push_text(&mut draft, "aws.access_key_status", Some(status));
            Ok(draft)
        }
        "CreateLoginProfile" => login_profile(T::CredentialIssued),
        "UpdateLoginProfile" | "ChangePassword" => login_profile(T::CredentialRotated),
        "DeleteLoginProfile" => login_profile(T::CredentialRevoked),
        "EnableMFADevice" | "DeactivateMFADevice" => {
            r.param("serialNumber")?;
            let kind = if r.name == "EnableMFADevice" {
                T::CredentialIssued
            } else {
                T::CredentialRevoked
            };
            credential_event(
                kind,
                "/requestParameters/serialNumber",
                CredentialKind::MfaFactor,
            )
        }
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let subject = r.user()?;
            let group = r.param("groupName")?;
            let kind = if r.name == "AddUserToGroup" {
                T::AccessGranted
            } else {
                T::AccessRevoked
            };
            let mut draft = r.draft(kind, subject)?;
            draft.grant_id = Some(membership_grant_id(
                MembershipKind::Group,
                group,
                &draft.subject.id,
            ));
            draft.resource = Some(group.to_owned());
            draft.membership = Some(MembershipKind::Group);
            Ok(draft)
        }
        "CreateRole" => {
            let mut draft = r.draft(T::IdentityCreated, r.role()?)?;
            draft.owner = draft.actor.as_ref().map(|a| a.id.clone());
            push_text(
                &mut draft,
                "aws.role_path",
                optional_str(r.doc, "/requestParameters/path")?,
            );
            Ok(draft)
        }
        "DeleteRole" => r.draft(T::IdentityDeleted, r.role()?),
        _ => policy_event(r),
    }
}

/// Attach/Detach (managed) and Put/Delete (inline) User, Role and Group policies: a grant of the
/// policy to the principal, correlated by `iam-policy:<principal>:<policy>`.
fn policy_event(r: &Record<'_>) -> Result<Draft, FieldError> {
    let granted = r.name.starts_with("Attach") || r.name.starts_with("Put");
    let managed = r.name.starts_with("Attach") || r.name.starts_with("Detach");
    let subject = if r.name.contains("User") {
        r.user()?
    } else if r.name.contains("Role") {
        r.role()?
    } else if r.name.contains("Group") {
        r.group()?.0
    } else {
        return Err(FieldError::new(
            "/eventName",
            format!(
                "expected a user, role or group policy event, found `{}`",
                r.name
            ),
        ));
    };
    let (resource, grant_policy) = if managed {
        let arn = r.param("policyArn")?;
        (arn.to_owned(), arn.to_owned())
    } else {
        let name = r.param("policyName")?;
        (name.to_owned(), format!("inline/{name}"))
    };
    let kind = if granted {
        EventType::AccessGranted
    } else {
        EventType::AccessRevoked
    };
    let mut draft = r.draft(kind, subject)?;
    draft.grant_id = Some(format!("iam-policy:{}:{grant_policy}", draft.subject.id));
    draft.resource = Some(resource);
    draft
        .attributes
        .push(("aws.inline_policy".to_owned(), AttrValue::Bool(!managed)));
    Ok(draft)
}

/// STS AssumeRole and its SAML and web-identity forms: the issue of temporary credentials for
/// the role, `credential.issued` of a `token` whose id is the temporary access key id.
fn assume_role(r: &Record<'_>) -> Result<Draft, FieldError> {
    let subject = role_subject(r.param("roleArn")?).ok_or_else(|| {
        FieldError::new(
            "/requestParameters/roleArn",
            "expected an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
        )
    })?;
    let mut draft = r.draft(EventType::CredentialIssued, subject)?;
    draft.credential = Some(r.credential(
        "/responseElements/credentials/accessKeyId",
        CredentialKind::Token,
    )?);
    if let Some(expiration) = optional_str(r.doc, "/responseElements/credentials/expiration")? {
        draft.expires_at = principal::parse_expiration(expiration);
    }
    push_text(
        &mut draft,
        "aws.role_session_name",
        optional_str(r.doc, "/requestParameters/roleSessionName")?,
    );
    Ok(draft)
}

/// A console sign-in: `identity.authenticated` of the person who signed in, failed when
/// `responseElements.ConsoleLogin` is `Failure`.
fn console_login(r: &Record<'_>) -> Result<Draft, FieldError> {
    let subject = console_subject(r.doc)?;
    let mut draft = r.draft(EventType::IdentityAuthenticated, subject)?;
    let mfa = match optional_str(r.doc, "/additionalEventData/MFAUsed")? {
        Some("Yes") => Some(true),
        Some("No") => Some(false),
        _ => None,
    };
    if let Some(actor) = draft.actor.as_mut() {
        actor.kind = crate::event::ActorKind::Human;
        actor.mfa = mfa.or(actor.mfa);
    }
    if let Some(device) = optional_str(r.doc, "/additionalEventData/MFAIdentifier")? {
        draft.credential = Some(DraftCredential {
            id: device.to_owned(),
            kind: CredentialKind::MfaFactor,
            fingerprint: None,
        });
    }
    push_text(
        &mut draft,
        "aws.login_to",
        optional_str(r.doc, "/additionalEventData/LoginTo")?,
    );
    Ok(draft)
}

#[cfg(test)]
#[path = "cloudtrail_tests.rs"]
mod tests;
