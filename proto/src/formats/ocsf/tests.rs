//! OCSF as data: fixtures written from the OCSF schema with the events each activity must
//! become, field by field; every quarantine reason with the field it names; out-of-scope
//! records; the shape rule against the other formats; the activity table held against the
//! schema files in /work/shared/ocsf-schema and against docs/formats/ocsf.md; and a property
//! test that mapping never panics and yields only events with what their type requires.

use super::activities::{ACTIVITIES, Action, CLASSES};
use super::objects::FACTOR_TYPES;
use super::{STATUS_IDS, map, recognises};
use crate::formats::{Draft, FormatSettings, RecordOutcome};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A fixture: an OCSF record (or array of them) written from the document cited, with what
/// every event from it shares.
#[derive(Debug)]
struct Fixture {
    text: &'static str,
    source: &'static str,
    time: &'static str,
    /// The document the record is written from.
    cited: &'static str,
}

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/formats/ocsf/",
            $file
        ))
    };
}

const OKTA: &str = "ocsf:Okta/Okta System Log:acme.okta.com";
const ENTRA: &str = "ocsf:Microsoft/Entra ID:72f988bf-86f1-41af-91ab-2d7cd011db47";
const WINDOWS: &str = "ocsf:Microsoft/Windows Security Events";
const DUO: &str = "ocsf:Cisco/Duo Admin API";
const BROKER: &str = "ocsf:Acme/Access Broker:eu-1";
const AWS_IAM: &str = "ocsf:AWS/IAM:123456789012";

const AC_CREATE: Fixture = Fixture {
    text: fixture!("account_change_create.json"),
    source: OKTA,
    time: "2026-03-02T09:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/account_change",
};
const AC_MFA: Fixture = Fixture {
    text: fixture!("account_change_mfa_enable.json"),
    source: OKTA,
    time: "2026-03-02T09:05:00.250Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/account_change",
};
const AC_POLICY: Fixture = Fixture {
    text: fixture!("account_change_attach_policy.json"),
    source: "ocsf:AWS/CloudTrail:123456789012",
    time: "2026-03-03T10:00:00Z",
    cited: "https://schema.ocsf.io/1.2.0/classes/account_change",
};
const AUTH_LOGON: Fixture = Fixture {
    text: fixture!("authentication_logon.json"),
    source: WINDOWS,
    time: "2026-03-04T08:30:00Z",
    cited: "https://schema.ocsf.io/1.0.0/classes/authentication",
};
const AUTH_MFA_FAILED: Fixture = Fixture {
    text: fixture!("authentication_mfa_failed.json"),
    source: OKTA,
    time: "2026-03-04T09:00:00Z",
    cited: "https://schema.ocsf.io/1.3.0/classes/authentication",
};
const AUTH_SWITCH: Fixture = Fixture {
    text: fixture!("authentication_account_switch.json"),
    source: "ocsf:Linux/auditd",
    time: "2026-03-05T11:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/authentication",
};
const AUTHZ_PRIVILEGES: Fixture = Fixture {
    text: fixture!("authorize_session_privileges.json"),
    source: WINDOWS,
    time: "2026-03-04T08:30:00.500Z",
    cited: "https://schema.ocsf.io/1.0.0/classes/authorize_session",
};
const ENTITY_USER: Fixture = Fixture {
    text: fixture!("entity_management_user.json"),
    source: DUO,
    time: "2026-03-06T12:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/entity_management",
};
const ENTITY_KEY: Fixture = Fixture {
    text: fixture!("entity_management_api_key.json"),
    source: DUO,
    time: "2026-03-07T13:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/objects/managed_entity",
};
const ENTITY_DEVICE: Fixture = Fixture {
    text: fixture!("entity_management_device.json"),
    source: DUO,
    time: "2026-03-07T13:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/entity_management",
};
const UA_PRIVILEGES: Fixture = Fixture {
    text: fixture!("user_access_privileges.json"),
    source: BROKER,
    time: "2026-03-08T14:00:00Z",
    cited: "https://schema.ocsf.io/1.5.0/classes/user_access",
};
const UA_ROLE: Fixture = Fixture {
    text: fixture!("user_access_role.json"),
    source: BROKER,
    time: "2026-03-09T15:00:00Z",
    cited: "https://schema.ocsf.io/1.2.0/classes/user_access",
};
const GM_ADD: Fixture = Fixture {
    text: fixture!("group_management_add_user.json"),
    source: ENTRA,
    time: "2026-03-10T16:00:00Z",
    cited: "https://github.com/ocsf/ocsf-schema/blob/main/events/iam/group_management.json",
};
const GM_REMOVE_1_1: Fixture = Fixture {
    text: fixture!("group_management_remove_user_1_1.json"),
    source: ENTRA,
    time: "2026-03-11T17:00:00Z",
    cited: "https://schema.ocsf.io/1.1.0/classes/group_management",
};
const UM_CREATE_SERVICE: Fixture = Fixture {
    text: fixture!("user_management_create_service.json"),
    source: "ocsf:Google/Workspace Admin",
    time: "2026-03-12T18:00:00Z",
    cited: "https://github.com/ocsf/ocsf-schema/blob/main/events/iam/user_management.json",
};
const UM_PROGRAMMATIC: Fixture = Fixture {
    text: fixture!("user_management_programmatic.json"),
    source: AWS_IAM,
    time: "2026-03-13T19:00:00Z",
    cited: "https://github.com/ocsf/ocsf-schema/blob/main/objects/programmatic_credential.json",
};
const RM_CREATE: Fixture = Fixture {
    text: fixture!("role_management_create.json"),
    source: AWS_IAM,
    time: "2026-03-14T20:00:00Z",
    cited: "https://github.com/ocsf/ocsf-schema/blob/main/events/iam/role_management.json",
};
const BATCH: Fixture = Fixture {
    text: fixture!("batch.json"),
    source: "ocsf:Okta/Okta System Log",
    time: "2026-03-15T21:00:00Z",
    cited: "https://schema.ocsf.io/1.4.0/classes/authentication",
};

const ALL_FIXTURES: [&Fixture; 18] = [
    &AC_CREATE,
    &AC_MFA,
    &AC_POLICY,
    &AUTH_LOGON,
    &AUTH_MFA_FAILED,
    &AUTH_SWITCH,
    &AUTHZ_PRIVILEGES,
    &ENTITY_USER,
    &ENTITY_KEY,
    &ENTITY_DEVICE,
    &UA_PRIVILEGES,
    &UA_ROLE,
    &GM_ADD,
    &GM_REMOVE_1_1,
    &UM_CREATE_SERVICE,
    &UM_PROGRAMMATIC,
    &RM_CREATE,
    &BATCH,
];

/// Removes the member a patch names.
const REMOVE: &str = "<remove>";

/// The fixture with each `(pointer, JSON)` patch applied: the member set (created if absent)
/// or, for `REMOVE`, removed.
fn patched(fixture: &Fixture, patch: &[(&str, &str)]) -> Value {
    let mut doc: Value = serde_json::from_str(fixture.text).expect("fixtures are JSON");
    for (pointer, value) in patch {
        let (parent, member) = pointer.rsplit_once('/').expect("a patch pointer has a /");
        let target = doc
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("a patch names a member of an object");
        if *value == REMOVE {
            target.remove(member);
        } else {
            let value = serde_json::from_str(value).expect("a patch value is JSON");
            target.insert(member.to_owned(), value);
        }
    }
    doc
}

fn outcomes(doc: &Value) -> Vec<RecordOutcome> {
    map(doc, &FormatSettings::default()).expect("the message is read as OCSF")
}

/// The drafts of a message that must map to events only.
fn drafts(doc: &Value) -> Vec<Draft> {
    outcomes(doc)
        .into_iter()
        .map(|o| match o {
            RecordOutcome::Event(mapped) => mapped.draft,
            other => panic!("expected an event, found {other:?}"),
        })
        .collect()
}

/// What one event must be; members left at `E`'s value must be absent.
#[derive(Clone, Copy, Debug)]
struct Expect {
    id: &'static str,
    kind: &'static str,
    subject: (&'static str, &'static str),
    actor: Option<(&'static str, &'static str, Option<bool>)>,
    resource: Option<&'static str>,
    grant_id: Option<&'static str>,
    credential: Option<(&'static str, &'static str)>,
    owner: Option<&'static str>,
    membership: Option<&'static str>,
    reason: Option<&'static str>,
    failed: bool,
}

const E: Expect = Expect {
    id: "",
    kind: "",
    subject: ("", ""),
    actor: None,
    resource: None,
    grant_id: None,
    credential: None,
    owner: None,
    membership: None,
    reason: None,
    failed: false,
};

fn check_event(row: &str, fixture: &Fixture, draft: &Draft, want: &Expect) {
    let ctx = format!("{row}: {}", want.id);
    assert_eq!(draft.source, fixture.source, "{ctx}: source");
    assert_eq!(draft.id, want.id, "{ctx}: id");
    assert_eq!(draft.kind.as_str(), want.kind, "{ctx}: type");
    assert_eq!(draft.time.to_rfc3339(), fixture.time, "{ctx}: time");
    let subject = (draft.subject.id.as_str(), draft.subject.kind.as_str());
    assert_eq!(subject, want.subject, "{ctx}: subject");
    let actor = draft
        .actor
        .as_ref()
        .map(|a| (a.id.as_str(), a.kind.as_str(), a.mfa));
    assert_eq!(actor, want.actor, "{ctx}: actor");
    assert_eq!(draft.resource.as_deref(), want.resource, "{ctx}: resource");
    assert_eq!(draft.grant_id.as_deref(), want.grant_id, "{ctx}: grant_id");
    let credential = draft
        .credential
        .as_ref()
        .map(|c| (c.id.as_str(), c.kind.as_str()));
    assert_eq!(credential, want.credential, "{ctx}: credential");
    if let Some(c) = &draft.credential {
        assert_eq!(
            c.fingerprint, None,
            "{ctx}: OCSF gives no credential value to hash"
        );
    }
    assert_eq!(draft.owner.as_deref(), want.owner, "{ctx}: owner");
    assert_eq!(
        draft.membership.map(|m| m.as_str()),
        want.membership,
        "{ctx}: membership"
    );
    assert_eq!(draft.reason.as_deref(), want.reason, "{ctx}: reason");
    let failed = draft.outcome == crate::event::Outcome::Failed;
    assert_eq!(failed, want.failed, "{ctx}: outcome");
    for field in [&draft.request_id, &draft.ticket] {
        assert_eq!(field, &None, "{ctx}: OCSF has no request id or ticket");
    }
    assert_eq!(draft.decision, None, "{ctx}: decision");
    assert_eq!(draft.expires_at, None, "{ctx}: expires_at");
}

mod grants;
mod identities;
mod mapped;
mod properties;
mod quarantines;
mod schema;
mod scope;

/// One mapping row: a fixture, patched, and the events it must become, in order.
#[derive(Debug)]
struct Row {
    name: &'static str,
    fixture: &'static Fixture,
    patch: &'static [(&'static str, &'static str)],
    events: &'static [Expect],
}

const DANA: Option<(&str, &str, Option<bool>)> =
    Some(("dana.admin@example.com", "human", Some(true)));
const DANA_NO_MFA: Option<(&str, &str, Option<bool>)> =
    Some(("dana.admin@example.com", "human", None));
const ALICE: (&str, &str) = ("alice@example.com", "human");
const AC1: &str = "7d2c1f4e-2b8a-4f7e-9d1a-3c5e8b0a1f01";
const AC_ALICE: Expect = Expect {
    id: AC1,
    subject: ALICE,
    actor: DANA,
    ..E
};
const ALICE_PASSWORD: Option<(&str, &str)> = Some(("password:alice@example.com", "password"));
const AC2: &str = "7d2c1f4e-2b8a-4f7e-9d1a-3c5e8b0a1f02";
const ALICE_SELF: Option<(&str, &str, Option<bool>)> = Some(("alice@example.com", "human", None));
const AC3: &str = "b1e3a7c0-55aa-4c1d-8e0f-0a9b8c7d6e01";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const BOB_POLICY: Expect = Expect {
    id: AC3,
    subject: ("bob", "human"),
    actor: Some(("ops-admin", "human", Some(true))),
    resource: Some(READ_ONLY),
    grant_id: Some("policy:arn:aws:iam::aws:policy/ReadOnlyAccess:bob"),
    ..E
};
const CAROL: (&str, &str) = ("carol", "human");
const LOGON: Expect = Expect {
    id: "4624-0000000000a1",
    kind: "identity.authenticated",
    subject: CAROL,
    actor: Some(("carol", "human", Some(false))),
    ..E
};
const ERIN: Expect = Expect {
    id: "c3d4e5f6-0001-4a4a-9b9b-000000000001",
    subject: ("erin@example.com", "human"),
    actor: DANA_NO_MFA,
    reason: Some("new hire, ticket HR-311"),
    ..E
};
const KEY: Expect = Expect {
    id: "c3d4e5f6-0001-4a4a-9b9b-000000000002",
    subject: ("svc-reports", "service_account"),
    actor: DANA_NO_MFA,
    credential: Some(("DIKEY7F3A", "api_key")),
    ..E
};
const FRANK: (&str, &str) = ("frank@example.com", "human");
const BROKER_ACTOR: Option<(&str, &str, Option<bool>)> = Some(("access-broker", "service", None));
const UA1: &str = "e8f7a6b5-1234-4c5d-8e9f-00000000c001";
const PROD_DB_READ: Expect = Expect {
    id: "e8f7a6b5-1234-4c5d-8e9f-00000000c001#0",
    subject: FRANK,
    actor: BROKER_ACTOR,
    resource: Some("prod-db:read"),
    grant_id: Some("privilege:prod-db:read:frank@example.com"),
    ..E
};
const PROD_DB_WRITE: Expect = Expect {
    id: "e8f7a6b5-1234-4c5d-8e9f-00000000c001#1",
    resource: Some("prod-db:write"),
    grant_id: Some("privilege:prod-db:write:frank@example.com"),
    ..PROD_DB_READ
};
const BILLING_ADMIN: Expect = Expect {
    id: "e8f7a6b5-1234-4c5d-8e9f-00000000c002",
    subject: FRANK,
    actor: DANA_NO_MFA,
    resource: Some("Billing Admin"),
    grant_id: Some("membership:role:Billing Admin:frank@example.com"),
    membership: Some("role"),
    ..E
};
const GRACE_IN_ENGINEERING: Expect = Expect {
    id: "f0e1d2c3-b4a5-4968-8776-000000000001#0",
    kind: "access.granted",
    subject: ("grace@example.com", "human"),
    actor: DANA_NO_MFA,
    resource: Some("Engineering"),
    grant_id: Some("membership:group:Engineering:grace@example.com"),
    membership: Some("group"),
    ..E
};
const SVC_CI: Expect = Expect {
    id: "a9b8c7d6-0000-4111-8222-000000000001",
    subject: ("svc-ci", "service_account"),
    actor: Some(("ivan@example.com", "human", None)),
    ..E
};
const DEPLOY_BOT_KEY: Expect = Expect {
    id: "a9b8c7d6-0000-4111-8222-000000000002",
    subject: ("deploy-bot", "service_account"),
    actor: Some(("ops-admin", "human", None)),
    credential: Some(("AKIAIOSFODNN7EXAMPLE", "api_key")),
    ..E
};
const DEPLOY_ROLE: &str = "arn:aws:iam::123456789012:role/deploy";
const ROLE: Expect = Expect {
    id: "a9b8c7d6-0000-4111-8222-000000000003",
    subject: (DEPLOY_ROLE, "workload"),
    actor: Some(("ops-admin", "human", None)),
    ..E
};

/// Every mapping row.
fn mapping_rows() -> impl Iterator<Item = &'static Row> {
    identities::IDENTITY_ROWS.iter().chain(grants::GRANT_ROWS)
}
