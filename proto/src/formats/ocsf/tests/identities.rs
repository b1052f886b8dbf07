//! Mapping rows of the identity-centred classes: Account Change, Authentication,
//! Authorize Session and Entity Management.

use super::*;

pub(super) const IDENTITY_ROWS: &[Row] = &[
    // Account Change (3001).
    Row {
        name: "3001 create",
        fixture: &AC_CREATE,
        patch: &[],
        events: &[Expect {
            kind: "identity.created",
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 create, failed",
        fixture: &AC_CREATE,
        patch: &[("/status_id", "2")],
        events: &[Expect {
            kind: "identity.created",
            failed: true,
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 enable",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "2")],
        events: &[Expect {
            kind: "identity.enabled",
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 password change",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "3")],
        events: &[Expect {
            kind: "credential.rotated",
            credential: ALICE_PASSWORD,
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 password reset",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "4")],
        events: &[Expect {
            kind: "credential.rotated",
            credential: ALICE_PASSWORD,
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 disable",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "5")],
        events: &[Expect {
            kind: "identity.disabled",
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 delete",
        fixture: &AC_CREATE,
        patch: &[("/activity_id", "6")],
        events: &[Expect {
            kind: "identity.deleted",
            ..AC_ALICE
        }],
    },
    Row {
        name: "3001 attach policy",
        fixture: &AC_POLICY,
        patch: &[],
        events: &[Expect {
            kind: "access.granted",
            ..BOB_POLICY
        }],
    },
    Row {
        name: "3001 detach policy, the older single `policy`",
        fixture: &AC_POLICY,
        patch: &[
            ("/activity_id", "8"),
            ("/policies", REMOVE),
            ("/policy", r#"{"name":"ReadOnlyAccess"}"#),
        ],
        events: &[Expect {
            kind: "access.revoked",
            resource: Some("ReadOnlyAccess"),
            grant_id: Some("policy:ReadOnlyAccess:bob"),
            ..BOB_POLICY
        }],
    },
    Row {
        name: "3001 MFA factor enable, two factors",
        fixture: &AC_MFA,
        patch: &[],
        events: &[
            Expect {
                id: "7d2c1f4e-2b8a-4f7e-9d1a-3c5e8b0a1f02#0",
                kind: "credential.issued",
                subject: ALICE,
                actor: ALICE_SELF,
                credential: Some(("mfa_factor:alice@example.com:otp:dev-a1", "mfa_factor")),
                ..E
            },
            Expect {
                id: "7d2c1f4e-2b8a-4f7e-9d1a-3c5e8b0a1f02#1",
                kind: "credential.issued",
                subject: ALICE,
                actor: ALICE_SELF,
                credential: Some(("mfa_factor:alice@example.com:sms", "mfa_factor")),
                ..E
            },
        ],
    },
    Row {
        name: "3001 MFA factor disable, no factor named",
        fixture: &AC_MFA,
        patch: &[("/activity_id", "11"), ("/auth_factors", REMOVE)],
        events: &[Expect {
            id: AC2,
            kind: "credential.revoked",
            subject: ALICE,
            actor: ALICE_SELF,
            credential: Some(("mfa_factor:alice@example.com", "mfa_factor")),
            ..E
        }],
    },
    // Authentication (3002).
    Row {
        name: "3002 logon",
        fixture: &AUTH_LOGON,
        patch: &[],
        events: &[LOGON],
    },
    Row {
        name: "3002 logon, failed",
        fixture: &AUTH_LOGON,
        patch: &[("/status_id", "2")],
        events: &[Expect {
            failed: true,
            ..LOGON
        }],
    },
    Row {
        name: "3002 logon with MFA, failed",
        fixture: &AUTH_MFA_FAILED,
        patch: &[],
        events: &[Expect {
            id: "0b9f6a52-77c3-4de2-a1b0-5e4f3d2c1b01",
            kind: "identity.authenticated",
            subject: ("mallory@example.com", "human"),
            actor: Some(("mallory@example.com", "human", Some(true))),
            credential: Some((
                "mfa_factor:mallory@example.com:push_notification:dev-m7",
                "mfa_factor",
            )),
            failed: true,
            ..E
        }],
    },
    Row {
        name: "3002 authentication ticket",
        fixture: &AUTH_LOGON,
        patch: &[("/activity_id", "3")],
        events: &[LOGON],
    },
    Row {
        name: "3002 account switch",
        fixture: &AUTH_SWITCH,
        patch: &[],
        events: &[Expect {
            id: "sudo-2f8e1c",
            kind: "identity.authenticated",
            subject: ("root", "human"),
            actor: Some(("bob", "human", None)),
            ..E
        }],
    },
    // Authorize Session (3003).
    Row {
        name: "3003 assign privileges, no actor: the product",
        fixture: &AUTHZ_PRIVILEGES,
        patch: &[],
        events: &[
            Expect {
                id: "4672-0000000000a2#0",
                kind: "access.granted",
                subject: CAROL,
                actor: Some(("Windows Security Events", "system", None)),
                resource: Some("SeDebugPrivilege"),
                grant_id: Some("privilege:SeDebugPrivilege:carol"),
                ..E
            },
            Expect {
                id: "4672-0000000000a2#1",
                kind: "access.granted",
                subject: CAROL,
                actor: Some(("Windows Security Events", "system", None)),
                resource: Some("SeBackupPrivilege"),
                grant_id: Some("privilege:SeBackupPrivilege:carol"),
                ..E
            },
        ],
    },
    // Entity Management (3004): user entities.
    Row {
        name: "3004 create user",
        fixture: &ENTITY_USER,
        patch: &[],
        events: &[Expect {
            kind: "identity.created",
            ..ERIN
        }],
    },
    Row {
        name: "3004 update user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "3")],
        events: &[Expect {
            kind: "identity.updated",
            ..ERIN
        }],
    },
    Row {
        name: "3004 delete user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "4")],
        events: &[Expect {
            kind: "identity.deleted",
            ..ERIN
        }],
    },
    Row {
        name: "3004 move user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "5")],
        events: &[Expect {
            kind: "identity.updated",
            ..ERIN
        }],
    },
    Row {
        name: "3004 enable user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "8")],
        events: &[Expect {
            kind: "identity.enabled",
            ..ERIN
        }],
    },
    Row {
        name: "3004 disable user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "9")],
        events: &[Expect {
            kind: "identity.disabled",
            ..ERIN
        }],
    },
    Row {
        name: "3004 suspend user",
        fixture: &ENTITY_USER,
        patch: &[("/activity_id", "12")],
        events: &[Expect {
            kind: "identity.disabled",
            ..ERIN
        }],
    },
    Row {
        name: "3004 resume user, by entity.user",
        fixture: &ENTITY_USER,
        patch: &[
            ("/activity_id", "13"),
            (
                "/entity/user",
                r#"{"email_addr":"Erin@Example.com","uid":"DU3RP9I2A1"}"#,
            ),
        ],
        events: &[Expect {
            kind: "identity.enabled",
            ..ERIN
        }],
    },
    Row {
        name: "3004 create service user: the creator owns it",
        fixture: &ENTITY_USER,
        patch: &[("/entity/user", r#"{"name":"svc-sync","type_id":4}"#)],
        events: &[Expect {
            kind: "identity.created",
            subject: ("svc-sync", "service_account"),
            owner: Some("dana.admin@example.com"),
            ..ERIN
        }],
    },
    // Entity Management (3004): credential entities.
    Row {
        name: "3004 create API key",
        fixture: &ENTITY_KEY,
        patch: &[],
        events: &[Expect {
            kind: "credential.issued",
            ..KEY
        }],
    },
    Row {
        name: "3004 delete API key",
        fixture: &ENTITY_KEY,
        patch: &[("/activity_id", "4")],
        events: &[Expect {
            kind: "credential.revoked",
            ..KEY
        }],
    },
    Row {
        name: "3004 disable certificate",
        fixture: &ENTITY_KEY,
        patch: &[
            ("/activity_id", "9"),
            ("/entity/type", r#""Client Certificate""#),
        ],
        events: &[Expect {
            kind: "credential.revoked",
            credential: Some(("DIKEY7F3A", "certificate")),
            ..KEY
        }],
    },
];
