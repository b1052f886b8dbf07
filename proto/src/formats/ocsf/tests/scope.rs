//! Out-of-scope records and the kind each is counted by, batches, and the shape rule against
//! the other formats.

use super::*;

/// A record outside idledger's scope: the fixture, patched, and the kind it is counted by.
struct OutOfScope {
    name: &'static str,
    fixture: &'static Fixture,
    patch: &'static [(&'static str, &'static str)],
    kind: &'static str,
}

const fn oos(
    name: &'static str,
    fixture: &'static Fixture,
    patch: &'static [(&'static str, &'static str)],
    kind: &'static str,
) -> OutOfScope {
    OutOfScope {
        name,
        fixture,
        patch,
        kind,
    }
}

const OUT_OF_SCOPE: &[OutOfScope] = &[
    oos(
        "a non-IAM class",
        &AC_CREATE,
        &[("/class_uid", "6003"), ("/category_uid", "6")],
        "ocsf:6003",
    ),
    oos(
        "a non-IAM class, even malformed for IAM",
        &AC_CREATE,
        &[("/class_uid", "1001"), ("/user", REMOVE)],
        "ocsf:1001",
    ),
    oos(
        "activity Unknown",
        &AC_CREATE,
        &[("/activity_id", "0")],
        "ocsf:3001:0",
    ),
    oos(
        "activity Other",
        &AUTH_LOGON,
        &[("/activity_id", "99")],
        "ocsf:3002:99",
    ),
    oos("lock", &AC_CREATE, &[("/activity_id", "9")], "ocsf:3001:9"),
    oos(
        "unlock",
        &UM_CREATE_SERVICE,
        &[("/activity_id", "7")],
        "ocsf:3007:7",
    ),
    oos(
        "logoff",
        &AUTH_LOGON,
        &[("/activity_id", "2")],
        "ocsf:3002:2",
    ),
    oos(
        "service ticket",
        &AUTH_LOGON,
        &[("/activity_id", "4")],
        "ocsf:3002:4",
    ),
    oos(
        "session groups",
        &AUTHZ_PRIVILEGES,
        &[("/activity_id", "2")],
        "ocsf:3003:2",
    ),
    oos("enroll a device", &ENTITY_DEVICE, &[], "ocsf:3004:6"),
    oos(
        "create a device",
        &ENTITY_DEVICE,
        &[("/activity_id", "1")],
        "ocsf:3004:1:device",
    ),
    oos(
        "update an API key",
        &ENTITY_KEY,
        &[("/activity_id", "3")],
        "ocsf:3004:3:api key",
    ),
    oos(
        "a policy entity",
        &ENTITY_KEY,
        &[("/entity/type_id", "5"), ("/entity/type", REMOVE)],
        "ocsf:3004:1:5",
    ),
    oos(
        "create a group",
        &GM_ADD,
        &[("/activity_id", "6")],
        "ocsf:3006:6",
    ),
    oos(
        "add a subgroup",
        &GM_ADD,
        &[("/activity_id", "7")],
        "ocsf:3006:7",
    ),
    oos(
        "assign resources to a role",
        &RM_CREATE,
        &[("/activity_id", "6")],
        "ocsf:3008:6",
    ),
];

#[test]
fn out_of_scope_records_are_counted_by_kind() {
    for row in OUT_OF_SCOPE {
        let outcomes = outcomes(&patched(row.fixture, row.patch));
        let want = vec![RecordOutcome::out_of_scope(row.kind)];
        assert_eq!(outcomes, want, "{}", row.name);
    }
}

#[test]
fn a_batch_gives_each_record_its_own_outcome() {
    let outcomes = outcomes(&serde_json::from_str(BATCH.text).expect("JSON"));
    assert_eq!(outcomes.len(), 3);
    let RecordOutcome::Event(logon) = &outcomes[0] else {
        panic!("expected a logon, found {:?}", outcomes[0])
    };
    check_event(
        "batch",
        &BATCH,
        &logon.draft,
        &Expect {
            id: "batch-0001",
            kind: "identity.authenticated",
            subject: ("judy@example.com", "human"),
            actor: Some(("judy@example.com", "human", Some(true))),
            ..E
        },
    );
    assert_eq!(logon.pointer, "/0");
    assert_eq!(outcomes[1], RecordOutcome::out_of_scope("ocsf:4001"));
    assert_eq!(outcomes[2], RecordOutcome::out_of_scope("ocsf:3002:2"));
}

#[test]
fn recognises_its_fixtures() {
    for fixture in ALL_FIXTURES {
        let doc: Value = serde_json::from_str(fixture.text).expect("JSON");
        assert!(recognises(&doc), "{}", fixture.cited);
    }
}

#[test]
fn recognises_no_other_format() {
    let others = [
        (
            "native",
            json!({"id":"e1","source":"okta-prod","type":"identity.created","time":"2026-03-02T09:00:00Z",
                   "actor":{"id":"hr","kind":"service"},"subject":{"id":"a@example.com","kind":"human"}}),
        ),
        (
            "cloudevents",
            json!({"specversion":"1.0","id":"1","source":"/okta","type":"com.okta.event","data":{"class_uid":3002}}),
        ),
        (
            "secevent",
            json!({"iss":"https://idp.example.com","iat":1772442000,"jti":"j1",
                   "events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{}}}),
        ),
        (
            "cloudtrail",
            json!({"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser",
                   "eventTime":"2026-03-02T09:00:00Z","eventID":"e1","recipientAccountId":"123456789012"}),
        ),
        (
            "cloudtrail log file",
            json!({"Records":[{"eventVersion":"1.08","eventName":"CreateUser"}]}),
        ),
        (
            "okta",
            json!({"uuid":"u1","eventType":"user.lifecycle.create","published":"2026-03-02T09:00:00Z",
                   "actor":{"id":"00u1","type":"User"},"outcome":{"result":"SUCCESS"}}),
        ),
        (
            "okta event hook",
            json!({"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u1","eventType":"user.session.start"}]}}),
        ),
        (
            "entra",
            json!({"id":"a1","category":"UserManagement","activityDisplayName":"Add user",
                   "loggedByService":"Core Directory","activityDateTime":"2026-03-02T09:00:00Z"}),
        ),
        (
            "entra diagnostic records",
            json!({"records":[{"operationName":"Add user","category":"AuditLogs","properties":{"id":"a1"}}]}),
        ),
        (
            "github",
            json!({"action":"org.add_member","@timestamp":1772442000000_i64,"actor":"octocat","org":"acme"}),
        ),
        (
            "vault",
            json!({"type":"response","time":"2026-03-02T09:00:00Z","auth":{"display_name":"token"},
                   "request":{"id":"r1","operation":"update","path":"auth/token/create"}}),
        ),
        (
            "an OCSF-like record with no metadata",
            json!({"class_uid":3002,"activity_id":1}),
        ),
        ("an empty array", json!([])),
        (
            "an array of other records",
            json!([{"uuid":"u1","eventType":"x","published":"t"}]),
        ),
    ];
    for (name, doc) in others {
        assert!(!recognises(&doc), "{name}");
    }
}
