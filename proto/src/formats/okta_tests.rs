//! Tests of the Okta mapping, as data: one row per event type mapped, per quarantine reason and
//! per record left out of scope, with the fixtures in proto/tests/fixtures/formats/okta/ written
//! from Okta's published documentation (cited per row).

use super::*;
use crate::formats::Mapped;
use crate::formats::test_support::{check_attributes, check_validates};
use crate::time::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use test_rows::{mapping_rows, quarantine_rows};

#[path = "okta/test_rows.rs"]
mod test_rows;

const SYSTEM_LOG: &str = "https://developer.okta.com/docs/reference/api/system-log/";
const EVENT_TYPES: &str = "https://developer.okta.com/docs/reference/api/event-types/";
const EVENT_HOOKS: &str = "https://developer.okta.com/docs/concepts/event-hooks/";

const ALICE: &str = "alice.smith@acme.example";
const ADMIN: &str = "admin@acme.example";

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../tests/fixtures/formats/okta/",
                $name,
                ".json"
            )),
        )
    };
}

type Fixture = (&'static str, &'static str);

const FIXTURES: &[Fixture] = &[
    fixture!("lifecycle_create"),
    fixture!("lifecycle_activate"),
    fixture!("lifecycle_deactivate"),
    fixture!("lifecycle_suspend"),
    fixture!("lifecycle_unsuspend"),
    fixture!("lifecycle_delete_completed"),
    fixture!("update_profile"),
    fixture!("group_add"),
    fixture!("group_remove"),
    fixture!("app_add"),
    fixture!("app_remove"),
    fixture!("privilege_grant"),
    fixture!("privilege_revoke"),
    fixture!("api_token_create"),
    fixture!("api_token_revoke"),
    fixture!("mfa_activate"),
    fixture!("mfa_deactivate"),
    fixture!("mfa_reset_all"),
    fixture!("password_update"),
    fixture!("password_reset"),
    fixture!("session_start"),
    fixture!("session_start_failed"),
    fixture!("auth_sso"),
    fixture!("auth_via_mfa"),
    fixture!("policy_evaluate_sign_on"),
    fixture!("session_challenge"),
    fixture!("event_hook"),
    fixture!("system_log_page"),
];

fn parse((name, text): Fixture) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

fn outcomes(doc: &Value) -> Vec<RecordOutcome> {
    map(doc, &FormatSettings::default()).expect("the message is read as Okta")
}

fn only_event(name: &str, doc: &Value) -> Mapped {
    match outcomes(doc).as_slice() {
        [RecordOutcome::Event(mapped)] => (**mapped).clone(),
        other => panic!("{name}: expected one event, found {other:?}"),
    }
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("test times are RFC 3339")
}

fn actor(id: &str, kind: ActorKind) -> Option<DraftActor> {
    Some(DraftActor {
        id: id.to_owned(),
        kind,
        mfa: None,
    })
}

fn cred(id: &str, kind: CredentialKind) -> Option<DraftCredential> {
    Some(DraftCredential {
        id: id.to_owned(),
        kind,
        fingerprint: None,
    })
}

/// The expected draft of a row, attributes aside (checked as a subset per row): by default
/// about Alice, done by the admin, a success.
fn want(kind: EventType, uuid: &str, at: &str) -> Draft {
    let mut d = Draft::new(
        "okta",
        uuid,
        kind,
        time(at),
        DraftSubject {
            id: ALICE.to_owned(),
            kind: SubjectKind::Human,
        },
    );
    d.actor = actor(ADMIN, ActorKind::Human);
    d
}

fn uuid(n: &str) -> String {
    format!("0a1f2b3c-6d{n}-11ee-9a01-0123456789ab")
}

#[test]
fn each_mapped_event_type_gives_the_expected_draft() {
    for row in mapping_rows() {
        let (name, _) = row.fixture;
        assert!(row.cite.starts_with("https://"), "{name}: cite the source");
        let mapped = only_event(name, &parse(row.fixture));
        assert_eq!(mapped.event_id, row.want.id, "{name}: event id");
        assert_eq!(mapped.pointer, "", "{name}: pointer");
        let mut got = mapped.draft.clone();
        let attributes = std::mem::take(&mut got.attributes);
        assert_eq!(got, row.want, "{name}");
        check_attributes(name, &attributes, row.attributes);
        check_validates(name, &mapped.draft);
    }
}

/// The worked example of docs/formats/okta.md, every field including the attributes.
#[test]
fn the_documented_example_maps_field_for_field() {
    let mapped = only_event("group_add", &parse(fixture!("group_add")));
    let text = |s: &str| AttrValue::Text(s.to_owned());
    let want_attributes = vec![
        (
            "okta.event_type".to_owned(),
            text("group.user_membership.add"),
        ),
        (
            "okta.display_message".to_owned(),
            text("Add user to group membership"),
        ),
        ("okta.transaction_id".to_owned(), text("WbcTxn0a1f2b3c")),
        ("okta.client_ip".to_owned(), text("203.0.113.10")),
        ("okta.actor_id".to_owned(), text("00u1admin0AbCdEfG4x7")),
        ("okta.user_id".to_owned(), text("00u2alice0HiJkLmN4x7")),
    ];
    assert_eq!(mapped.draft.attributes, want_attributes);
    assert_eq!(
        mapped.draft.grant_id.as_deref(),
        Some("membership:group:Engineering:alice.smith@acme.example")
    );
    check_validates("group_add", &mapped.draft);
}

#[test]
fn an_event_hook_delivery_gives_one_outcome_per_event() {
    let got = outcomes(&parse(fixture!("event_hook")));
    assert_eq!(got.len(), 2);
    match &got[0] {
        RecordOutcome::Event(mapped) => {
            assert_eq!(mapped.pointer, "/data/events/0");
            assert_eq!(mapped.event_id, uuid("08"));
            assert_eq!(mapped.draft.kind, EventType::AccessGranted);
        }
        other => panic!("expected an event, found {other:?}"),
    }
    assert_eq!(
        got[1],
        RecordOutcome::out_of_scope("policy.evaluate_sign_on")
    );
}

#[test]
fn a_system_log_page_gives_one_outcome_per_event() {
    let got = outcomes(&parse(fixture!("system_log_page")));
    let pointers: Vec<(&str, EventType)> = got
        .iter()
        .map(|o| match o {
            RecordOutcome::Event(m) => (m.pointer.as_str(), m.draft.kind),
            other => panic!("expected events, found {other:?}"),
        })
        .collect();
    assert_eq!(
        pointers,
        [
            ("/0", EventType::IdentityCreated),
            ("/1", EventType::IdentityEnabled)
        ]
    );
}

/// A change to a fixture: the member at a pointer set to a value, or removed (`None`).
type Edit = (&'static str, Option<Value>);

fn edited(fixture: Fixture, edits: &[Edit]) -> Value {
    let mut doc = parse(fixture);
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').expect("edits name a member");
        let parent = doc.pointer_mut(parent).expect("the member's parent exists");
        match (parent, value) {
            (Value::Object(members), Some(v)) => {
                members.insert(key.to_owned(), v.clone());
            }
            (Value::Object(members), None) => {
                members.remove(key);
            }
            (Value::Array(items), Some(v)) => {
                let i: usize = key.parse().expect("an array index");
                items[i] = v.clone();
            }
            (Value::Array(items), None) => {
                let i: usize = key.parse().expect("an array index");
                items.remove(i);
            }
            (other, _) => panic!("cannot edit inside {other}"),
        }
    }
    doc
}

#[test]
fn each_quarantine_reason_names_its_field() {
    let rows = quarantine_rows();
    for (fixture, edits, field) in rows {
        let doc = edited(fixture, &edits);
        match outcomes(&doc).as_slice() {
            [RecordOutcome::Malformed { pointer, error }] => {
                assert_eq!(pointer, "", "{}: {edits:?}", fixture.0);
                assert_eq!(error.field, field, "{}: {edits:?}: {error:?}", fixture.0);
                assert!(!error.message.is_empty() && !error.message.ends_with('.'));
            }
            other => panic!(
                "{}: {edits:?}: expected malformed, found {other:?}",
                fixture.0
            ),
        }
    }
}

#[test]
fn a_malformed_event_in_a_delivery_is_quarantined_alone() {
    let doc = edited(
        fixture!("event_hook"),
        &[("/data/events/1", Some(json!(42)))],
    );
    let got = outcomes(&doc);
    assert!(matches!(got[0], RecordOutcome::Event(_)));
    assert_eq!(
        got[1],
        RecordOutcome::Malformed {
            pointer: "/data/events/1".into(),
            error: FieldError::new("", "expected a LogEvent object, found a number"),
        }
    );
}

#[test]
fn a_message_that_is_not_okta_is_an_error_naming_where() {
    let rows: Vec<(Value, &str)> = vec![
        (json!({"eventType": HOOK_TYPE, "data": {}}), "/data/events"),
        (
            json!({"eventType": HOOK_TYPE, "data": {"events": {}}}),
            "/data/events",
        ),
        (json!("user.session.start"), ""),
        (json!(12), ""),
    ];
    for (doc, field) in rows {
        let error = map(&doc, &FormatSettings::default()).expect_err("not a message");
        assert_eq!(error.field, field, "{doc}");
    }
}

#[test]
fn records_outside_the_model_are_counted_by_event_type() {
    let rows: Vec<(Value, &str)> = vec![
        (
            parse(fixture!("policy_evaluate_sign_on")),
            "policy.evaluate_sign_on",
        ),
        (parse(fixture!("session_challenge")), "user.session.start"),
        (
            edited(
                fixture!("lifecycle_delete_completed"),
                &[("/eventType", Some(json!("user.lifecycle.delete.initiated")))],
            ),
            "user.lifecycle.delete.initiated",
        ),
        (
            edited(
                fixture!("session_start"),
                &[("/eventType", Some(json!("user.session.end")))],
            ),
            "user.session.end",
        ),
        (
            edited(
                fixture!("session_start"),
                &[("/outcome/result", Some(json!("SKIPPED")))],
            ),
            "user.session.start",
        ),
        (
            edited(
                fixture!("auth_sso"),
                &[("/eventType", Some(json!("user.authentication.slo")))],
            ),
            "user.authentication.slo",
        ),
        // Out of scope needs only the type: an unmapped record is not read further.
        (
            json!({"uuid": "u", "published": "x", "eventType": "app.oauth2.token.grant"}),
            "app.oauth2.token.grant",
        ),
    ];
    for (doc, kind) in rows {
        assert_eq!(
            outcomes(&doc),
            [RecordOutcome::out_of_scope(kind)],
            "{kind}"
        );
    }
}

#[test]
fn recognises_okta_and_nothing_else() {
    for fixture in FIXTURES {
        assert!(recognises(&parse(*fixture)), "{}", fixture.0);
    }
    let others = [
        (
            "native",
            json!({"id": "e1", "source": "s", "type": "identity.created", "time": "2026-01-01T00:00:00Z", "subject": {"id": "a", "kind": "human"}}),
        ),
        (
            "ocsf",
            json!({"class_uid": 3001, "activity_id": 1, "time": 1767225600000_i64, "metadata": {"uid": "m1", "product": {"name": "x"}}}),
        ),
        (
            "cloudevents",
            json!({"specversion": "1.0", "id": "c1", "source": "/okta", "type": "com.okta.user.created", "data": {}}),
        ),
        (
            "secevent",
            json!({"iss": "https://idp.example", "iat": 1767225600, "jti": "j1", "events": {}}),
        ),
        (
            "cloudtrail",
            json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "e", "eventTime": "2026-01-01T00:00:00Z"}),
        ),
        (
            "cloudtrail file",
            json!({"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}]}),
        ),
        (
            "entra",
            json!({"id": "a1", "activityDisplayName": "Add user", "category": "UserManagement", "loggedByService": "Core Directory", "activityDateTime": "2026-01-01T00:00:00Z"}),
        ),
        (
            "entra diagnostic",
            json!({"records": [{"operationName": "Add user", "category": "AuditLogs", "properties": {}}]}),
        ),
        (
            "github",
            json!({"action": "org.add_member", "@timestamp": 1767225600000_i64, "actor": "octocat", "org": "acme"}),
        ),
        (
            "vault",
            json!({"type": "response", "time": "2026-01-01T00:00:00Z", "auth": {}, "request": {"id": "r"}}),
        ),
        ("empty array", json!([])),
    ];
    for (name, doc) in others {
        assert!(!recognises(&doc), "{name}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for fixture in FIXTURES {
        let first = outcomes(&parse(*fixture));
        let second = outcomes(&parse(*fixture));
        assert_eq!(first, second, "{}", fixture.0);
    }
}

/// JSON values shaped like Okta records: keys and texts from the format's own vocabulary, so
/// generated values reach deep into the mapping.
fn okta_like() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just("User".to_owned()),
        Just("UserGroup".to_owned()),
        Just("AppInstance".to_owned()),
        Just("Token".to_owned()),
        Just("SUCCESS".to_owned()),
        Just("FAILURE".to_owned()),
        Just("2026-03-02T09:00:00Z".to_owned()),
        Just(HOOK_TYPE.to_owned()),
        Just("user.session.start".to_owned()),
        Just("group.user_membership.add".to_owned()),
        Just("user.mfa.factor.activate".to_owned()),
        Just("system.api_token.create".to_owned()),
        "\\PC{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text.prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("uuid"),
        Just("published"),
        Just("eventType"),
        Just("actor"),
        Just("target"),
        Just("type"),
        Just("alternateId"),
        Just("id"),
        Just("displayName"),
        Just("outcome"),
        Just("result"),
        Just("data"),
        Just("events"),
        Just("debugContext"),
        Just("debugData"),
        Just("factor"),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn map_never_panics_and_events_have_source_and_id(doc in okta_like()) {
        if let Ok(got) = map(&doc, &FormatSettings::default()) {
            for outcome in got {
                if let RecordOutcome::Event(mapped) = outcome {
                    prop_assert!(!mapped.draft.source.is_empty());
                    prop_assert!(!mapped.draft.id.is_empty());
                    prop_assert!(!mapped.event_id.is_empty());
                }
            }
        }
    }

    #[test]
    fn map_never_panics_on_fixtures_with_a_member_replaced(
        which in 0..FIXTURES.len(),
        path in prop::sample::select(vec!["/uuid", "/eventType", "/actor", "/actor/type", "/target", "/target/0", "/outcome", "/data", "/debugContext/debugData"]),
        value in okta_like(),
    ) {
        let mut doc = parse(FIXTURES[which]);
        if let Some(slot) = doc.pointer_mut(path) {
            *slot = value;
        }
        if let Ok(got) = map(&doc, &FormatSettings::default()) {
            for outcome in got {
                if let RecordOutcome::Event(mapped) = outcome {
                    prop_assert!(!mapped.draft.source.is_empty());
                    prop_assert!(!mapped.draft.id.is_empty());
                }
            }
        }
    }
}
