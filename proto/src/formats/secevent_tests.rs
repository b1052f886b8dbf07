//! Tests of the Security Event Token format: one row per mapped CAEP/RISC event type (fixtures
//! written from the specifications cited per row), one per quarantine reason, out-of-scope
//! events, shape recognition, determinism and a property test over arbitrary JSON.

use super::events::escape;
use super::*;
use crate::formats::Draft;
use proptest::prelude::*;

#[path = "secevent/mapping_rows.rs"]
mod mapping_rows;
#[path = "secevent/quarantine_rows.rs"]
mod quarantine_rows;

use mapping_rows::mapping_rows;
use quarantine_rows::quarantine_rows;

const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../tests/fixtures/formats/secevent/",
                $name,
                ".json"
            )),
        )
    };
}

/// Every fixture, by name.
pub(crate) const FIXTURES: [(&str, &str); 24] = [
    fixture!("caep_session_revoked"),
    fixture!("caep_session_revoked_all"),
    fixture!("caep_credential_change_fido2"),
    fixture!("caep_credential_change_x509"),
    fixture!("caep_credential_change_password"),
    fixture!("caep_token_claims_change"),
    fixture!("caep_token_claims_change_jwt_id"),
    fixture!("caep_assurance_level_change"),
    fixture!("caep_device_compliance_change"),
    fixture!("caep_session_established"),
    fixture!("caep_session_presented"),
    fixture!("caep_risk_level_change"),
    fixture!("risc_account_disabled"),
    fixture!("risc_account_enabled"),
    fixture!("risc_account_purged"),
    fixture!("risc_credential_compromise"),
    fixture!("risc_identifier_changed"),
    fixture!("risc_identifier_recycled"),
    fixture!("risc_account_credential_change_required"),
    fixture!("risc_recovery_information_changed"),
    fixture!("risc_sessions_revoked_legacy"),
    fixture!("risc_opt_out_initiated"),
    fixture!("ssf_verification"),
    fixture!("multiple_events"),
];

pub(crate) fn fixture(name: &str) -> &'static str {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .expect("the fixture is listed in FIXTURES")
}

pub(crate) fn run(
    payload: &[u8],
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    map_message(
        Message {
            payload,
            headers: &[],
        },
        settings,
    )
}

fn unverified(payload: &str) -> Vec<RecordOutcome> {
    run(payload.as_bytes(), &FormatSettings::default()).expect("the message is a SET")
}

fn sorted(mut d: Draft) -> Draft {
    d.attributes.sort_by(|a, b| a.0.cmp(&b.0));
    d
}

/// The event records of `outcomes`; panics naming the first that is not one.
pub(crate) fn events_of(outcomes: &[RecordOutcome]) -> Vec<&super::super::Mapped> {
    outcomes
        .iter()
        .map(|o| match o {
            RecordOutcome::Event(m) => m.as_ref(),
            other => panic!("expected an event, found {other:?}"),
        })
        .collect()
}

/// Validates `draft` by the native rules.
pub(crate) fn assert_validates(draft: &Draft) {
    if let Err(reason) = draft.validate() {
        panic!(
            "{} {}: does not validate: {reason:?}",
            draft.source, draft.id
        );
    }
}

#[test]
fn every_mapped_event_type_maps_field_by_field() {
    for (name, cite, expected) in mapping_rows() {
        let outcomes = unverified(fixture(name));
        let got = events_of(&outcomes);
        assert_eq!(got.len(), expected.len(), "{name} ({cite})");
        for (mapped, want) in got.iter().zip(expected) {
            assert_eq!(
                sorted(mapped.draft.clone()),
                sorted(want),
                "{name} ({cite})"
            );
            let jti = mapped
                .draft
                .id
                .split('#')
                .next()
                .expect("split yields one part");
            assert_eq!(mapped.event_id, jti, "{name}");
            let Some((_, AttrValue::Text(uri))) = mapped
                .draft
                .attributes
                .iter()
                .find(|(k, _)| k == "set.event_type")
            else {
                panic!("{name}: no set.event_type");
            };
            assert_eq!(mapped.pointer, format!("/events/{}", escape(uri)), "{name}");
            assert_eq!(mapped.envelope, None);
            assert_validates(&mapped.draft);
        }
    }
}

#[test]
fn out_of_scope_events_are_counted_by_their_uri() {
    let rows = [
        ("caep_session_presented", format!("{CAEP}session-presented")),
        ("caep_risk_level_change", format!("{CAEP}risk-level-change")),
        ("risc_opt_out_initiated", format!("{RISC}opt-out-initiated")),
        (
            "ssf_verification",
            "https://schemas.openid.net/secevent/ssf/event-type/verification".into(),
        ),
        // The subject names a token, not an identity.
        (
            "caep_token_claims_change_jwt_id",
            format!("{CAEP}token-claims-change"),
        ),
    ];
    for (name, kind) in rows {
        assert_eq!(
            unverified(fixture(name)),
            vec![RecordOutcome::out_of_scope(kind)],
            "{name}"
        );
    }
    // A complex subject naming only a session and a tenant names no identity.
    let session_only = r#"{"iss":"i","jti":"j","iat":1,"sub_id":{"format":"complex",
        "session":{"format":"opaque","id":"s1"},"tenant":{"format":"opaque","id":"t"}},
        "events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{}}}"#;
    assert_eq!(
        unverified(session_only),
        vec![RecordOutcome::out_of_scope(format!(
            "{CAEP}session-revoked"
        ))]
    );
}

#[test]
fn every_quarantine_reason_names_its_field() {
    for (input, pointer, field, words) in quarantine_rows() {
        let outcomes = unverified(&input);
        let [RecordOutcome::Malformed { pointer: p, error }] = outcomes.as_slice() else {
            panic!("{input}: expected one malformed record, found {outcomes:?}");
        };
        assert_eq!((p, &error.field), (&pointer, &field), "{input}");
        assert!(error.message.contains(words), "{input}: {}", error.message);
        assert!(!error.message.ends_with('.'), "{}", error.message);
    }
}

#[test]
fn a_message_that_is_no_set_at_all_is_an_error() {
    let rows: [&[u8]; 8] = [
        b"",
        b"{",
        b"hello",
        b"[1,2]",
        b"\"not.a jws\"",
        br#"{"type":"identity.created"}"#,
        b"a.b",
        b"\xff\xfe.x.y",
    ];
    for payload in rows {
        let result = run(payload, &FormatSettings::default());
        let Err(error) = result else {
            panic!(
                "{:?}: expected an error, found {result:?}",
                String::from_utf8_lossy(payload)
            );
        };
        assert_eq!(error.field, "");
        assert!(!error.message.is_empty());
    }
}

#[test]
fn the_same_bytes_map_to_the_same_output() {
    for (name, text) in FIXTURES {
        let first = run(text.as_bytes(), &FormatSettings::default());
        let second = run(text.as_bytes(), &FormatSettings::default());
        assert_eq!(first, second, "{name}");
        assert!(first.is_ok_and(|o| !o.is_empty()), "{name}");
    }
}

#[test]
fn recognises_every_fixture_and_no_other_format() {
    for (name, text) in FIXTURES {
        let doc: serde_json::Value = serde_json::from_str(text).expect("fixtures are JSON");
        assert!(recognises(&doc), "{name}");
    }
    let others = [
        (
            "native",
            r#"{"id":"e1","source":"okta-prod","type":"identity.created","time":"2026-03-02T09:00:00Z","actor":{"id":"hr","kind":"service"},"subject":{"id":"a@b.test","kind":"human"}}"#,
        ),
        (
            "ocsf",
            r#"{"class_uid":3001,"activity_id":1,"time":1767225600000,"metadata":{"uid":"m1","product":{"name":"x"}},"user":{"name":"a"}}"#,
        ),
        (
            "cloudevents",
            r#"{"specversion":"1.0","id":"c1","source":"/idp","type":"com.example.user.created","data":{}}"#,
        ),
        (
            "cloudtrail",
            r#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2026-01-01T00:00:00Z","eventID":"e1","recipientAccountId":"123456789012"}"#,
        ),
        (
            "cloudtrail log file",
            r#"{"Records":[{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}]}"#,
        ),
        (
            "okta",
            r#"{"uuid":"u1","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","actor":{"id":"a"}}"#,
        ),
        (
            "okta hook",
            r#"{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u1"}]}}"#,
        ),
        (
            "entra",
            r#"{"id":"x","activityDisplayName":"Add user","category":"UserManagement","loggedByService":"Core Directory","activityDateTime":"2026-01-01T00:00:00Z"}"#,
        ),
        (
            "entra records",
            r#"{"records":[{"operationName":"Add user","properties":{}}]}"#,
        ),
        (
            "github",
            r#"{"action":"org.add_member","@timestamp":1767225600000,"actor":"octo","org":"acme"}"#,
        ),
        (
            "vault",
            r#"{"type":"response","time":"2026-01-01T00:00:00Z","auth":{"accessor":"hmac-sha256:ab"},"request":{"id":"r1","path":"auth/token/create"}}"#,
        ),
        (
            "id token",
            r#"{"iss":"https://idp.test/","jti":"j","iat":1,"sub":"u1","aud":"c"}"#,
        ),
    ];
    for (name, text) in others {
        let doc: serde_json::Value = serde_json::from_str(text).expect("examples are JSON");
        assert!(!recognises(&doc), "{name}");
    }
}

/// Arbitrary JSON of moderate depth, biased towards the members a SET has.
fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let names = prop_oneof![
        Just("iss".to_owned()),
        Just("jti".to_owned()),
        Just("iat".to_owned()),
        Just("toe".to_owned()),
        Just("events".to_owned()),
        Just("sub_id".to_owned()),
        Just("subject".to_owned()),
        Just("format".to_owned()),
        Just("email".to_owned()),
        Just("user".to_owned()),
        Just("session".to_owned()),
        Just("device".to_owned()),
        Just("identifiers".to_owned()),
        Just("event_timestamp".to_owned()),
        Just("credential_type".to_owned()),
        Just("change_type".to_owned()),
        Just(format!("{CAEP}credential-change")),
        Just(format!("{CAEP}session-revoked")),
        Just(format!("{RISC}account-disabled")),
        Just(format!("{CAEP}device-compliance-change")),
        "[a-z_~/]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("email".to_owned()),
            Just("complex".to_owned()),
            Just("iss_sub".to_owned()),
            Just("aliases".to_owned()),
            Just("create".to_owned()),
            Just("x509".to_owned()),
            ".{0,12}",
        ]
        .prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Every event has a non-empty source and id, and the id starts with the SET's `jti`.
pub(crate) fn check_events(outcomes: &[RecordOutcome]) {
    for outcome in outcomes {
        if let RecordOutcome::Event(m) = outcome {
            assert!(m.draft.source.starts_with("secevent:") && m.draft.source.len() > 9);
            assert!(!m.draft.id.is_empty());
            assert!(m.draft.id.starts_with(&m.event_id));
            assert!(m.pointer.starts_with("/events/"));
        }
    }
}

proptest! {
    #[test]
    fn map_never_panics_on_arbitrary_json(doc in arb_json()) {
        if let Ok(outcomes) = map(&doc, &FormatSettings::default()) {
            check_events(&outcomes);
        }
        let payload = serde_json::to_vec(&doc).expect("a value is written as JSON");
        if let Ok(outcomes) = run(&payload, &FormatSettings::default()) {
            check_events(&outcomes);
        }
    }
}
