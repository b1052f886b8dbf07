//! The Vault test tables: one row per event a mapped path family gives, with the fixture it
//! reads and every field expected, and one row per quarantine reason with the change that
//! causes it.

use crate::event::{ActorKind, CredentialKind, EventType, Outcome, SubjectKind};

/// The fixtures, named from this file's directory (one level below the tests that use them).
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/formats/vault/", $name))
    };
}

const ALICE_ACCESSOR: &str =
    "hmac-sha256:1af02af80b03abfb6d30c37c6f400376f15fcd0d09c02d78a8e4e94ad4d23960";
const BATCH_ACCESSOR: &str =
    "hmac-sha256:56ac07fb67594e8c5e5e1c0a9b5db3ab5dfb651f6fe6d2fcd3de548c99f90a11";
const WEB_ACCESSOR: &str =
    "hmac-sha256:3240c39a4e501306e449d6b9269138078df2e7ad0ee9bcf2e24486d46343c624";
const JANE_ACCESSOR: &str =
    "hmac-sha256:26fc501f5bfb95bcd1dbab193cb8fbc7a56b80501ef681013d93af2d251e1025";
const CI_ACCESSOR: &str =
    "hmac-sha256:e54ed6172d386f39123e6f6038976d8b5d9d0fe441e15c87656efade3cf471cf";
const CHILD_ACCESSOR: &str =
    "hmac-sha256:f57b2e967dba136e1b6eefdce9f03ace0e2c2be8a6c750cfb0c0679255822f87";
const BATCH_TOKEN_HMAC: &str =
    "hmac-sha256:ca0dae384e350e2413672bd9362e48ba9ae10ed440e09d40091ed66c7a1b19c8";
const LEASE: &str = "database/creds/readonly/2f6a614c-4aa2-7b19-24b9-ad944a8d4de6";

/// What one event of a fixture must be, field by field; fields left at `BASE` must be absent.
#[derive(Clone, Copy)]
pub(super) struct Expect {
    pub(super) fixture: &'static str,
    /// The last digits of the fixture's request id and its minute (the generator numbers them).
    pub(super) n: u32,
    /// Which event of the entry (`""`, or `#1`/`#2` for a login).
    pub(super) suffix: &'static str,
    pub(super) kind: EventType,
    pub(super) subject: (&'static str, SubjectKind),
    pub(super) actor: (&'static str, ActorKind),
    pub(super) credential: Option<(&'static str, CredentialKind)>,
    pub(super) outcome: Outcome,
    pub(super) expires_at: Option<&'static str>,
    /// Attributes that must be present with these values (as printed).
    pub(super) attrs: &'static [(&'static str, &'static str)],
}

const ALICE: (&str, SubjectKind) = ("alice", SubjectKind::Human);
const BY_ALICE: (&str, ActorKind) = ("alice", ActorKind::Human);

const BASE: Expect = Expect {
    fixture: "",
    n: 0,
    suffix: "",
    kind: EventType::CredentialUsed,
    subject: ALICE,
    actor: BY_ALICE,
    credential: None,
    outcome: Outcome::Succeeded,
    expires_at: None,
    attrs: &[],
};

const fn token(id: &'static str) -> Option<(&'static str, CredentialKind)> {
    Some((id, CredentialKind::Token))
}

const fn secret(id: &'static str) -> Option<(&'static str, CredentialKind)> {
    Some((id, CredentialKind::Secret))
}

/// One row per event a mapped path family gives (docs/formats/vault.md, "Paths").
pub(super) const ROWS: &[Expect] = &[
    Expect {
        fixture: fixture!("login_userpass.json"),
        n: 1,
        suffix: "#1",
        kind: EventType::IdentityAuthenticated,
        ..BASE
    },
    Expect {
        fixture: fixture!("login_userpass.json"),
        n: 1,
        suffix: "#2",
        kind: EventType::CredentialIssued,
        credential: token(ALICE_ACCESSOR),
        expires_at: Some("2026-04-03T10:01:05.481516234Z"),
        attrs: &[
            ("vault.token_type", "service"),
            ("vault.policies", "default,dev"),
            ("vault.mount_type", "userpass"),
        ],
        ..BASE
    },
    Expect {
        fixture: fixture!("login_userpass_failed.json"),
        n: 2,
        kind: EventType::IdentityAuthenticated,
        subject: ("bob", SubjectKind::Human),
        actor: ("bob", ActorKind::Human),
        outcome: Outcome::Failed,
        attrs: &[("vault.path", "auth/userpass/login/Bob")],
        ..BASE
    },
    Expect {
        fixture: fixture!("login_approle.json"),
        n: 3,
        suffix: "#1",
        kind: EventType::IdentityAuthenticated,
        subject: ("billing-batch", SubjectKind::ServiceAccount),
        actor: ("billing-batch", ActorKind::Service),
        ..BASE
    },
    Expect {
        fixture: fixture!("login_approle.json"),
        n: 3,
        suffix: "#2",
        kind: EventType::CredentialIssued,
        subject: ("billing-batch", SubjectKind::ServiceAccount),
        actor: ("billing-batch", ActorKind::Service),
        credential: token(BATCH_ACCESSOR),
        expires_at: Some("2026-03-02T11:03:05.481516234Z"),
        attrs: &[("vault.token_type", "batch")],
        ..BASE
    },
    Expect {
        fixture: fixture!("login_kubernetes.json"),
        n: 5,
        suffix: "#1",
        kind: EventType::IdentityAuthenticated,
        subject: ("system:serviceaccount:shop:web", SubjectKind::Workload),
        actor: ("system:serviceaccount:shop:web", ActorKind::Service),
        ..BASE
    },
    Expect {
        fixture: fixture!("login_kubernetes.json"),
        n: 5,
        suffix: "#2",
        kind: EventType::CredentialIssued,
        subject: ("system:serviceaccount:shop:web", SubjectKind::Workload),
        actor: ("system:serviceaccount:shop:web", ActorKind::Service),
        credential: token(WEB_ACCESSOR),
        expires_at: Some("2026-03-02T10:25:05.481516234Z"),
        ..BASE
    },
    Expect {
        fixture: fixture!("login_oidc.json"),
        n: 6,
        suffix: "#1",
        kind: EventType::IdentityAuthenticated,
        subject: ("jane.doe@example.com", SubjectKind::Human),
        actor: ("jane.doe@example.com", ActorKind::Human),
        ..BASE
    },
    Expect {
        fixture: fixture!("login_oidc.json"),
        n: 6,
        suffix: "#2",
        kind: EventType::CredentialIssued,
        subject: ("jane.doe@example.com", SubjectKind::Human),
        actor: ("jane.doe@example.com", ActorKind::Human),
        credential: token(JANE_ACCESSOR),
        expires_at: Some("2026-03-02T18:06:05.481516234Z"),
        ..BASE
    },
    Expect {
        fixture: fixture!("token_create_orphan.json"),
        n: 7,
        kind: EventType::CredentialIssued,
        subject: ("token-ci-deploy", SubjectKind::ServiceAccount),
        credential: token(CI_ACCESSOR),
        expires_at: Some("2026-03-03T10:07:05.481516234Z"),
        attrs: &[
            ("vault.policies", "default,deploy"),
            ("vault.path", "auth/token/create-orphan"),
        ],
        ..BASE
    },
    Expect {
        fixture: fixture!("token_create_child.json"),
        n: 8,
        kind: EventType::CredentialIssued,
        credential: token(CHILD_ACCESSOR),
        expires_at: Some("2026-03-02T11:08:05.481516234Z"),
        ..BASE
    },
    Expect {
        fixture: fixture!("token_create_denied.json"),
        n: 9,
        kind: EventType::CredentialIssued,
        credential: token("unissued:5b8c1e2a-0f3d-4c6b-a7e9-000000000009"),
        outcome: Outcome::Failed,
        ..BASE
    },
    Expect {
        fixture: fixture!("token_renew_self.json"),
        n: 10,
        kind: EventType::CredentialRotated,
        credential: token(ALICE_ACCESSOR),
        expires_at: Some("2026-03-02T18:10:05.481516234Z"),
        attrs: &[("vault.renewal", "true")],
        ..BASE
    },
    Expect {
        fixture: fixture!("token_revoke_accessor.json"),
        n: 11,
        kind: EventType::CredentialRevoked,
        credential: token(CI_ACCESSOR),
        ..BASE
    },
    Expect {
        fixture: fixture!("token_revoke_self.json"),
        n: 12,
        kind: EventType::CredentialRevoked,
        credential: token(ALICE_ACCESSOR),
        ..BASE
    },
    Expect {
        fixture: fixture!("token_revoke.json"),
        n: 13,
        kind: EventType::CredentialRevoked,
        credential: token(BATCH_TOKEN_HMAC),
        ..BASE
    },
    Expect {
        fixture: fixture!("lease_renew.json"),
        n: 14,
        kind: EventType::CredentialRotated,
        credential: secret(LEASE),
        attrs: &[("vault.renewal", "true"), ("vault.mount_type", "system")],
        ..BASE
    },
    Expect {
        fixture: fixture!("lease_revoke.json"),
        n: 15,
        kind: EventType::CredentialRevoked,
        credential: secret(LEASE),
        ..BASE
    },
    Expect {
        fixture: fixture!("lease_revoke_prefix.json"),
        n: 16,
        kind: EventType::CredentialRevoked,
        credential: secret("aws/creds/deploy"),
        attrs: &[("vault.lease_prefix", "true")],
        ..BASE
    },
    Expect {
        fixture: fixture!("secret_issued.json"),
        n: 17,
        kind: EventType::CredentialIssued,
        credential: secret(LEASE),
        ..BASE
    },
    Expect {
        fixture: fixture!("kv_read.json"),
        n: 18,
        credential: token(ALICE_ACCESSOR),
        attrs: &[
            ("vault.path", "secret/data/app/config"),
            ("vault.operation", "read"),
            ("vault.mount_type", "kv"),
            ("vault.remote_address", "10.0.4.17"),
        ],
        ..BASE
    },
    Expect {
        fixture: fixture!("kv_read_denied.json"),
        n: 19,
        credential: token(ALICE_ACCESSOR),
        outcome: Outcome::Failed,
        ..BASE
    },
];

/// One row per quarantine reason: the entry, what is changed, and the field the reason names.
/// A member changed (`Some`) or removed (`None`), at a JSON pointer.
pub(super) type Change = (&'static str, Option<&'static str>);

pub(super) const MALFORMED: &[(&str, &[Change], &str)] = &[
    (
        fixture!("kv_read.json"),
        &[("/request/id", None)],
        "/request/id",
    ),
    (fixture!("kv_read.json"), &[("/time", None)], "/time"),
    (
        fixture!("kv_read.json"),
        &[("/time", Some(r#""yesterday""#))],
        "/time",
    ),
    (
        fixture!("kv_read.json"),
        &[("/request/operation", Some("3"))],
        "/request/operation",
    ),
    (
        fixture!("kv_read.json"),
        &[("/request/path", None)],
        "/request/path",
    ),
    (
        fixture!("kv_read.json"),
        &[("/auth", Some(r#""alice""#))],
        "/auth",
    ),
    (
        fixture!("login_userpass.json"),
        &[("/response/auth/accessor", None)],
        "/response/auth/accessor",
    ),
    (
        fixture!("login_userpass.json"),
        &[
            ("/response/auth/display_name", None),
            ("/response/auth/metadata", None),
        ],
        "/response/auth/display_name",
    ),
    (
        fixture!("login_userpass.json"),
        &[("/response/auth", Some("[]"))],
        "/response/auth",
    ),
    (
        fixture!("token_create_orphan.json"),
        &[("/response/auth/accessor", None)],
        "/response/auth/accessor",
    ),
    (
        fixture!("token_revoke_accessor.json"),
        &[("/request/data/accessor", None)],
        "/request/data/accessor",
    ),
    (
        fixture!("token_revoke.json"),
        &[("/request/data/token", Some(r#""hvs.CAESIRAWTOKENVALUE""#))],
        "/request/data/token",
    ),
    (
        fixture!("token_revoke_self.json"),
        &[("/auth/accessor", None)],
        "/auth/accessor",
    ),
    (
        fixture!("token_renew_self.json"),
        &[("/response/auth", None), ("/auth/accessor", None)],
        "/response/auth/accessor",
    ),
    (
        fixture!("lease_renew.json"),
        &[("/response/secret", None), ("/request/data", None)],
        "/request/data/lease_id",
    ),
    (
        fixture!("lease_revoke.json"),
        &[("/auth", None)],
        "/auth/display_name",
    ),
];
