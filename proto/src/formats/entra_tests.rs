//! Tests of the Entra ID mapping, as data: one row per activity mapped, per quarantine reason
//! and per record left out of scope, with the fixtures in proto/tests/fixtures/formats/entra/
//! written from Microsoft's published documentation (cited per row).

use super::*;
use crate::event::CredentialKind;
use crate::formats::Mapped;
use crate::formats::test_support::{check_attributes, check_validates};
use crate::time::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use test_rows::{mapping_rows, quarantine_rows};

#[path = "entra/test_rows.rs"]
mod test_rows;

const DIRECTORY_AUDIT: &str = "https://learn.microsoft.com/graph/api/resources/directoryaudit";
const ACTIVITIES: &str =
    "https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities";
const RESOURCE_LOGS: &str =
    "https://learn.microsoft.com/azure/azure-monitor/platform/resource-logs-schema";

const BOB: &str = "bob.jones@contoso.example";
const ADA: &str = "ada.admin@contoso.example";
const TENANT_SOURCE: &str = "entra:72f988bf-86f1-41af-91ab-2d7cd011db47";
const SEC_A: &str = "a1a1a1a1-1111-4111-8111-111111111111";

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../tests/fixtures/formats/entra/",
                $name,
                ".json"
            )),
        )
    };
}

type Fixture = (&'static str, &'static str);

const FIXTURES: &[Fixture] = &[
    fixture!("add_user"),
    fixture!("update_user"),
    fixture!("update_user_disable"),
    fixture!("disable_account"),
    fixture!("enable_account"),
    fixture!("delete_user"),
    fixture!("add_member_group"),
    fixture!("add_member_group_failed"),
    fixture!("add_member_role"),
    fixture!("add_service_principal"),
    fixture!("remove_service_principal"),
    fixture!("app_certs_secrets"),
    fixture!("add_sp_credentials"),
    fixture!("remove_sp_credentials"),
    fixture!("update_policy"),
    fixture!("diagnostic_records"),
    fixture!("graph_page"),
];

fn parse((name, text): Fixture) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

fn outcomes(doc: &Value) -> Vec<RecordOutcome> {
    map(doc, &FormatSettings::default()).expect("the message is read as Entra")
}

fn events(name: &str, doc: &Value) -> Vec<Mapped> {
    outcomes(doc)
        .into_iter()
        .filter_map(|o| match o {
            RecordOutcome::Event(mapped) => Some(*mapped),
            RecordOutcome::OutOfScope { .. } => None,
            other => panic!("{name}: unexpected {other:?}"),
        })
        .collect()
}

fn audit_id(n: &str) -> String {
    format!("Directory_{n}_0f1e2d3c-ABCD-{n}")
}

/// The expected draft of a row, attributes aside: by default about Bob, done by Ada (a human),
/// a success, read from Microsoft Graph (no tenant).
fn want(kind: EventType, n: &str, at: &str) -> Draft {
    let time = Timestamp::parse_rfc3339(at).expect("test times are RFC 3339");
    let bob = DraftSubject {
        id: BOB.to_owned(),
        kind: SubjectKind::Human,
    };
    let mut d = Draft::new("entra", audit_id(n), kind, time, bob);
    d.actor = Some(DraftActor {
        id: ADA.to_owned(),
        kind: ActorKind::Human,
        mfa: None,
    });
    d
}

fn billing_batch() -> DraftSubject {
    DraftSubject {
        id: "billing-batch".to_owned(),
        kind: SubjectKind::Workload,
    }
}

fn key(id: &str, kind: CredentialKind) -> Option<DraftCredential> {
    Some(DraftCredential {
        id: id.to_owned(),
        kind,
        fingerprint: None,
    })
}

fn membership(mut d: Draft, kind: MembershipKind, name: &str) -> Draft {
    d.grant_id = Some(membership_grant_id(kind, name, &d.subject.id));
    d.resource = Some(name.to_owned());
    d.membership = Some(kind);
    d
}

#[test]
fn each_mapped_activity_gives_the_expected_drafts() {
    for row in mapping_rows() {
        let (name, _) = row.fixture;
        assert!(row.cite.starts_with("https://"), "{name}: cite the source");
        let got = events(name, &parse(row.fixture));
        assert_eq!(got.len(), row.want.len(), "{name}: {got:?}");
        for (mapped, (pointer, want)) in got.iter().zip(&row.want) {
            assert_eq!(mapped.pointer, *pointer, "{name}");
            assert!(want.id.starts_with(&mapped.event_id), "{name}: event id");
            let mut draft = mapped.draft.clone();
            let attributes = std::mem::take(&mut draft.attributes);
            assert_eq!(draft, *want, "{name}");
            check_attributes(name, &attributes, row.attributes);
            check_validates(name, &mapped.draft);
        }
    }
}

/// A role granted through Graph and revoked through diagnostic settings is one grant.
#[test]
fn grant_ids_agree_across_shapes() {
    let granted = events("add_member_role", &parse(fixture!("add_member_role")));
    let revoked = events("diagnostic_records", &parse(fixture!("diagnostic_records")));
    assert_eq!(granted[0].draft.grant_id, revoked[1].draft.grant_id);
    assert_eq!(
        granted[0].draft.grant_id.as_deref(),
        Some("membership:role:Global Administrator:bob.jones@contoso.example")
    );
}

/// The worked example of docs/formats/entra.md, every field including the attributes.
#[test]
fn the_documented_example_maps_field_for_field() {
    let got = events("add_member_group", &parse(fixture!("add_member_group")));
    let text = |s: &str| AttrValue::Text(s.to_owned());
    let want = vec![
        ("entra.activity".to_owned(), text("Add member to group")),
        ("entra.category".to_owned(), text("GroupManagement")),
        (
            "entra.correlation_id".to_owned(),
            text("c0ffee00-0000-4000-8000-000000000007"),
        ),
        ("entra.logged_by_service".to_owned(), text("Core Directory")),
        ("entra.operation_type".to_owned(), text("Assign")),
        ("entra.initiator_ip".to_owned(), text("198.51.100.7")),
        (
            "entra.target_id".to_owned(),
            text("7d8f2c41-3b6a-4e59-a1c2-0f9e8d7c6b5a"),
        ),
    ];
    assert_eq!(got[0].draft.attributes, want);
    check_validates("add_member_group", &got[0].draft);
}

/// A change to a fixture: the member at a pointer set to a value, or removed (`None`).
type Edit = (&'static str, Option<Value>);

fn edited(fixture: Fixture, edits: &[Edit]) -> Value {
    let mut doc = parse(fixture);
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').expect("edits name a member");
        match (doc.pointer_mut(parent).expect("the parent exists"), value) {
            (Value::Object(members), Some(v)) => {
                members.insert(key.to_owned(), v.clone());
            }
            (Value::Object(members), None) => {
                members.remove(key);
            }
            (Value::Array(items), Some(v)) => {
                items[key.parse::<usize>().expect("index")] = v.clone()
            }
            (Value::Array(items), None) => {
                items.remove(key.parse::<usize>().expect("index"));
            }
            (other, _) => panic!("cannot edit inside {other}"),
        }
    }
    doc
}

#[test]
fn each_quarantine_reason_names_its_field() {
    let rows = quarantine_rows();
    for (fixture, edits, pointer, field) in rows {
        let doc = edited(fixture, &edits);
        let found = outcomes(&doc)
            .into_iter()
            .find_map(|o| match o {
                RecordOutcome::Malformed { pointer, error } => Some((pointer, error)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{}: {edits:?}: nothing malformed", fixture.0));
        assert_eq!(found.0, pointer, "{}: {edits:?}", fixture.0);
        assert_eq!(
            found.1.field, field,
            "{}: {edits:?}: {:?}",
            fixture.0, found.1
        );
        assert!(!found.1.message.is_empty() && !found.1.message.ends_with('.'));
    }
}

#[test]
fn a_message_that_is_not_entra_is_an_error_naming_where() {
    let rows: Vec<(Value, &str)> = vec![
        (json!({"records": {}}), "/records"),
        (json!({"value": "x"}), "/value"),
        (json!([1, 2]), ""),
        (json!("Add user"), ""),
    ];
    for (doc, field) in rows {
        let error = map(&doc, &FormatSettings::default()).expect_err("not a message");
        assert_eq!(error.field, field, "{doc}");
    }
}

#[test]
fn records_outside_the_model_are_counted_by_category_and_activity() {
    let rows: Vec<(Value, usize, &str)> = vec![
        (
            parse(fixture!("update_policy")),
            0,
            "entra:Policy:Update conditional access policy",
        ),
        (
            parse(fixture!("diagnostic_records")),
            2,
            "entra:SignInLogs:Sign-in activity",
        ),
        (
            parse(fixture!("graph_page")),
            1,
            "entra:Policy:Update conditional access policy",
        ),
        (
            edited(
                fixture!("add_member_group"),
                &[("/targetResources/0/type", Some(json!("Group")))],
            ),
            0,
            "entra:GroupManagement:Add member to group",
        ),
        (
            edited(
                fixture!("app_certs_secrets"),
                &[("/targetResources/0/modifiedProperties", Some(json!([])))],
            ),
            0,
            "entra:ApplicationManagement:Update application \u{2013} Certificates and secrets management",
        ),
        (
            edited(
                fixture!("add_sp_credentials"),
                &[(
                    "/targetResources/0/modifiedProperties/0/newValue",
                    Some(json!("[]")),
                )],
            ),
            0,
            "entra:ApplicationManagement:Add service principal credentials",
        ),
        (
            json!({"activityDisplayName": "Hard delete user", "category": "UserManagement", "loggedByService": "Core Directory"}),
            0,
            "entra:UserManagement:Hard delete user",
        ),
    ];
    for (doc, index, kind) in rows {
        assert_eq!(
            outcomes(&doc)[index],
            RecordOutcome::out_of_scope(kind),
            "{kind}"
        );
    }
}

#[test]
fn the_hyphenated_activity_name_reads_as_the_en_dash_one() {
    let doc = edited(
        fixture!("app_certs_secrets"),
        &[(
            "/activityDisplayName",
            Some(json!(
                "Update application - Certificates and secrets management"
            )),
        )],
    );
    assert_eq!(events("hyphen", &doc).len(), 3);
}

#[test]
fn recognises_entra_and_nothing_else() {
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
            json!({"class_uid": 3001, "activity_id": 1, "time": 1767225600000_i64, "metadata": {"uid": "m1"}}),
        ),
        (
            "cloudevents",
            json!({"specversion": "1.0", "id": "c1", "source": "/entra", "type": "Microsoft.Graph.AuditLog", "data": {}}),
        ),
        (
            "secevent",
            json!({"iss": "https://idp.example", "iat": 1767225600, "jti": "j1", "events": {}}),
        ),
        (
            "cloudtrail",
            json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}),
        ),
        (
            "cloudtrail file",
            json!({"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}]}),
        ),
        (
            "okta",
            json!({"uuid": "u1", "eventType": "user.lifecycle.create", "published": "2026-01-01T00:00:00Z", "actor": {}, "target": []}),
        ),
        (
            "okta hook",
            json!({"eventType": "com.okta.event_hook", "data": {"events": []}}),
        ),
        (
            "github",
            json!({"action": "org.add_member", "@timestamp": 1767225600000_i64, "actor": "octocat", "org": "acme"}),
        ),
        (
            "vault",
            json!({"type": "response", "time": "2026-01-01T00:00:00Z", "auth": {}, "request": {"id": "r"}}),
        ),
    ];
    for (name, doc) in others {
        assert!(!recognises(&doc), "{name}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for fixture in FIXTURES {
        assert_eq!(
            outcomes(&parse(*fixture)),
            outcomes(&parse(*fixture)),
            "{}",
            fixture.0
        );
    }
}

/// JSON values shaped like Entra records: keys and texts from the format's own vocabulary, so
/// generated values reach deep into the mapping.
fn entra_like() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just("User".to_owned()),
        Just("Group".to_owned()),
        Just("ServicePrincipal".to_owned()),
        Just("Application".to_owned()),
        Just("success".to_owned()),
        Just("failure".to_owned()),
        Just("AuditLogs".to_owned()),
        Just("2026-03-02T09:00:00Z".to_owned()),
        Just("Add member to group".to_owned()),
        Just("Add service principal credentials".to_owned()),
        Just("Update user".to_owned()),
        Just("KeyDescription".to_owned()),
        Just("[\"[KeyIdentifier=k,KeyType=Password]\"]".to_owned()),
        "\\PC{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text.prop_map(Value::String),
    ];
    let key = prop::sample::select(vec![
        "id",
        "category",
        "result",
        "activityDisplayName",
        "activityDateTime",
        "initiatedBy",
        "user",
        "app",
        "userPrincipalName",
        "displayName",
        "targetResources",
        "type",
        "modifiedProperties",
        "oldValue",
        "newValue",
        "records",
        "properties",
        "value",
        "tenantId",
    ]);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn check_events(got: Vec<RecordOutcome>) -> Result<(), TestCaseError> {
    for outcome in got {
        if let RecordOutcome::Event(mapped) = outcome {
            prop_assert!(!mapped.draft.source.is_empty());
            prop_assert!(!mapped.draft.id.is_empty());
            prop_assert!(!mapped.event_id.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn map_never_panics_and_events_have_source_and_id(doc in entra_like()) {
        if let Ok(got) = map(&doc, &FormatSettings::default()) {
            check_events(got)?;
        }
    }

    #[test]
    fn map_never_panics_on_fixtures_with_a_member_replaced(
        which in 0..FIXTURES.len(),
        path in prop::sample::select(vec![
            "/id", "/result", "/initiatedBy", "/initiatedBy/user", "/targetResources",
            "/targetResources/0", "/targetResources/0/modifiedProperties",
            "/targetResources/0/modifiedProperties/0", "/records/0/properties",
            "/records/1/properties/targetResources", "/value/0",
        ]),
        value in entra_like(),
    ) {
        let mut doc = parse(FIXTURES[which]);
        if let Some(slot) = doc.pointer_mut(path) {
            *slot = value;
        }
        if let Ok(got) = map(&doc, &FormatSettings::default()) {
            check_events(got)?;
        }
    }
}
