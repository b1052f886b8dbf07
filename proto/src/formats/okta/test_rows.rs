//! The Okta test tables: one row per event type mapped, with the fixture it reads, the document
//! it was written from and the drafts expected, and one row per quarantine reason.

use super::*;

/// The fixtures, named from this file's directory (one level below the tests that use them).
macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../../tests/fixtures/formats/okta/",
                $name,
                ".json"
            )),
        )
    };
}

pub(super) struct Row {
    pub(super) fixture: Fixture,
    pub(super) cite: &'static str,
    pub(super) want: Draft,
    pub(super) attributes: &'static [(&'static str, &'static str)],
}

pub(super) fn mapping_rows() -> Vec<Row> {
    use EventType as T;
    let group_grant = membership_grant_id(MembershipKind::Group, "Engineering", ALICE);
    let admin_grant = membership_grant_id(MembershipKind::Role, ADMIN_ROLE, ALICE);
    let app_grant = format!("okta-app:0oa4githubapp4x7:{ALICE}");
    let token = || DraftSubject {
        id: "00T5ciToken0x4x7".to_owned(),
        kind: SubjectKind::ApiKey,
    };
    vec![
        Row {
            fixture: fixture!("lifecycle_create"),
            cite: EVENT_TYPES,
            want: want(T::IdentityCreated, &uuid("01"), "2026-03-02T09:00:00.123Z"),
            attributes: &[
                ("okta.event_type", "user.lifecycle.create"),
                ("okta.user_id", "00u2alice0HiJkLmN4x7"),
                ("okta.client_ip", "203.0.113.10"),
            ],
        },
        Row {
            fixture: fixture!("lifecycle_activate"),
            cite: EVENT_TYPES,
            want: want(T::IdentityEnabled, &uuid("02"), "2026-03-02T09:01:00Z"),
            attributes: &[("okta.event_type", "user.lifecycle.activate")],
        },
        Row {
            fixture: fixture!("lifecycle_deactivate"),
            cite: EVENT_TYPES,
            want: want(T::IdentityDisabled, &uuid("03"), "2026-06-30T17:00:00Z"),
            attributes: &[("okta.event_type", "user.lifecycle.deactivate")],
        },
        Row {
            fixture: fixture!("lifecycle_suspend"),
            cite: EVENT_TYPES,
            want: want(T::IdentityDisabled, &uuid("04"), "2026-05-01T08:00:00Z"),
            attributes: &[("okta.event_type", "user.lifecycle.suspend")],
        },
        Row {
            fixture: fixture!("lifecycle_unsuspend"),
            cite: EVENT_TYPES,
            want: want(T::IdentityEnabled, &uuid("05"), "2026-05-02T08:00:00Z"),
            attributes: &[("okta.event_type", "user.lifecycle.unsuspend")],
        },
        Row {
            fixture: fixture!("lifecycle_delete_completed"),
            cite: EVENT_TYPES,
            want: want(T::IdentityDeleted, &uuid("06"), "2026-07-01T09:00:00Z"),
            attributes: &[("okta.event_type", "user.lifecycle.delete.completed")],
        },
        Row {
            fixture: fixture!("update_profile"),
            cite: EVENT_TYPES,
            want: want(T::IdentityUpdated, &uuid("07"), "2026-03-03T10:00:00Z"),
            attributes: &[("okta.display_message", "Update user profile for Okta")],
        },
        Row {
            fixture: fixture!("group_add"),
            cite: EVENT_HOOKS,
            want: Draft {
                grant_id: Some(group_grant.clone()),
                resource: Some("Engineering".into()),
                membership: Some(MembershipKind::Group),
                ..want(T::AccessGranted, &uuid("08"), "2026-03-02T09:05:00Z")
            },
            attributes: &[("okta.event_type", "group.user_membership.add")],
        },
        Row {
            fixture: fixture!("group_remove"),
            cite: EVENT_TYPES,
            want: Draft {
                grant_id: Some(group_grant),
                resource: Some("Engineering".into()),
                membership: Some(MembershipKind::Group),
                ..want(T::AccessRevoked, &uuid("09"), "2026-06-30T17:05:00Z")
            },
            attributes: &[("okta.event_type", "group.user_membership.remove")],
        },
        Row {
            fixture: fixture!("app_add"),
            cite: EVENT_TYPES,
            want: Draft {
                grant_id: Some(app_grant.clone()),
                resource: Some("GitHub Enterprise".into()),
                ..want(T::AccessGranted, &uuid("0a"), "2026-03-02T09:06:00Z")
            },
            attributes: &[("okta.event_type", "application.user_membership.add")],
        },
        Row {
            fixture: fixture!("app_remove"),
            cite: EVENT_TYPES,
            want: Draft {
                grant_id: Some(app_grant),
                resource: Some("GitHub Enterprise".into()),
                ..want(T::AccessRevoked, &uuid("0b"), "2026-06-30T17:06:00Z")
            },
            attributes: &[("okta.event_type", "application.user_membership.remove")],
        },
        Row {
            fixture: fixture!("privilege_grant"),
            cite: EVENT_TYPES,
            want: Draft {
                grant_id: Some(admin_grant.clone()),
                resource: Some(ADMIN_ROLE.into()),
                membership: Some(MembershipKind::Role),
                ..want(T::AccessGranted, &uuid("0c"), "2026-04-01T12:00:00Z")
            },
            attributes: &[(
                "okta.privileges",
                "Application administrator, Help Desk administrator",
            )],
        },
        Row {
            fixture: fixture!("privilege_revoke"),
            cite: EVENT_TYPES,
            want: Draft {
                grant_id: Some(admin_grant),
                resource: Some(ADMIN_ROLE.into()),
                membership: Some(MembershipKind::Role),
                ..want(T::AccessRevoked, &uuid("0d"), "2026-04-15T12:00:00Z")
            },
            attributes: &[("okta.event_type", "user.account.privilege.revoke")],
        },
        Row {
            fixture: fixture!("api_token_create"),
            cite: EVENT_TYPES,
            want: Draft {
                subject: token(),
                credential: cred("okta:token:00T5ciToken0x4x7", CredentialKind::Token),
                ..want(T::CredentialIssued, &uuid("0e"), "2026-04-02T11:00:00Z")
            },
            attributes: &[("okta.token_name", "ci-provisioning")],
        },
        Row {
            fixture: fixture!("api_token_revoke"),
            cite: EVENT_TYPES,
            want: Draft {
                subject: token(),
                credential: cred("okta:token:00T5ciToken0x4x7", CredentialKind::Token),
                ..want(T::CredentialRevoked, &uuid("0f"), "2026-09-02T11:00:00Z")
            },
            attributes: &[("okta.event_type", "system.api_token.revoke")],
        },
        Row {
            fixture: fixture!("mfa_activate"),
            cite: EVENT_TYPES,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                credential: cred(
                    "okta:alice.smith@acme.example:mfa:pfd6oktaVerify4x7",
                    CredentialKind::MfaFactor,
                ),
                ..want(T::CredentialIssued, &uuid("10"), "2026-03-02T09:10:00Z")
            },
            attributes: &[("okta.event_type", "user.mfa.factor.activate")],
        },
        Row {
            fixture: fixture!("mfa_deactivate"),
            cite: EVENT_TYPES,
            want: Draft {
                credential: cred(
                    "okta:alice.smith@acme.example:mfa:GOOGLE_OTP",
                    CredentialKind::MfaFactor,
                ),
                ..want(T::CredentialRevoked, &uuid("11"), "2026-05-05T09:10:00Z")
            },
            attributes: &[("okta.event_type", "user.mfa.factor.deactivate")],
        },
        Row {
            fixture: fixture!("mfa_reset_all"),
            cite: EVENT_TYPES,
            want: Draft {
                credential: cred(
                    "okta:alice.smith@acme.example:mfa:all",
                    CredentialKind::MfaFactor,
                ),
                ..want(T::CredentialRevoked, &uuid("12"), "2026-05-06T09:10:00Z")
            },
            attributes: &[("okta.event_type", "user.mfa.factor.reset_all")],
        },
        Row {
            fixture: fixture!("password_update"),
            cite: EVENT_TYPES,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                credential: cred(
                    "okta:alice.smith@acme.example:password",
                    CredentialKind::Password,
                ),
                ..want(T::CredentialRotated, &uuid("13"), "2026-03-10T08:30:00Z")
            },
            attributes: &[("okta.event_type", "user.account.update_password")],
        },
        Row {
            fixture: fixture!("password_reset"),
            cite: EVENT_TYPES,
            want: Draft {
                credential: cred(
                    "okta:alice.smith@acme.example:password",
                    CredentialKind::Password,
                ),
                ..want(T::CredentialRotated, &uuid("14"), "2026-03-11T08:30:00Z")
            },
            attributes: &[("okta.event_type", "user.account.reset_password")],
        },
        Row {
            fixture: fixture!("session_start"),
            cite: SYSTEM_LOG,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                ..want(
                    T::IdentityAuthenticated,
                    &uuid("15"),
                    "2026-03-12T07:59:00Z",
                )
            },
            attributes: &[("okta.auth_provider", "OKTA_AUTHENTICATION_PROVIDER")],
        },
        Row {
            fixture: fixture!("session_start_failed"),
            cite: SYSTEM_LOG,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                outcome: Outcome::Failed,
                ..want(
                    T::IdentityAuthenticated,
                    &uuid("16"),
                    "2026-03-12T07:58:00Z",
                )
            },
            attributes: &[("okta.outcome_reason", "INVALID_CREDENTIALS")],
        },
        Row {
            fixture: fixture!("auth_sso"),
            cite: EVENT_TYPES,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                ..want(
                    T::IdentityAuthenticated,
                    &uuid("17"),
                    "2026-03-12T08:00:00Z",
                )
            },
            attributes: &[("okta.app", "GitHub Enterprise")],
        },
        Row {
            fixture: fixture!("auth_via_mfa"),
            cite: EVENT_TYPES,
            want: Draft {
                actor: actor(ALICE, ActorKind::Human),
                credential: cred(
                    "okta:alice.smith@acme.example:mfa:OKTA_VERIFY_PUSH",
                    CredentialKind::MfaFactor,
                ),
                ..want(
                    T::IdentityAuthenticated,
                    &uuid("18"),
                    "2026-03-12T07:59:30Z",
                )
            },
            attributes: &[("okta.event_type", "user.authentication.auth_via_mfa")],
        },
    ]
}

/// One row per quarantine reason: the fixture, the edits made to it, and the field the reason
/// names.
pub(super) fn quarantine_rows() -> Vec<(Fixture, Vec<Edit>, &'static str)> {
    vec![
        (
            fixture!("group_add"),
            vec![("/eventType", None)],
            "/eventType",
        ),
        (
            fixture!("group_add"),
            vec![("/eventType", Some(json!("")))],
            "/eventType",
        ),
        (
            fixture!("group_add"),
            vec![("/outcome/result", None)],
            "/outcome/result",
        ),
        (
            fixture!("group_add"),
            vec![("/outcome", None)],
            "/outcome/result",
        ),
        (
            fixture!("group_add"),
            vec![("/outcome/result", Some(json!("MAYBE")))],
            "/outcome/result",
        ),
        (fixture!("group_add"), vec![("/uuid", None)], "/uuid"),
        (
            fixture!("group_add"),
            vec![("/uuid", Some(json!(7)))],
            "/uuid",
        ),
        (
            fixture!("group_add"),
            vec![("/published", Some(json!("yesterday")))],
            "/published",
        ),
        (
            fixture!("group_add"),
            vec![("/published", None)],
            "/published",
        ),
        (
            fixture!("group_add"),
            vec![("/actor/type", None)],
            "/actor/type",
        ),
        (
            fixture!("group_add"),
            vec![("/actor/alternateId", None)],
            "/actor/alternateId",
        ),
        (
            fixture!("group_add"),
            vec![
                ("/actor/type", Some(json!("PublicClientApp"))),
                ("/actor/alternateId", Some(json!("unknown"))),
                ("/actor/id", None),
            ],
            "/actor/id",
        ),
        (
            fixture!("lifecycle_create"),
            vec![("/target", None)],
            "/target",
        ),
        (
            fixture!("lifecycle_create"),
            vec![("/target", Some(json!({})))],
            "/target",
        ),
        (
            fixture!("lifecycle_create"),
            vec![("/target/0/type", Some(json!("AppUser")))],
            "/target",
        ),
        (
            fixture!("lifecycle_create"),
            vec![("/target/0/alternateId", None)],
            "/target/0/alternateId",
        ),
        (fixture!("group_add"), vec![("/target/1", None)], "/target"),
        (
            fixture!("group_add"),
            vec![("/target/1/displayName", None)],
            "/target/1/displayName",
        ),
        (
            fixture!("app_add"),
            vec![("/target/1/id", None)],
            "/target/1/id",
        ),
        (
            fixture!("app_add"),
            vec![("/target/1/displayName", Some(json!("")))],
            "/target/1/displayName",
        ),
        (
            fixture!("api_token_create"),
            vec![("/target/0/id", None)],
            "/target/0/id",
        ),
        (
            fixture!("api_token_create"),
            vec![("/target/0/type", Some(json!("User")))],
            "/target",
        ),
        (
            fixture!("mfa_deactivate"),
            vec![("/debugContext/debugData/factor", None)],
            "/target",
        ),
        (
            fixture!("mfa_activate"),
            vec![("/target/1/id", None)],
            "/target/1/id",
        ),
        (
            fixture!("session_start"),
            vec![("/actor/type", Some(json!("PublicClientApp")))],
            "/actor/type",
        ),
    ]
}
