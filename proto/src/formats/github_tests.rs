//! Tests of the GitHub audit log mapping: one row per mapped action, one per quarantine reason,
//! out-of-scope records, recognition against the other formats' shapes, determinism, and a
//! property test over arbitrary JSON.

use super::{map, recognises};
use crate::event::{ActorKind, EventType};
use crate::formats::{Draft, FieldError, FormatSettings, RecordOutcome};
use proptest::prelude::*;
use rows::{REST_AUDIT_LOG, rows};
use serde_json::{Value, json};

#[path = "github/test_rows.rs"]
mod rows;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures and inline examples are JSON")
}

fn run(doc: &Value) -> Result<Vec<RecordOutcome>, FieldError> {
    map(doc, &FormatSettings::default())
}

fn events(doc: &Value) -> Vec<Draft> {
    run(doc)
        .expect("a record of the format")
        .into_iter()
        .map(|outcome| match outcome {
            RecordOutcome::Event(mapped) => mapped.draft,
            other => panic!("expected an event, got {other:?}"),
        })
        .collect()
}

/// Asserts the draft validates by the native rules,
fn assert_validates(draft: &Draft, context: &str) {
    if let Err(reason) = draft.validate() {
        panic!("{context}: the draft does not validate: {reason:?}");
    }
}

#[test]
fn every_mapped_action_gives_the_expected_drafts() {
    for row in rows() {
        let doc = parse(row.json);
        let outcomes = run(&doc).expect("a record of the format");
        assert_eq!(
            outcomes.len(),
            row.want.len(),
            "{} ({})",
            row.fixture,
            row.cite
        );
        for (outcome, want) in outcomes.iter().zip(&row.want) {
            let RecordOutcome::Event(mapped) = outcome else {
                panic!("{}: expected an event, got {outcome:?}", row.fixture);
            };
            assert_eq!(&mapped.draft, want, "{} ({})", row.fixture, row.cite);
            assert_eq!(
                mapped.event_id,
                doc["_document_id"].as_str().unwrap_or_default()
            );
            assert_eq!(mapped.pointer, "");
            assert_eq!(mapped.envelope, None);
            assert_validates(&mapped.draft, row.fixture);
        }
    }
}

#[test]
fn a_membership_granted_then_revoked_shares_one_grant_id() {
    for (granted, revoked) in [
        ("org_add_member", "org_remove_member"),
        ("team_add_member", "team_remove_member"),
        ("repo_add_member", "repo_remove_member"),
        ("pat_access_granted", "pat_access_revoked"),
        (
            "integration_installation_create",
            "integration_installation_destroy",
        ),
    ] {
        let all = rows();
        let find = |name: &str| {
            all.iter()
                .find(|r| r.fixture == name)
                .map(|r| events(&parse(r.json))[0].grant_id.clone())
                .expect("a row of the table")
        };
        assert_eq!(find(granted), find(revoked), "{granted} / {revoked}");
    }
}

#[test]
fn a_rest_api_page_maps_each_event_at_its_index() {
    // REST_AUDIT_LOG: the endpoint returns an array of audit log events.
    let doc = parse(include_str!(
        "../../tests/fixtures/formats/github/rest_api_page.json"
    ));
    let outcomes = run(&doc).expect("a page of events");
    assert_eq!(outcomes.len(), 2, "{REST_AUDIT_LOG}");
    let RecordOutcome::Event(first) = &outcomes[0] else {
        panic!("expected an event, got {:?}", outcomes[0]);
    };
    assert_eq!(first.pointer, "/0");
    assert_eq!(first.draft.kind, EventType::AccessGranted);
    assert_eq!(first.draft.id, "Qz1xW3e5R7t9Y1u3I5o7PA");
    assert_eq!(
        outcomes[1],
        RecordOutcome::out_of_scope("github:repo.create")
    );
}

#[test]
fn out_of_scope_records_are_counted_by_action() {
    let cases: [(Value, &str); 5] = [
        (
            parse(include_str!(
                "../../tests/fixtures/formats/github/repo_create_out_of_scope.json"
            )),
            "github:repo.create",
        ),
        (
            parse(include_str!(
                "../../tests/fixtures/formats/github/pat_request_cancelled_out_of_scope.json"
            )),
            "github:personal_access_token.request_cancelled",
        ),
        // Out of scope is decided before anything else is read: no id, no time needed.
        (
            json!({"action": "workflows.completed_workflow_run"}),
            "github:workflows.completed_workflow_run",
        ),
        (
            json!({"action": "team.add_repository", "_document_id": "d1", "@timestamp": 1767258000000_i64,
                   "actor": "octo-admin", "org": "octo-org", "team": "octo-org/a", "repo": "octo-org/b"}),
            "github:team.add_repository",
        ),
        (
            json!({"action": "integration_installation.repositories_added", "_document_id": "d2",
                   "@timestamp": 1767258000000_i64, "actor": "octo-admin", "org": "octo-org",
                   "integration": "ci-bot", "repositories_added_names": []}),
            "github:integration_installation.repositories_added",
        ),
    ];
    for (doc, kind) in cases {
        assert_eq!(
            run(&doc),
            Ok(vec![RecordOutcome::out_of_scope(kind)]),
            "{doc}"
        );
    }
}

/// A record that reads well, for the quarantine rows to break one field of.
fn good(action: &str) -> Value {
    json!({
        "action": action,
        "_document_id": "doc-1",
        "@timestamp": 1767258000000_i64,
        "actor": "octo-admin",
        "org": "octo-org",
        "user": "mona",
        "team": "octo-org/justice-league",
        "repo": "octo-org/payments",
        "user_programmatic_access_name": "deploy-scripts",
        "integration": "ci-bot",
        "repositories_added_names": ["octo-org/payments"],
        "oauth_application": "Octo Reports",
    })
}

fn without(mut doc: Value, fields: &[&str]) -> Value {
    if let Some(obj) = doc.as_object_mut() {
        for field in fields {
            obj.remove(*field);
        }
    }
    doc
}

fn with(mut doc: Value, field: &str, value: Value) -> Value {
    doc[field] = value;
    doc
}

#[test]
fn every_quarantine_reason_names_its_field() {
    let missing = "required, absent or null";
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            without(good("org.add_member"), &["action"]),
            "/action",
            missing,
        ),
        (
            with(good("org.add_member"), "action", json!(7)),
            "/action",
            "expected a string, found a number",
        ),
        (
            with(good("org.add_member"), "action", json!("")),
            "/action",
            "empty, expected text",
        ),
        (
            without(good("org.add_member"), &["_document_id"]),
            "/_document_id",
            missing,
        ),
        (
            without(good("org.add_member"), &["@timestamp"]),
            "/@timestamp",
            missing,
        ),
        (
            with(good("org.add_member"), "@timestamp", json!(true)),
            "/@timestamp",
            "expected milliseconds since the Unix epoch or an RFC 3339 time, found a boolean",
        ),
        (
            with(good("org.add_member"), "@timestamp", json!(1.5)),
            "/@timestamp",
            "expected whole milliseconds since the Unix epoch, found a fraction or an out-of-range number",
        ),
        (
            with(good("org.add_member"), "@timestamp", json!(i64::MAX)),
            "/@timestamp",
            "9223372036854775807 ms is outside the time range",
        ),
        (
            with(
                without(good("org.add_member"), &["@timestamp"]),
                "created_at",
                json!("yesterday"),
            ),
            "/created_at",
            "not an RFC 3339 time: expected RFC 3339 like 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00",
        ),
        (
            with(good("org.add_member"), "actor", json!(1001)),
            "/actor",
            "expected a string, found a number",
        ),
        (without(good("org.add_member"), &["user"]), "/user", missing),
        (
            with(good("org.add_member"), "user", json!("")),
            "/user",
            "empty, expected text",
        ),
        (
            with(
                without(good("org.add_member"), &["org"]),
                "business",
                json!("octo-corp"),
            ),
            "/org",
            missing,
        ),
        (
            without(good("team.add_member"), &["team"]),
            "/team",
            missing,
        ),
        (
            without(good("repo.remove_member"), &["repo"]),
            "/repo",
            missing,
        ),
        (
            without(
                good("personal_access_token.access_granted"),
                &["user_programmatic_access_name"],
            ),
            "/user_programmatic_access_name",
            missing,
        ),
        (
            without(good("personal_access_token.request_denied"), &["user"]),
            "/user",
            missing,
        ),
        (
            without(good("personal_access_token.access_revoked"), &["org"]),
            "/org",
            missing,
        ),
        (
            without(
                good("integration_installation.create"),
                &["integration", "name"],
            ),
            "/integration",
            missing,
        ),
        (
            without(
                good("integration_installation.repositories_added"),
                &["repositories_added_names"],
            ),
            "/repositories_added_names",
            missing,
        ),
        (
            with(
                good("integration_installation.repositories_added"),
                "repositories_added_names",
                json!("a"),
            ),
            "/repositories_added_names",
            "expected an array of repository names, found a string",
        ),
        (
            with(
                good("integration_installation.repositories_added"),
                "repositories_added_names",
                json!(["a", 7]),
            ),
            "/repositories_added_names/1",
            "expected a string, found a number",
        ),
        (
            without(good("integration_installation.repositories_removed"), &[]),
            "/repositories_removed_names",
            missing,
        ),
        (
            without(good("integration.create"), &["user", "org", "actor"]),
            "/user",
            missing,
        ),
        (
            without(
                good("org.oauth_app_access_approved"),
                &["oauth_application"],
            ),
            "/oauth_application",
            missing,
        ),
        (
            without(good("user.login"), &["user", "actor"]),
            "/actor",
            missing,
        ),
    ];
    for (doc, field, message) in cases {
        assert_eq!(
            run(&doc),
            Ok(vec![RecordOutcome::Malformed {
                pointer: String::new(),
                error: FieldError::new(field, message),
            }]),
            "{doc}"
        );
    }
}

#[test]
fn a_bad_member_of_a_page_is_quarantined_at_its_index() {
    let doc = json!([
        good("org.add_member"),
        42,
        without(good("team.add_member"), &["team"])
    ]);
    let outcomes = run(&doc).expect("a page");
    assert_eq!(outcomes.len(), 3);
    assert!(matches!(&outcomes[0], RecordOutcome::Event(m) if m.pointer == "/0"));
    assert_eq!(
        outcomes[1],
        RecordOutcome::Malformed {
            pointer: "/1".into(),
            error: FieldError::new(
                "",
                "expected an audit log event (an object), found a number"
            ),
        }
    );
    assert_eq!(
        outcomes[2],
        RecordOutcome::Malformed {
            pointer: "/2".into(),
            error: FieldError::missing("/team"),
        }
    );
}

#[test]
fn a_message_that_is_neither_an_event_nor_a_page_is_refused_whole() {
    assert_eq!(
        run(&json!("org.add_member")),
        Err(FieldError::new(
            "",
            "expected an audit log event (an object) or an array of them, found a string"
        ))
    );
}

#[test]
fn the_actor_kind_and_the_tenant_follow_the_record() {
    let cases: [(Value, &str, ActorKind, &str); 5] = [
        (
            good("org.add_member"),
            "octo-admin",
            ActorKind::Human,
            "github:octo-org",
        ),
        (
            with(good("org.add_member"), "actor", json!("dependabot[bot]")),
            "dependabot[bot]",
            ActorKind::Service,
            "github:octo-org",
        ),
        (
            with(good("org.add_member"), "actor_is_bot", json!(true)),
            "octo-admin",
            ActorKind::Service,
            "github:octo-org",
        ),
        (
            with(
                good("org.add_member"),
                "programmatic_access_type",
                json!("GitHub App server-to-server token"),
            ),
            "octo-admin",
            ActorKind::Service,
            "github:octo-org",
        ),
        (
            with(
                without(good("user.login"), &["actor", "org"]),
                "business",
                json!("octo-corp"),
            ),
            "github",
            ActorKind::System,
            "github:octo-corp",
        ),
    ];
    for (doc, actor, kind, source) in cases {
        let drafts = events(&doc);
        let got = drafts[0]
            .actor
            .as_ref()
            .expect("every mapped event has an actor");
        assert_eq!(
            (got.id.as_str(), got.kind, drafts[0].source.as_str()),
            (actor, kind, source),
            "{doc}"
        );
    }
}

#[test]
fn recognises_its_own_records_and_no_other_format() {
    for row in rows() {
        assert!(recognises(&parse(row.json)), "{}", row.fixture);
    }
    assert!(recognises(&parse(include_str!(
        "../../tests/fixtures/formats/github/rest_api_page.json"
    ))));
    let others = [
        // native
        json!({"id": "e1", "source": "okta-prod", "type": "identity.created", "time": "2026-03-02T09:00:00Z",
               "actor": {"id": "hr", "kind": "service"}, "subject": {"id": "a@example.com", "kind": "human"}}),
        // OCSF (has an `action` too)
        json!({"class_uid": 3001, "activity_id": 1, "action": "Allowed", "time": 1767258000000_i64,
               "actor": {"user": {"name": "mona"}}, "metadata": {"version": "1.1.0"}}),
        // CloudEvents
        json!({"specversion": "1.0", "id": "1", "source": "/x", "type": "com.example", "data": {}}),
        // Security Event Token
        json!({"iss": "https://idp.example.com", "iat": 1767258000, "jti": "j1", "events": {}}),
        // CloudTrail record and log file
        json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}),
        json!({"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}]}),
        // Okta record and event hook
        json!({"uuid": "u1", "eventType": "user.lifecycle.create", "published": "2026-01-01T00:00:00Z",
               "actor": {"id": "00u1"}}),
        json!({"data": {"events": [{"uuid": "u1", "eventType": "user.lifecycle.create"}]}}),
        // Entra ID record and diagnostic export
        json!({"activityDisplayName": "Add member to group", "category": "GroupManagement",
               "loggedByService": "Core Directory", "activityDateTime": "2026-01-01T00:00:00Z"}),
        json!({"records": [{"operationName": "Add member to group", "properties": {}}]}),
        // Vault audit device
        json!({"type": "response", "time": "2026-01-01T00:00:00Z", "auth": {}, "request": {"operation": "update"}}),
        // not records at all
        json!([]),
        json!([1, 2]),
        json!({"action": "org.add_member", "actor": "octo-admin"}),
    ];
    for doc in others {
        assert!(!recognises(&doc), "{doc}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for row in rows() {
        let once = run(&parse(row.json));
        let twice = run(&parse(row.json));
        assert_eq!(once, twice, "{}", row.fixture);
    }
}

/// Any JSON value (the same shape as the secret rule's property tests).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z@_./\\[\\]-]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Records shaped like audit log events: a mapped action and the members the mapping reads,
/// each present or not, with any value.
fn github_like() -> impl Strategy<Value = Value> {
    let actions: Vec<&str> = super::RULES
        .iter()
        .chain(super::LOGINS.iter())
        .map(|(name, _)| *name)
        .collect();
    let fields = [
        "_document_id",
        "@timestamp",
        "created_at",
        "actor",
        "org",
        "business",
        "user",
        "team",
        "repo",
        "user_programmatic_access_name",
        "integration",
        "name",
        "repositories_added_names",
        "repositories_removed_names",
        "oauth_application",
        "oauth_application_id",
        "url",
        "hashed_token",
        "token_id",
        "programmatic_access_type",
        "actor_is_bot",
        "permission",
    ];
    (
        proptest::sample::select(actions),
        proptest::collection::vec(proptest::option::of(json_value()), fields.len()),
    )
        .prop_map(move |(action, values)| {
            let mut record = serde_json::Map::new();
            record.insert("action".into(), Value::from(action));
            for (field, value) in fields.iter().zip(values) {
                if let Some(value) = value {
                    record.insert((*field).into(), value);
                }
            }
            Value::Object(record)
        })
}

fn every_event_is_identified(outcomes: &Result<Vec<RecordOutcome>, FieldError>) -> bool {
    outcomes.iter().flatten().all(|outcome| match outcome {
        RecordOutcome::Event(mapped) => {
            !mapped.draft.source.is_empty() && !mapped.draft.id.is_empty()
        }
        _ => true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Mapping never panics, and every event it returns has a source and an id.
    #[test]
    fn any_json_maps_without_panic(doc in json_value()) {
        prop_assert!(every_event_is_identified(&run(&doc)));
    }

    #[test]
    fn any_audit_log_shaped_record_maps_without_panic(doc in github_like()) {
        let outcomes = run(&doc);
        prop_assert!(every_event_is_identified(&outcomes));
        prop_assert_eq!(&outcomes, &run(&doc));
    }
}
