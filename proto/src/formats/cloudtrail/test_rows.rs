//! The CloudTrail test tables: one row per event name mapped, with the fixture it reads and
//! every field expected, and one row per quarantine reason with the change that causes it.

use crate::event::{ActorKind, CredentialKind, EventType, MembershipKind, Outcome, SubjectKind};

/// The fixtures, named from this file's directory (one level below the tests that use them).
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../../tests/fixtures/formats/cloudtrail/",
            $name
        ))
    };
}

const ADMIN: &str = "arn:aws:iam::111122223333:user/Admin-Ana";
const MATEO: &str = "arn:aws:iam::111122223333:user/Mateo";
const DEPLOYER: &str = "arn:aws:iam::111122223333:role/deployer";

/// What one fixture must map to, field by field; fields left at `BASE` must be absent.
#[derive(Clone, Copy)]
pub(super) struct Expect {
    pub(super) fixture: &'static str,
    pub(super) kind: EventType,
    /// The last digits of the fixture's eventID and its minute (the generator numbers them).
    pub(super) n: u32,
    pub(super) subject: (&'static str, SubjectKind),
    pub(super) actor: (&'static str, ActorKind, Option<bool>),
    pub(super) credential: Option<(&'static str, CredentialKind)>,
    pub(super) resource: Option<&'static str>,
    pub(super) grant_id: Option<&'static str>,
    pub(super) membership: Option<MembershipKind>,
    pub(super) owner: Option<&'static str>,
    pub(super) outcome: Outcome,
    pub(super) expires_at: Option<&'static str>,
    /// Text attributes that must be present with these values.
    pub(super) attrs: &'static [(&'static str, &'static str)],
}

const BASE: Expect = Expect {
    fixture: "",
    kind: EventType::IdentityUpdated,
    n: 0,
    subject: ("Jane.Doe", SubjectKind::Human),
    actor: (ADMIN, ActorKind::Human, Some(true)),
    credential: None,
    resource: None,
    grant_id: None,
    membership: None,
    owner: None,
    outcome: Outcome::Succeeded,
    expires_at: None,
    attrs: &[],
};

const SVC_KEY: Option<(&str, CredentialKind)> =
    Some(("AKIAIOSFODNN7EXAMPLE", CredentialKind::ApiKey));
const JANE_PASSWORD: Option<(&str, CredentialKind)> =
    Some(("login-profile:Jane.Doe", CredentialKind::Password));
const JANE_MFA: Option<(&str, CredentialKind)> = Some((
    "arn:aws:iam::111122223333:mfa/jane-phone",
    CredentialKind::MfaFactor,
));
const DEVELOPERS: (&str, SubjectKind) = (
    "arn:aws:iam::111122223333:group/Developers",
    SubjectKind::ServiceAccount,
);
const ROLE: (&str, SubjectKind) = (DEPLOYER, SubjectKind::ServiceAccount);
const SVC: (&str, SubjectKind) = ("svc-billing", SubjectKind::Human);
const MATEO_USER: (&str, SubjectKind) = ("Mateo", SubjectKind::Human);
const AS_MATEO: (&str, ActorKind, Option<bool>) = (MATEO, ActorKind::Human, None);

/// One row per CloudTrail event name mapped (docs/formats/cloudtrail.md, "Event names").
pub(super) const ROWS: &[Expect] = &[
    Expect {
        fixture: fixture!("create_user.json"),
        kind: EventType::IdentityCreated,
        n: 1,
        ..BASE
    },
    Expect {
        fixture: fixture!("update_user.json"),
        n: 2,
        attrs: &[("aws.new_user_name", "Jane.Roe")],
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_user.json"),
        kind: EventType::IdentityDeleted,
        n: 3,
        subject: ("Jane.Roe", SubjectKind::Human),
        ..BASE
    },
    Expect {
        fixture: fixture!("create_access_key.json"),
        kind: EventType::CredentialIssued,
        n: 4,
        subject: SVC,
        credential: SVC_KEY,
        ..BASE
    },
    Expect {
        fixture: fixture!("create_access_key_failed.json"),
        kind: EventType::CredentialIssued,
        n: 5,
        subject: SVC,
        actor: AS_MATEO,
        credential: Some((
            "unissued:3e5f2a10-1b7c-4d8e-9f60-000000000005",
            CredentialKind::ApiKey,
        )),
        outcome: Outcome::Failed,
        attrs: &[("aws.error_code", "AccessDenied")],
        ..BASE
    },
    Expect {
        fixture: fixture!("update_access_key_inactive.json"),
        kind: EventType::CredentialRevoked,
        n: 6,
        subject: SVC,
        credential: SVC_KEY,
        attrs: &[("aws.access_key_status", "Inactive")],
        ..BASE
    },
    Expect {
        fixture: fixture!("update_access_key_active.json"),
        kind: EventType::CredentialIssued,
        n: 7,
        subject: SVC,
        credential: SVC_KEY,
        attrs: &[("aws.access_key_status", "Active")],
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_access_key.json"),
        kind: EventType::CredentialRevoked,
        n: 8,
        subject: MATEO_USER,
        actor: AS_MATEO,
        credential: Some(("AKIAI44QH8DHBEXAMPLE", CredentialKind::ApiKey)),
        ..BASE
    },
    Expect {
        fixture: fixture!("create_login_profile.json"),
        kind: EventType::CredentialIssued,
        n: 9,
        credential: JANE_PASSWORD,
        ..BASE
    },
    Expect {
        fixture: fixture!("update_login_profile.json"),
        kind: EventType::CredentialRotated,
        n: 10,
        credential: JANE_PASSWORD,
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_login_profile.json"),
        kind: EventType::CredentialRevoked,
        n: 11,
        credential: JANE_PASSWORD,
        ..BASE
    },
    Expect {
        fixture: fixture!("change_password.json"),
        kind: EventType::CredentialRotated,
        n: 12,
        subject: MATEO_USER,
        actor: AS_MATEO,
        credential: Some(("login-profile:Mateo", CredentialKind::Password)),
        ..BASE
    },
    Expect {
        fixture: fixture!("enable_mfa_device.json"),
        kind: EventType::CredentialIssued,
        n: 13,
        credential: JANE_MFA,
        ..BASE
    },
    Expect {
        fixture: fixture!("deactivate_mfa_device.json"),
        kind: EventType::CredentialRevoked,
        n: 14,
        credential: JANE_MFA,
        ..BASE
    },
    Expect {
        fixture: fixture!("add_user_to_group.json"),
        kind: EventType::AccessGranted,
        n: 15,
        resource: Some("Developers"),
        grant_id: Some("membership:group:Developers:Jane.Doe"),
        membership: Some(MembershipKind::Group),
        ..BASE
    },
    Expect {
        fixture: fixture!("remove_user_from_group.json"),
        kind: EventType::AccessRevoked,
        n: 16,
        resource: Some("Developers"),
        grant_id: Some("membership:group:Developers:Jane.Doe"),
        membership: Some(MembershipKind::Group),
        ..BASE
    },
    Expect {
        fixture: fixture!("attach_user_policy.json"),
        kind: EventType::AccessGranted,
        n: 17,
        resource: Some("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        grant_id: Some("iam-policy:Jane.Doe:arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ..BASE
    },
    Expect {
        fixture: fixture!("detach_user_policy.json"),
        kind: EventType::AccessRevoked,
        n: 18,
        resource: Some("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        grant_id: Some("iam-policy:Jane.Doe:arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ..BASE
    },
    Expect {
        fixture: fixture!("put_user_policy.json"),
        kind: EventType::AccessGranted,
        n: 19,
        resource: Some("s3-reports-read"),
        grant_id: Some("iam-policy:Jane.Doe:inline/s3-reports-read"),
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_user_policy.json"),
        kind: EventType::AccessRevoked,
        n: 20,
        resource: Some("s3-reports-read"),
        grant_id: Some("iam-policy:Jane.Doe:inline/s3-reports-read"),
        ..BASE
    },
    Expect {
        fixture: fixture!("attach_role_policy.json"),
        kind: EventType::AccessGranted,
        n: 21,
        subject: ROLE,
        actor: (
            "arn:aws:sts::111122223333:assumed-role/deployer/terraform",
            ActorKind::Service,
            Some(false),
        ),
        resource: Some("arn:aws:iam::111122223333:policy/deploy-ecs"),
        grant_id: Some(
            "iam-policy:arn:aws:iam::111122223333:role/deployer:arn:aws:iam::111122223333:policy/deploy-ecs",
        ),
        ..BASE
    },
    Expect {
        fixture: fixture!("detach_role_policy.json"),
        kind: EventType::AccessRevoked,
        n: 22,
        subject: ROLE,
        resource: Some("arn:aws:iam::111122223333:policy/deploy-ecs"),
        grant_id: Some(
            "iam-policy:arn:aws:iam::111122223333:role/deployer:arn:aws:iam::111122223333:policy/deploy-ecs",
        ),
        ..BASE
    },
    Expect {
        fixture: fixture!("put_role_policy.json"),
        kind: EventType::AccessGranted,
        n: 23,
        subject: ROLE,
        resource: Some("ecr-push"),
        grant_id: Some("iam-policy:arn:aws:iam::111122223333:role/deployer:inline/ecr-push"),
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_role_policy.json"),
        kind: EventType::AccessRevoked,
        n: 24,
        subject: ROLE,
        resource: Some("ecr-push"),
        grant_id: Some("iam-policy:arn:aws:iam::111122223333:role/deployer:inline/ecr-push"),
        ..BASE
    },
    Expect {
        fixture: fixture!("attach_group_policy.json"),
        kind: EventType::AccessGranted,
        n: 25,
        subject: DEVELOPERS,
        resource: Some("arn:aws:iam::aws:policy/PowerUserAccess"),
        grant_id: Some(
            "iam-policy:arn:aws:iam::111122223333:group/Developers:arn:aws:iam::aws:policy/PowerUserAccess",
        ),
        ..BASE
    },
    Expect {
        fixture: fixture!("detach_group_policy.json"),
        kind: EventType::AccessRevoked,
        n: 26,
        subject: DEVELOPERS,
        resource: Some("arn:aws:iam::aws:policy/PowerUserAccess"),
        grant_id: Some(
            "iam-policy:arn:aws:iam::111122223333:group/Developers:arn:aws:iam::aws:policy/PowerUserAccess",
        ),
        ..BASE
    },
    Expect {
        fixture: fixture!("put_group_policy.json"),
        kind: EventType::AccessGranted,
        n: 27,
        subject: DEVELOPERS,
        resource: Some("deny-billing"),
        grant_id: Some("iam-policy:arn:aws:iam::111122223333:group/Developers:inline/deny-billing"),
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_group_policy.json"),
        kind: EventType::AccessRevoked,
        n: 28,
        subject: DEVELOPERS,
        resource: Some("deny-billing"),
        grant_id: Some("iam-policy:arn:aws:iam::111122223333:group/Developers:inline/deny-billing"),
        ..BASE
    },
    Expect {
        fixture: fixture!("create_role.json"),
        kind: EventType::IdentityCreated,
        n: 29,
        subject: ROLE,
        owner: Some(ADMIN),
        attrs: &[("aws.role_path", "/ci/")],
        ..BASE
    },
    Expect {
        fixture: fixture!("delete_role.json"),
        kind: EventType::IdentityDeleted,
        n: 30,
        subject: ROLE,
        ..BASE
    },
    Expect {
        fixture: fixture!("assume_role.json"),
        kind: EventType::CredentialIssued,
        n: 31,
        subject: ROLE,
        actor: AS_MATEO,
        credential: Some(("ASIAEXAMPLEDEPLOYKEY", CredentialKind::Token)),
        expires_at: Some("2026-03-02T10:31:17Z"),
        attrs: &[("aws.role_session_name", "terraform")],
        ..BASE
    },
    Expect {
        fixture: fixture!("assume_role_failed.json"),
        kind: EventType::CredentialIssued,
        n: 32,
        subject: (
            "arn:aws:iam::444455556666:role/prod-admin",
            SubjectKind::ServiceAccount,
        ),
        actor: AS_MATEO,
        credential: Some((
            "unissued:3e5f2a10-1b7c-4d8e-9f60-000000000032",
            CredentialKind::Token,
        )),
        outcome: Outcome::Failed,
        ..BASE
    },
    Expect {
        fixture: fixture!("assume_role_with_saml.json"),
        kind: EventType::CredentialIssued,
        n: 33,
        subject: (
            "arn:aws:iam::111122223333:role/ReadOnly",
            SubjectKind::ServiceAccount,
        ),
        actor: ("SAMLStr:jane.doe@example.com", ActorKind::Human, None),
        credential: Some(("ASIAEXAMPLESAMLKEY01", CredentialKind::Token)),
        expires_at: Some("2026-03-02T10:33:17Z"),
        ..BASE
    },
    Expect {
        fixture: fixture!("assume_role_with_web_identity.json"),
        kind: EventType::CredentialIssued,
        n: 34,
        subject: (
            "arn:aws:iam::111122223333:role/gha-deploy",
            SubjectKind::ServiceAccount,
        ),
        actor: (
            "token.actions.githubusercontent.com:sts.amazonaws.com:repo:acme/app:ref:refs/heads/main",
            ActorKind::Service,
            None,
        ),
        credential: Some(("ASIAEXAMPLEWEBIDKEY1", CredentialKind::Token)),
        expires_at: Some("2026-03-02T10:34:17Z"),
        ..BASE
    },
    Expect {
        fixture: fixture!("console_login.json"),
        kind: EventType::IdentityAuthenticated,
        n: 35,
        subject: MATEO_USER,
        actor: (MATEO, ActorKind::Human, Some(true)),
        credential: Some((
            "arn:aws:iam::111122223333:mfa/mateo-key",
            CredentialKind::MfaFactor,
        )),
        attrs: &[(
            "aws.login_to",
            "https://console.aws.amazon.com/console/home",
        )],
        ..BASE
    },
    Expect {
        fixture: fixture!("console_login_failure.json"),
        kind: EventType::IdentityAuthenticated,
        n: 36,
        subject: MATEO_USER,
        actor: (MATEO, ActorKind::Human, Some(false)),
        outcome: Outcome::Failed,
        ..BASE
    },
    Expect {
        fixture: fixture!("console_login_root.json"),
        kind: EventType::IdentityAuthenticated,
        n: 37,
        subject: ("arn:aws:iam::111122223333:root", SubjectKind::Human),
        actor: (
            "arn:aws:iam::111122223333:root",
            ActorKind::Human,
            Some(true),
        ),
        ..BASE
    },
    Expect {
        fixture: fixture!("console_login_sso.json"),
        kind: EventType::IdentityAuthenticated,
        n: 38,
        subject: ("jane.doe@example.com", SubjectKind::Human),
        actor: (
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/Jane.Doe@Example.com",
            ActorKind::Human,
            Some(false),
        ),
        ..BASE
    },
];

/// One row per quarantine reason: the record, what is changed, and the field the reason names.
/// A member changed (`Some`) or removed (`None`), at a JSON pointer.
pub(super) type Change = (&'static str, Option<&'static str>);

pub(super) const MALFORMED: &[(&str, &[Change], &str)] = &[
    (
        fixture!("create_user.json"),
        &[("/eventID", None)],
        "/eventID",
    ),
    (
        fixture!("create_user.json"),
        &[("/eventTime", None)],
        "/eventTime",
    ),
    (
        fixture!("create_user.json"),
        &[("/eventTime", Some(r#""Mar 2, 2026""#))],
        "/eventTime",
    ),
    (
        fixture!("create_user.json"),
        &[("/eventName", None)],
        "/eventName",
    ),
    (
        fixture!("create_user.json"),
        &[("/eventSource", Some("7"))],
        "/eventSource",
    ),
    (
        fixture!("create_user.json"),
        &[("/requestParameters/userName", None)],
        "/requestParameters/userName",
    ),
    (
        fixture!("create_user.json"),
        &[("/userIdentity", None)],
        "/userIdentity",
    ),
    (
        fixture!("create_user.json"),
        &[("/userIdentity", Some(r#""admin""#))],
        "/userIdentity",
    ),
    (
        fixture!("create_user.json"),
        &[("/recipientAccountId", Some("12"))],
        "/recipientAccountId",
    ),
    (
        fixture!("delete_access_key.json"),
        &[("/userIdentity/type", Some(r#""AWSService""#))],
        "/requestParameters/userName",
    ),
    (
        fixture!("delete_access_key.json"),
        &[("/requestParameters/accessKeyId", None)],
        "/requestParameters/accessKeyId",
    ),
    (
        fixture!("create_access_key.json"),
        &[("/responseElements", None)],
        "/responseElements/accessKey/accessKeyId",
    ),
    (
        fixture!("update_access_key_active.json"),
        &[("/requestParameters/status", Some(r#""Expired""#))],
        "/requestParameters/status",
    ),
    (
        fixture!("update_access_key_active.json"),
        &[("/requestParameters/status", None)],
        "/requestParameters/status",
    ),
    (
        fixture!("enable_mfa_device.json"),
        &[("/requestParameters/serialNumber", None)],
        "/requestParameters/serialNumber",
    ),
    (
        fixture!("add_user_to_group.json"),
        &[("/requestParameters/groupName", None)],
        "/requestParameters/groupName",
    ),
    (
        fixture!("attach_user_policy.json"),
        &[("/requestParameters/policyArn", None)],
        "/requestParameters/policyArn",
    ),
    (
        fixture!("put_role_policy.json"),
        &[("/requestParameters/policyName", None)],
        "/requestParameters/policyName",
    ),
    (
        fixture!("delete_role.json"),
        &[("/requestParameters/roleName", None)],
        "/requestParameters/roleName",
    ),
    (
        fixture!("create_role.json"),
        &[
            ("/recipientAccountId", None),
            ("/userIdentity/accountId", None),
        ],
        "/recipientAccountId",
    ),
    (
        fixture!("assume_role.json"),
        &[("/requestParameters/roleArn", None)],
        "/requestParameters/roleArn",
    ),
    (
        fixture!("assume_role.json"),
        &[(
            "/requestParameters/roleArn",
            Some(r#""arn:aws:iam::111122223333:user/Mateo""#),
        )],
        "/requestParameters/roleArn",
    ),
    (
        fixture!("console_login.json"),
        &[("/userIdentity/type", Some(r#""AWSService""#))],
        "/userIdentity/type",
    ),
    (
        fixture!("console_login.json"),
        &[("/userIdentity/userName", None)],
        "/userIdentity/userName",
    ),
    (
        fixture!("console_login_sso.json"),
        &[(
            "/userIdentity/arn",
            Some(r#""arn:aws:sts::111122223333:assumed-role""#),
        )],
        "/userIdentity/arn",
    ),
];
