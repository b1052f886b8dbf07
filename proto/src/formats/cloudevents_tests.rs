//! Tests of CloudEvents: structured and binary mode, routing by type and dataschema, the
//! envelope kept beside an unchanged draft, one row per quarantine reason, recognition, and
//! property tests over arbitrary payloads and headers.

use super::{map_message, recognises};
use crate::formats::{
    Draft, Envelope, FieldError, FormatSettings, InputFormat, Mapped, Message, RecordOutcome,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use test_rows::{rows, structured_quarantine_rows};

#[path = "cloudevents/test_rows.rs"]
mod test_rows;

/// The JSON event format (structured mode members, `data` and `data_base64`).
const JSON_FORMAT: &str =
    "https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md";
/// The Kafka protocol binding (binary mode: `ce_` headers, `content-type`, the payload as data).
const KAFKA_BINDING: &str = "https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md";
/// The core specification (`specversion`, required attributes, `dataschema`).
const SPEC: &str = "https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md";

const GITHUB_RECORDS: [&str; 4] = [
    include_str!("../../tests/fixtures/formats/github/org_add_member.json"),
    include_str!("../../tests/fixtures/formats/github/team_add_member.json"),
    include_str!("../../tests/fixtures/formats/github/pat_request_created.json"),
    include_str!(
        "../../tests/fixtures/formats/github/integration_installation_repositories_added.json"
    ),
];

fn settings() -> FormatSettings {
    FormatSettings {
        cloudevents_routes: vec![
            ("com.github.".into(), InputFormat::Native),
            ("com.github.audit.".into(), InputFormat::Github),
            (
                "https://schemas.example.com/github/".into(),
                InputFormat::Github,
            ),
        ],
        ..FormatSettings::default()
    }
}

fn structured(payload: &[u8], settings: &FormatSettings) -> Result<Vec<RecordOutcome>, FieldError> {
    map_message(
        Message {
            payload,
            headers: &[],
        },
        settings,
    )
}

fn structured_doc(doc: &Value) -> Result<Vec<RecordOutcome>, FieldError> {
    let payload = serde_json::to_vec(doc).expect("a JSON value writes");
    structured(&payload, &settings())
}

fn binary(headers: &[(&str, &[u8])], payload: &[u8]) -> Result<Vec<RecordOutcome>, FieldError> {
    map_message(Message { payload, headers }, &settings())
}

fn mapped(outcomes: &[RecordOutcome]) -> Vec<&Mapped> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            RecordOutcome::Event(mapped) => &**mapped,
            other => panic!("expected an event, got {other:?}"),
        })
        .collect()
}

/// The GitHub mapping of a record sent bare: what every wrapping must reproduce.
fn bare(record: &str) -> Vec<Draft> {
    let doc: Value = serde_json::from_str(record).expect("fixtures are JSON");
    super::super::map_parsed(InputFormat::Github, &doc, &settings())
        .expect("a GitHub record")
        .into_iter()
        .filter_map(|outcome| match outcome {
            RecordOutcome::Event(mapped) => Some(mapped.draft),
            _ => None,
        })
        .collect()
}

fn envelope(id: &str, source: &str, kind: &str, time: Option<&str>) -> Envelope {
    Envelope {
        id: id.into(),
        source: source.into(),
        kind: kind.into(),
        time: time.map(str::to_owned),
    }
}

fn assert_validates(draft: &Draft) {
    if let Err(reason) = draft.validate() {
        panic!("the draft does not validate: {reason:?}");
    }
}

#[test]
fn each_message_maps_its_data_and_keeps_the_envelope_beside_it() {
    for row in rows() {
        let outcomes = map_message(
            Message {
                payload: row.payload.as_bytes(),
                headers: row.headers,
            },
            &settings(),
        )
        .expect("a CloudEvent");
        // A page also holds an out-of-scope record; it passes through unchanged.
        let events: Vec<&Mapped> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                RecordOutcome::Event(mapped) => Some(&**mapped),
                _ => None,
            })
            .collect();
        assert_eq!(
            events.len(),
            row.bare.len(),
            "{} ({})",
            row.fixture,
            row.cite
        );
        for ((event, pointer), draft) in events.iter().zip(row.pointers).zip(&row.bare) {
            assert_eq!(
                &event.draft, draft,
                "{}: the envelope changed the draft",
                row.fixture
            );
            assert_eq!(event.pointer, *pointer, "{}", row.fixture);
            assert_eq!(
                event.envelope.as_ref(),
                Some(&row.envelope),
                "{}",
                row.fixture
            );
            assert_validates(&event.draft);
        }
    }
}

#[test]
fn a_page_keeps_its_out_of_scope_records_in_place() {
    let payload =
        include_str!("../../tests/fixtures/formats/cloudevents/structured_page_github.json");
    let outcomes = structured(payload.as_bytes(), &settings()).expect("a CloudEvent");
    assert_eq!(outcomes.len(), 2);
    assert_eq!(
        outcomes[1],
        RecordOutcome::out_of_scope("github:repo.create")
    );
}

#[test]
fn the_same_record_bare_structured_or_binary_maps_to_the_same_drafts() {
    for record in GITHUB_RECORDS {
        let data: Value = serde_json::from_str(record).expect("fixtures are JSON");
        let wrapped = json!({
            "specversion": "1.0", "id": "w-1", "source": "/github", "type": "com.github.audit.x",
            "data": data,
        });
        let from_structured: Vec<Draft> = mapped(&structured_doc(&wrapped).expect("a CloudEvent"))
            .into_iter()
            .map(|m| m.draft.clone())
            .collect();
        let headers: [(&str, &[u8]); 4] = [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"w-2"),
            ("ce_source", b"/github"),
            ("ce_type", b"com.github.audit.x"),
        ];
        let from_binary: Vec<Draft> =
            mapped(&binary(&headers, record.as_bytes()).expect("a CloudEvent"))
                .into_iter()
                .map(|m| m.draft.clone())
                .collect();
        assert_eq!(from_structured, bare(record), "{SPEC}");
        assert_eq!(from_binary, bare(record), "{KAFKA_BINDING}");
    }
}

/// Routes as a test writes them: (prefix, format).
type Routes<'a> = &'a [(&'a str, InputFormat)];
/// Kafka headers as a test writes them: (name, value).
type Headers<'a> = Vec<(&'a str, &'a [u8])>;

/// The format a CloudEvent with this type and dataschema is read by, as what it maps to: a
/// GitHub event, or the error of the route to `native` (which no data can be routed to).
fn routed(routes: &[(&str, InputFormat)], kind: &str, dataschema: Option<&str>) -> String {
    let mut doc = json!({
        "specversion": "1.0", "id": "r-1", "source": "/routing", "type": kind,
        "data": serde_json::from_str::<Value>(GITHUB_RECORDS[0]).expect("fixtures are JSON"),
    });
    if let Some(schema) = dataschema {
        doc["dataschema"] = Value::from(schema);
    }
    let settings = FormatSettings {
        cloudevents_routes: routes.iter().map(|(p, f)| ((*p).to_owned(), *f)).collect(),
        ..FormatSettings::default()
    };
    let payload = serde_json::to_vec(&doc).expect("a JSON value writes");
    match structured(&payload, &settings)
        .expect("a CloudEvent")
        .as_slice()
    {
        [RecordOutcome::Event(m)] => format!("github {}", m.draft.kind),
        [RecordOutcome::Malformed { pointer, error }] => {
            format!("{pointer} {} {}", error.field, error.message)
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn routes_take_the_longest_prefix_of_the_type_then_of_the_dataschema() {
    use InputFormat::{Github, Native};
    let to_native = "/data  `native` is not a format data can be routed to";
    let cases: [(Routes, &str, Option<&str>, &str); 7] = [
        (
            &[("com.", Native), ("com.github.audit.", Github)],
            "com.github.audit.org",
            None,
            "github access.granted",
        ),
        (
            &[("com.github.audit.", Github), ("com.", Native)],
            "com.github.audit.org",
            None,
            "github access.granted",
        ),
        (
            &[("com.github.", Native)],
            "com.github.audit.org",
            None,
            to_native,
        ),
        // Equally long prefixes: the first configured wins.
        (
            &[("com.github.", Github), ("com.github.", Native)],
            "com.github.audit.org",
            None,
            "github access.granted",
        ),
        // No type route: the dataschema decides.
        (
            &[("https://schemas.example.com/", Github)],
            "org.example.x",
            Some("https://schemas.example.com/gh"),
            "github access.granted",
        ),
        // A type route wins over a longer dataschema route.
        (
            &[
                ("org.", Native),
                ("https://schemas.example.com/github/v1", Github),
            ],
            "org.example.x",
            Some("https://schemas.example.com/github/v1"),
            to_native,
        ),
        // The empty prefix is a catch-all.
        (&[("", Github)], "anything", None, "github access.granted"),
    ];
    for (routes, kind, schema, want) in cases {
        assert_eq!(routed(routes, kind, schema), want, "{kind} {schema:?}");
    }
}

#[test]
fn a_route_to_a_format_that_cannot_read_the_data_passes_its_error_through() {
    // Vault's reader may be unfinished or finished: either way the data (a bare number) is not
    // a Vault record, so nothing maps and every refusal is placed under `/data`.
    let settings = FormatSettings {
        cloudevents_routes: vec![("com.hashicorp.vault.".into(), InputFormat::Vault)],
        ..FormatSettings::default()
    };
    let doc = json!({"specversion": "1.0", "id": "v-1", "source": "/vault",
                     "type": "com.hashicorp.vault.audit", "data": 42});
    let payload = serde_json::to_vec(&doc).expect("a JSON value writes");
    let outcomes = structured(&payload, &settings).expect("a CloudEvent");
    assert!(!outcomes.is_empty());
    for outcome in outcomes {
        match outcome {
            RecordOutcome::Malformed { pointer, .. } => {
                assert!(pointer.starts_with("/data"), "{pointer}")
            }
            other => panic!("expected the route's refusal, got {other:?}"),
        }
    }
}

fn ce(extra: Value) -> Value {
    let mut doc = json!({
        "specversion": "1.0", "id": "q-1", "source": "/quarantine", "type": "com.github.audit.x",
        "data": serde_json::from_str::<Value>(GITHUB_RECORDS[0]).expect("fixtures are JSON"),
    });
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                doc.remove(k);
            } else {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
    doc
}

#[test]
fn every_structured_quarantine_reason_names_its_field() {
    let cases = structured_quarantine_rows();
    for (doc, pointer, field, message) in cases {
        assert_eq!(
            structured_doc(&doc),
            Ok(vec![RecordOutcome::Malformed {
                pointer: pointer.into(),
                error: FieldError::new(field, message),
            }]),
            "{doc}"
        );
    }
}

#[test]
fn every_binary_quarantine_reason_names_its_header() {
    let missing = "required, absent or null";
    let record = GITHUB_RECORDS[0].as_bytes();
    let full: [(&str, &[u8]); 4] = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"b-1"),
        ("ce_source", b"/github"),
        ("ce_type", b"com.github.audit.x"),
    ];
    let without = |name: &str| -> Vec<(&str, &[u8])> {
        full.iter().copied().filter(|(k, _)| *k != name).collect()
    };
    let plus = |extra: (&'static str, &'static [u8])| -> Vec<(&str, &[u8])> {
        let mut headers: Vec<(&str, &[u8])> = full.to_vec();
        headers.push(extra);
        headers
    };
    // (headers, payload, pointer, field, message)
    let cases: Vec<(Headers, &[u8], &str, &str, &str)> = vec![
        (without("ce_id"), record, "", "ce_id", missing),
        (without("ce_source"), record, "", "ce_source", missing),
        (without("ce_type"), record, "", "ce_type", missing),
        (
            vec![("ce_specversion", b"0.3"), full[1], full[2], full[3]],
            record,
            "",
            "ce_specversion",
            "expected 1.x (CloudEvents 1.0), found `0.3`",
        ),
        (
            vec![("ce_specversion", b""), full[1], full[2], full[3]],
            record,
            "",
            "ce_specversion",
            "empty, expected text",
        ),
        (
            vec![full[0], ("ce_id", b"\xff\xfe"), full[2], full[3]],
            record,
            "",
            "ce_id",
            "not UTF-8 at byte 0",
        ),
        (
            plus(("ce_time", b"noon")),
            record,
            "",
            "ce_time",
            "not an RFC 3339 time: expected RFC 3339 like 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00",
        ),
        (
            plus(("content-type", b"text/plain")),
            record,
            "",
            "content-type",
            "data of media type `text/plain` cannot be read; expected JSON",
        ),
        (
            full.to_vec(),
            b"not json",
            "",
            "",
            "the data is not JSON (line 1, column 2)",
        ),
        (
            full.to_vec(),
            b"",
            "",
            "",
            "the data is not JSON (line 1, column 0)",
        ),
        (
            vec![
                full[0],
                full[1],
                full[2],
                ("ce_type", b"com.example.\x1b[31m"),
            ],
            record,
            "",
            "ce_type",
            "no route matches type `com.example.\\u{1b}[31m`",
        ),
        (
            full.to_vec(),
            br#"{"action":"team.add_member"}"#,
            "",
            "/_document_id",
            missing,
        ),
    ];
    for (headers, payload, pointer, field, message) in cases {
        assert_eq!(
            binary(&headers, payload),
            Ok(vec![RecordOutcome::Malformed {
                pointer: pointer.into(),
                error: FieldError::new(field, message),
            }]),
            "{headers:?}"
        );
    }
}

#[test]
fn a_structured_payload_that_is_not_a_cloudevent_is_refused_whole() {
    assert_eq!(
        structured(b"{\"specversion\": ", &settings()),
        Err(FieldError::new("", "not JSON (line 1, column 16)"))
    );
    assert_eq!(
        structured(b"[1]", &settings()),
        Err(FieldError::new(
            "",
            "expected a CloudEvent (an object), found an array"
        ))
    );
}

#[test]
fn the_first_of_repeated_headers_counts() {
    let headers: [(&str, &[u8]); 5] = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"first"),
        ("ce_id", b"second"),
        ("ce_source", b"/github"),
        ("ce_type", b"com.github.audit.x"),
    ];
    let outcomes = binary(&headers, GITHUB_RECORDS[0].as_bytes()).expect("a CloudEvent");
    let envelope = mapped(&outcomes)[0].envelope.clone().expect("an envelope");
    assert_eq!(envelope.id, "first");
}

#[test]
fn a_long_type_is_cut_in_the_reason() {
    let kind = format!("x{}", "y".repeat(300));
    let outcomes = structured_doc(&ce(json!({ "type": kind }))).expect("a CloudEvent");
    let [RecordOutcome::Malformed { error, .. }] = outcomes.as_slice() else {
        panic!("expected one quarantine, got {outcomes:?}");
    };
    assert_eq!(
        error.message,
        format!("no route matches type `x{}...`", "y".repeat(199))
    );
}

#[test]
fn recognises_structured_cloudevents_and_no_other_format() {
    for fixture in [
        include_str!("../../tests/fixtures/formats/cloudevents/structured_github.json"),
        include_str!("../../tests/fixtures/formats/cloudevents/structured_base64_github.json"),
        include_str!("../../tests/fixtures/formats/cloudevents/structured_page_github.json"),
        include_str!("../../tests/fixtures/formats/cloudevents/structured_unrouted.json"),
    ] {
        assert!(recognises(
            &serde_json::from_str(fixture).expect("fixtures are JSON")
        ));
    }
    let others = [
        json!({"id": "e1", "source": "okta-prod", "type": "identity.created", "time": "2026-03-02T09:00:00Z",
               "actor": {"id": "hr", "kind": "service"}, "subject": {"id": "a@example.com", "kind": "human"}}),
        serde_json::from_str(GITHUB_RECORDS[0]).expect("fixtures are JSON"),
        json!({"class_uid": 3001, "activity_id": 1, "time": 1767258000000_i64, "metadata": {"version": "1.1.0"}}),
        json!({"iss": "https://idp.example.com", "iat": 1767258000, "jti": "j1", "events": {}}),
        json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}),
        json!({"uuid": "u1", "eventType": "user.lifecycle.create", "published": "2026-01-01T00:00:00Z"}),
        json!({"activityDisplayName": "Add member to group", "category": "GroupManagement",
               "loggedByService": "Core Directory"}),
        json!({"type": "response", "time": "2026-01-01T00:00:00Z", "auth": {}, "request": {}}),
        json!({"id": "1", "source": "/x", "type": "com.example"}),
        json!([{"specversion": "1.0", "id": "1", "source": "/x", "type": "com.example"}]),
    ];
    for doc in others {
        assert!(!recognises(&doc), "{doc}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for row in rows() {
        let message = Message {
            payload: row.payload.as_bytes(),
            headers: row.headers,
        };
        assert_eq!(
            map_message(message, &settings()),
            map_message(message, &settings()),
            "{}",
            row.fixture
        );
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "(1\\.0|com\\.github\\.audit\\.x|[a-z@_./-]{0,8})".prop_map(Value::String),
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

/// CloudEvents with every member present or not, any value; data sometimes a GitHub record.
fn cloudevent_like() -> impl Strategy<Value = Value> {
    let fields = [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "dataschema",
        "datacontenttype",
        "data",
        "data_base64",
    ];
    let record: Value = serde_json::from_str(GITHUB_RECORDS[3]).expect("fixtures are JSON");
    (
        proptest::collection::vec(proptest::option::of(json_value()), fields.len()),
        any::<bool>(),
    )
        .prop_map(move |(values, with_record)| {
            let mut doc = serde_json::Map::new();
            for (field, value) in fields.iter().zip(values) {
                if let Some(value) = value {
                    doc.insert((*field).into(), value);
                }
            }
            if with_record {
                doc.insert("data".into(), record.clone());
            }
            Value::Object(doc)
        })
}

fn every_event_is_identified_and_enveloped(
    outcomes: &Result<Vec<RecordOutcome>, FieldError>,
) -> bool {
    outcomes.iter().flatten().all(|outcome| match outcome {
        RecordOutcome::Event(m) => {
            !m.draft.source.is_empty() && !m.draft.id.is_empty() && m.envelope.is_some()
        }
        _ => true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Mapping never panics, and every event it returns has a source, an id and an envelope.
    #[test]
    fn any_structured_payload_maps_without_panic(doc in json_value()) {
        let payload = serde_json::to_vec(&doc).expect("a JSON value writes");
        prop_assert!(every_event_is_identified_and_enveloped(&structured(&payload, &settings())));
    }

    #[test]
    fn any_cloudevent_shaped_payload_maps_without_panic(doc in cloudevent_like()) {
        let payload = serde_json::to_vec(&doc).expect("a JSON value writes");
        let outcomes = structured(&payload, &settings());
        prop_assert!(every_event_is_identified_and_enveloped(&outcomes));
        prop_assert_eq!(&outcomes, &structured(&payload, &settings()));
    }

    #[test]
    fn any_headers_and_payload_map_without_panic(
        headers in proptest::collection::vec(
            (proptest::sample::select(vec!["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time",
                                           "ce_dataschema", "content-type", "other"]),
             prop_oneof![Just(b"1.0".to_vec()), Just(b"com.github.audit.x".to_vec()),
                         proptest::collection::vec(any::<u8>(), 0..12)]),
            0..8),
        payload in prop_oneof![Just(GITHUB_RECORDS[0].as_bytes().to_vec()),
                               proptest::collection::vec(any::<u8>(), 0..64)],
    ) {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        prop_assert!(every_event_is_identified_and_enveloped(&binary(&headers, &payload)));
    }
}
