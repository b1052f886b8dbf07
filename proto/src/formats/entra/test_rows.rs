//! The Entra ID test tables: one row per activity mapped, with the fixture it reads, the document
//! it was written from and the drafts expected, and one row per quarantine reason.

use super::*;

/// The fixtures, named from this file's directory (one level below the tests that use them).
macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../../tests/fixtures/formats/entra/",
                $name,
                ".json"
            )),
        )
    };
}

pub(super) struct Row {
    pub(super) fixture: Fixture,
    pub(super) cite: &'static str,
    /// Each event the message maps to: its pointer and draft.
    pub(super) want: Vec<(&'static str, Draft)>,
    pub(super) attributes: &'static [(&'static str, &'static str)],
}

pub(super) fn mapping_rows() -> Vec<Row> {
    use EventType as T;
    use MembershipKind::{Group, Role};
    let row = |fixture, cite, want, attributes| Row {
        fixture,
        cite,
        want,
        attributes,
    };
    let diagnostic = |d: Draft| Draft {
        source: TENANT_SOURCE.to_owned(),
        ..d
    };
    let app_key = |n: usize, kind, id, cred_kind| Draft {
        id: format!("{}#{n}", audit_id("12")),
        subject: billing_batch(),
        credential: key(id, cred_kind),
        ..want(kind, "12", "2026-04-01T09:10:00Z")
    };
    vec![
        row(
            fixture!("add_user"),
            DIRECTORY_AUDIT,
            vec![(
                "",
                want(T::IdentityCreated, "01", "2026-03-02T09:00:00.1234567Z"),
            )],
            &[
                ("entra.activity", "Add user"),
                ("entra.category", "UserManagement"),
                ("entra.target_id", "7d8f2c41-3b6a-4e59-a1c2-0f9e8d7c6b5a"),
                ("entra.initiator_ip", "198.51.100.7"),
            ],
        ),
        row(
            fixture!("update_user"),
            ACTIVITIES,
            vec![("", want(T::IdentityUpdated, "02", "2026-03-03T10:00:00Z"))],
            &[("entra.operation_type", "Update")],
        ),
        row(
            fixture!("update_user_disable"),
            ACTIVITIES,
            vec![("", want(T::IdentityDisabled, "03", "2026-06-30T17:00:00Z"))],
            &[("entra.activity", "Update user")],
        ),
        row(
            fixture!("disable_account"),
            ACTIVITIES,
            vec![("", want(T::IdentityDisabled, "04", "2026-06-30T17:00:01Z"))],
            &[("entra.activity", "Disable account")],
        ),
        row(
            fixture!("enable_account"),
            ACTIVITIES,
            vec![("", want(T::IdentityEnabled, "05", "2026-07-15T08:00:00Z"))],
            &[("entra.activity", "Enable account")],
        ),
        row(
            fixture!("delete_user"),
            ACTIVITIES,
            vec![("", want(T::IdentityDeleted, "06", "2026-07-31T12:00:00Z"))],
            &[("entra.operation_type", "Delete")],
        ),
        row(
            fixture!("add_member_group"),
            DIRECTORY_AUDIT,
            vec![(
                "",
                membership(
                    want(T::AccessGranted, "07", "2026-03-02T09:05:00Z"),
                    Group,
                    "Payments Engineers",
                ),
            )],
            &[("entra.category", "GroupManagement")],
        ),
        row(
            fixture!("add_member_group_failed"),
            DIRECTORY_AUDIT,
            vec![(
                "",
                Draft {
                    outcome: Outcome::Failed,
                    ..membership(
                        want(T::AccessGranted, "08", "2026-03-02T09:04:00Z"),
                        Group,
                        "Payments Engineers",
                    )
                },
            )],
            &[(
                "entra.result_reason",
                "Insufficient privileges to complete the operation.",
            )],
        ),
        row(
            fixture!("add_member_role"),
            ACTIVITIES,
            vec![(
                "",
                membership(
                    want(T::AccessGranted, "09", "2026-04-01T12:00:00Z"),
                    Role,
                    "Global Administrator",
                ),
            )],
            &[("entra.category", "RoleManagement")],
        ),
        row(
            fixture!("diagnostic_records"),
            RESOURCE_LOGS,
            vec![
                (
                    "/records/0",
                    diagnostic(membership(
                        want(T::AccessRevoked, "16", "2026-06-30T17:05:00Z"),
                        Group,
                        "Payments Engineers",
                    )),
                ),
                (
                    "/records/1",
                    diagnostic(membership(
                        want(T::AccessRevoked, "17", "2026-04-15T12:00:00Z"),
                        Role,
                        "Global Administrator",
                    )),
                ),
            ],
            &[("entra.operation_type", "Unassign")],
        ),
        row(
            fixture!("add_service_principal"),
            ACTIVITIES,
            vec![(
                "",
                Draft {
                    subject: billing_batch(),
                    owner: Some(ADA.to_owned()),
                    ..want(T::IdentityCreated, "10", "2026-03-05T14:00:00Z")
                },
            )],
            &[("entra.app_id", "0f1e2d3c-4b5a-4697-8877-665544332211")],
        ),
        row(
            fixture!("remove_service_principal"),
            ACTIVITIES,
            vec![(
                "",
                Draft {
                    subject: billing_batch(),
                    ..want(T::IdentityDeleted, "11", "2026-12-01T14:00:00Z")
                },
            )],
            &[("entra.target_id", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")],
        ),
        row(
            fixture!("app_certs_secrets"),
            ACTIVITIES,
            vec![
                (
                    "",
                    app_key(
                        1,
                        T::CredentialIssued,
                        "b2b2b2b2-2222-4222-8222-222222222222",
                        CredentialKind::Certificate,
                    ),
                ),
                (
                    "",
                    app_key(
                        2,
                        T::CredentialIssued,
                        "c3c3c3c3-3333-4333-8333-333333333333",
                        CredentialKind::Secret,
                    ),
                ),
                (
                    "",
                    app_key(3, T::CredentialRevoked, SEC_A, CredentialKind::Secret),
                ),
            ],
            &[("entra.target_id", "4b3a2918-0716-4f5e-9d8c-7b6a59483726")],
        ),
        row(
            fixture!("add_sp_credentials"),
            ACTIVITIES,
            vec![(
                "",
                Draft {
                    subject: billing_batch(),
                    actor: Some(DraftActor {
                        id: "Deploy Pipeline".to_owned(),
                        kind: ActorKind::Service,
                        mfa: None,
                    }),
                    credential: key(SEC_A, CredentialKind::Secret),
                    ..want(T::CredentialIssued, "13", "2026-04-02T09:10:00Z")
                },
            )],
            &[("entra.activity", "Add service principal credentials")],
        ),
        row(
            fixture!("remove_sp_credentials"),
            ACTIVITIES,
            vec![(
                "",
                Draft {
                    subject: billing_batch(),
                    credential: key(SEC_A, CredentialKind::Secret),
                    ..want(T::CredentialRevoked, "14", "2026-10-02T09:10:00Z")
                },
            )],
            &[("entra.activity", "Remove service principal credentials")],
        ),
        row(
            fixture!("graph_page"),
            DIRECTORY_AUDIT,
            vec![(
                "/value/0",
                want(T::IdentityCreated, "01", "2026-03-02T09:00:00.1234567Z"),
            )],
            &[("entra.activity", "Add user")],
        ),
    ]
}

/// One row per quarantine reason: the fixture, the edits made to it, the pointer of the record
/// quarantined and the field the reason names.
pub(super) fn quarantine_rows() -> Vec<(Fixture, Vec<Edit>, &'static str, &'static str)> {
    vec![
        (
            fixture!("add_user"),
            vec![("/activityDisplayName", None)],
            "",
            "/activityDisplayName",
        ),
        (
            fixture!("add_user"),
            vec![("/category", Some(json!("")))],
            "",
            "/category",
        ),
        (fixture!("add_user"), vec![("/result", None)], "", "/result"),
        (
            fixture!("add_user"),
            vec![("/result", Some(json!("unknownFutureValue")))],
            "",
            "/result",
        ),
        (fixture!("add_user"), vec![("/id", None)], "", "/id"),
        (
            fixture!("add_user"),
            vec![("/activityDateTime", Some(json!("2026-03-02")))],
            "",
            "/activityDateTime",
        ),
        (
            fixture!("add_user"),
            vec![("/initiatedBy/user", None)],
            "",
            "/initiatedBy",
        ),
        (
            fixture!("add_user"),
            vec![
                ("/initiatedBy/user/userPrincipalName", None),
                ("/initiatedBy/user/id", None),
            ],
            "",
            "/initiatedBy/user/userPrincipalName",
        ),
        (
            fixture!("add_sp_credentials"),
            vec![("/initiatedBy/app", Some(json!({})))],
            "",
            "/initiatedBy/app/displayName",
        ),
        (
            fixture!("add_user"),
            vec![("/targetResources", None)],
            "",
            "/targetResources",
        ),
        (
            fixture!("add_user"),
            vec![("/targetResources/0/type", Some(json!("Device")))],
            "",
            "/targetResources",
        ),
        (
            fixture!("add_user"),
            vec![("/targetResources/0/userPrincipalName", None)],
            "",
            "/targetResources/0/userPrincipalName",
        ),
        (
            fixture!("update_user_disable"),
            vec![(
                "/targetResources/0/modifiedProperties/0/newValue",
                Some(json!("[]")),
            )],
            "",
            "/targetResources/0/modifiedProperties/0/newValue",
        ),
        (
            fixture!("add_member_group"),
            vec![("/targetResources", Some(json!([])))],
            "",
            "/targetResources",
        ),
        (
            fixture!("add_member_group"),
            vec![("/targetResources/0/modifiedProperties", Some(json!([])))],
            "",
            "/targetResources",
        ),
        (
            fixture!("add_member_group"),
            vec![
                ("/targetResources/0/type", Some(json!("ServicePrincipal"))),
                ("/targetResources/0/id", Some(json!(""))),
            ],
            "",
            "/targetResources/0/displayName",
        ),
        (
            fixture!("add_service_principal"),
            vec![("/targetResources/0/type", Some(json!("Application")))],
            "",
            "/targetResources",
        ),
        (
            fixture!("add_sp_credentials"),
            vec![("/targetResources/0/modifiedProperties", Some(json!([])))],
            "",
            "/targetResources/0/modifiedProperties",
        ),
        (
            fixture!("add_sp_credentials"),
            vec![(
                "/targetResources/0/modifiedProperties/0/newValue",
                Some(json!("[\"[KeyType=Password]\"]")),
            )],
            "",
            "/targetResources/0/modifiedProperties/0/newValue",
        ),
        (
            fixture!("remove_sp_credentials"),
            vec![(
                "/targetResources/0/modifiedProperties/0/oldValue",
                Some(json!("KeyIdentifier")),
            )],
            "",
            "/targetResources/0/modifiedProperties/0/oldValue",
        ),
        (
            fixture!("diagnostic_records"),
            vec![("/records/0/properties", Some(json!("x")))],
            "/records/0",
            "/properties",
        ),
        (
            fixture!("diagnostic_records"),
            vec![("/records/0/properties", None)],
            "/records/0",
            "/properties",
        ),
        (
            fixture!("diagnostic_records"),
            vec![("/records/0/category", None)],
            "/records/0",
            "/category",
        ),
        (
            fixture!("diagnostic_records"),
            vec![
                ("/records/1/properties/result", None),
                ("/records/1/resultType", Some(json!("Partial"))),
            ],
            "/records/1",
            "/resultType",
        ),
        (
            fixture!("diagnostic_records"),
            vec![(
                "/records/1/properties/targetResources/0/userPrincipalName",
                Some(json!(5)),
            )],
            "/records/1",
            "/properties/targetResources/0/userPrincipalName",
        ),
        (
            fixture!("graph_page"),
            vec![("/value/0", Some(json!([])))],
            "/value/0",
            "",
        ),
    ]
}
