//! Mapping rows of the grant- and credential-centred classes: User Access Management, Group
//! Management, User Management and Role Management.

use super::*;

pub(super) const GRANT_ROWS: &[Row] = &[
    // User Access Management (3005).
    Row {
        name: "3005 assign privileges on a resource",
        fixture: &UA_PRIVILEGES,
        patch: &[],
        events: &[
            Expect {
                kind: "access.granted",
                ..PROD_DB_READ
            },
            Expect {
                kind: "access.granted",
                ..PROD_DB_WRITE
            },
        ],
    },
    Row {
        name: "3005 revoke privileges, no resource",
        fixture: &UA_PRIVILEGES,
        patch: &[
            ("/activity_id", "2"),
            ("/resources", REMOVE),
            ("/privileges", r#"["admin"]"#),
        ],
        events: &[Expect {
            id: UA1,
            kind: "access.revoked",
            resource: Some("admin"),
            grant_id: Some("privilege:admin:frank@example.com"),
            ..PROD_DB_READ
        }],
    },
    Row {
        name: "3005 assign role",
        fixture: &UA_ROLE,
        patch: &[],
        events: &[Expect {
            kind: "access.granted",
            ..BILLING_ADMIN
        }],
    },
    Row {
        name: "3005 remove role",
        fixture: &UA_ROLE,
        patch: &[("/activity_id", "4")],
        events: &[Expect {
            kind: "access.revoked",
            ..BILLING_ADMIN
        }],
    },
    // Group Management (3006).
    Row {
        name: "3006 add users (1.9 `users`)",
        fixture: &GM_ADD,
        patch: &[],
        events: &[
            GRACE_IN_ENGINEERING,
            Expect {
                id: "f0e1d2c3-b4a5-4968-8776-000000000001#1",
                subject: ("heidi@example.com", "human"),
                grant_id: Some("membership:group:Engineering:heidi@example.com"),
                ..GRACE_IN_ENGINEERING
            },
        ],
    },
    Row {
        name: "3006 remove user (1.1 `user`): the grant the add opened",
        fixture: &GM_REMOVE_1_1,
        patch: &[],
        events: &[Expect {
            id: "f0e1d2c3-b4a5-4968-8776-000000000002",
            kind: "access.revoked",
            ..GRACE_IN_ENGINEERING
        }],
    },
    // User Management (3007).
    Row {
        name: "3007 create service account: the creator owns it",
        fixture: &UM_CREATE_SERVICE,
        patch: &[],
        events: &[Expect {
            kind: "identity.created",
            owner: Some("ivan@example.com"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 update",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "2")],
        events: &[Expect {
            kind: "identity.updated",
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 delete",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "3")],
        events: &[Expect {
            kind: "identity.deleted",
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 enable",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "4")],
        events: &[Expect {
            kind: "identity.enabled",
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 disable",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "5")],
        events: &[Expect {
            kind: "identity.disabled",
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 password change",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "8")],
        events: &[Expect {
            kind: "credential.rotated",
            credential: Some(("password:svc-ci", "password")),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 password reset",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "9")],
        events: &[Expect {
            kind: "credential.rotated",
            credential: Some(("password:svc-ci", "password")),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 attach policies",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "10"),
            ("/policies", r#"[{"name":"ci-deploy"}]"#),
        ],
        events: &[Expect {
            kind: "access.granted",
            resource: Some("ci-deploy"),
            grant_id: Some("policy:ci-deploy:svc-ci"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 detach policies",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "11"),
            ("/policies", r#"[{"uid":"pol-9"}]"#),
        ],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some("pol-9"),
            grant_id: Some("policy:pol-9:svc-ci"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 enable MFA factors",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "12"),
            (
                "/auth_factors",
                r#"[{"factor_type_id":10,"factor_type":"WebAuthn"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "credential.issued",
            credential: Some(("mfa_factor:svc-ci:webauthn", "mfa_factor")),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 disable MFA factors, a source's own factor type",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "13"),
            (
                "/auth_factors",
                r#"[{"factor_type_id":99,"factor_type":"Smart Card"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "credential.revoked",
            credential: Some(("mfa_factor:svc-ci:smart_card", "mfa_factor")),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 assign privileges",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "14"), ("/privileges", r#"["deploy"]"#)],
        events: &[Expect {
            kind: "access.granted",
            resource: Some("deploy"),
            grant_id: Some("privilege:deploy:svc-ci"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 remove privileges",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "15"),
            ("/privileges", r#"["deploy"]"#),
            ("/resources", r#"[{"uid":"repo-7"}]"#),
        ],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some("repo-7:deploy"),
            grant_id: Some("privilege:repo-7:deploy:svc-ci"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 assign roles",
        fixture: &UM_CREATE_SERVICE,
        patch: &[
            ("/activity_id", "16"),
            ("/iam_roles", r#"[{"name":"Viewer","uid":"r-1"}]"#),
        ],
        events: &[Expect {
            kind: "access.granted",
            resource: Some("Viewer"),
            grant_id: Some("membership:role:Viewer:svc-ci"),
            membership: Some("role"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 remove roles",
        fixture: &UM_CREATE_SERVICE,
        patch: &[("/activity_id", "17"), ("/iam_roles", r#"[{"uid":"r-1"}]"#)],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some("r-1"),
            grant_id: Some("membership:role:r-1:svc-ci"),
            membership: Some("role"),
            ..SVC_CI
        }],
    },
    Row {
        name: "3007 add programmatic credentials",
        fixture: &UM_PROGRAMMATIC,
        patch: &[],
        events: &[Expect {
            kind: "credential.issued",
            ..DEPLOY_BOT_KEY
        }],
    },
    Row {
        name: "3007 remove programmatic credentials, a token",
        fixture: &UM_PROGRAMMATIC,
        patch: &[
            ("/activity_id", "19"),
            (
                "/programmatic_credentials",
                r#"[{"uid":"pat-31","type":"Personal Access Token"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "credential.revoked",
            credential: Some(("pat-31", "token")),
            ..DEPLOY_BOT_KEY
        }],
    },
    // Role Management (3008): the role is the subject.
    Row {
        name: "3008 create: the creator owns it",
        fixture: &RM_CREATE,
        patch: &[],
        events: &[Expect {
            kind: "identity.created",
            owner: Some("ops-admin"),
            ..ROLE
        }],
    },
    Row {
        name: "3008 update",
        fixture: &RM_CREATE,
        patch: &[("/activity_id", "2")],
        events: &[Expect {
            kind: "identity.updated",
            ..ROLE
        }],
    },
    Row {
        name: "3008 delete",
        fixture: &RM_CREATE,
        patch: &[("/activity_id", "3")],
        events: &[Expect {
            kind: "identity.deleted",
            ..ROLE
        }],
    },
    Row {
        name: "3008 assign privileges",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "4"),
            ("/privileges", r#"["s3:GetObject"]"#),
        ],
        events: &[Expect {
            kind: "access.granted",
            resource: Some("s3:GetObject"),
            grant_id: Some("privilege:s3:GetObject:arn:aws:iam::123456789012:role/deploy"),
            ..ROLE
        }],
    },
    Row {
        name: "3008 remove privileges",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "5"),
            ("/privileges", r#"["s3:GetObject"]"#),
        ],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some("s3:GetObject"),
            grant_id: Some("privilege:s3:GetObject:arn:aws:iam::123456789012:role/deploy"),
            ..ROLE
        }],
    },
    Row {
        name: "3008 attach policies",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "8"),
            (
                "/policies",
                r#"[{"uid":"arn:aws:iam::aws:policy/ReadOnlyAccess"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "access.granted",
            resource: Some(READ_ONLY),
            grant_id: Some(
                "policy:arn:aws:iam::aws:policy/ReadOnlyAccess:arn:aws:iam::123456789012:role/deploy",
            ),
            ..ROLE
        }],
    },
    Row {
        name: "3008 detach policies",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "9"),
            (
                "/policies",
                r#"[{"uid":"arn:aws:iam::aws:policy/ReadOnlyAccess"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some(READ_ONLY),
            grant_id: Some(
                "policy:arn:aws:iam::aws:policy/ReadOnlyAccess:arn:aws:iam::123456789012:role/deploy",
            ),
            ..ROLE
        }],
    },
    Row {
        name: "3008 add programmatic credentials",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "10"),
            (
                "/programmatic_credentials",
                r#"[{"uid":"ASIAEXAMPLESESSION","type":"Access Token"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "credential.issued",
            credential: Some(("ASIAEXAMPLESESSION", "token")),
            ..ROLE
        }],
    },
    Row {
        name: "3008 remove programmatic credentials",
        fixture: &RM_CREATE,
        patch: &[
            ("/activity_id", "11"),
            (
                "/programmatic_credentials",
                r#"[{"uid":"AKIAEXAMPLEROLEKEY"}]"#,
            ),
        ],
        events: &[Expect {
            kind: "credential.revoked",
            credential: Some(("AKIAEXAMPLEROLEKEY", "api_key")),
            ..ROLE
        }],
    },
];
