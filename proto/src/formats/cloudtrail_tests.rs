//! Tests of the CloudTrail mapping: one row per event name mapped, one per quarantine reason,
//! out-of-scope records, recognition against the other formats, stability, and a property test.
//!
//! The fixtures are written from AWS's published record format and examples:
//! - [record] https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
//! - [identity] https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
//! - [iam] https://docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html
//!   (IAM, STS and sign-in examples)
//! - [signin] https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
//! - [files] https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html
//! - request parameters per API: https://docs.aws.amazon.com/IAM/latest/APIReference/ and
//!   https://docs.aws.amazon.com/STS/latest/APIReference/

use super::{map, recognises};
use crate::formats::test_support::json_value;
use crate::formats::{Draft, FieldError, FormatSettings, RecordOutcome};
use crate::time::Timestamp;
use proptest::prelude::*;
use serde_json::Value;
use test_rows::{MALFORMED, ROWS};

#[path = "cloudtrail/test_rows.rs"]
mod test_rows;

const ACCOUNT: &str = "cloudtrail:111122223333";

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/formats/cloudtrail/", $name))
    };
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("fixtures and test inputs are JSON")
}

fn outcomes(json: &str) -> Vec<RecordOutcome> {
    map(&parse(json), &FormatSettings::default()).expect("a CloudTrail message")
}

fn only_event(json: &str) -> Draft {
    match outcomes(json).as_slice() {
        [RecordOutcome::Event(mapped)] => mapped.draft.clone(),
        other => panic!("expected one event, found {other:?}"),
    }
}

fn assert_validates(draft: &Draft) {
    if let Err(reason) = draft.validate() {
        panic!("{} {} does not validate: {reason:?}", draft.kind, draft.id);
    }
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("test times are RFC 3339")
}

#[test]
fn every_mapped_event_name_maps_field_by_field() {
    for row in ROWS {
        let draft = only_event(row.fixture);
        let name = parse(row.fixture)["eventName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let event_id = format!("3e5f2a10-1b7c-4d8e-9f60-{:012}", row.n);
        assert_eq!(draft.source, ACCOUNT, "{name}");
        assert_eq!(draft.id, event_id, "{name}");
        assert_eq!(draft.kind, row.kind, "{name}");
        assert_eq!(
            draft.time,
            time(&format!("2026-03-02T09:{:02}:17Z", row.n)),
            "{name}"
        );
        assert_eq!(
            (draft.subject.id.as_str(), draft.subject.kind),
            row.subject,
            "{name}"
        );
        let actor = draft.actor.as_ref().map(|a| (a.id.as_str(), a.kind, a.mfa));
        assert_eq!(actor, Some(row.actor), "{name}");
        let credential = draft.credential.as_ref().map(|c| (c.id.as_str(), c.kind));
        assert_eq!(credential, row.credential, "{name}");
        assert!(
            draft.credential.iter().all(|c| c.fingerprint.is_none()),
            "{name}"
        );
        assert_eq!(draft.resource.as_deref(), row.resource, "{name}");
        assert_eq!(draft.grant_id.as_deref(), row.grant_id, "{name}");
        assert_eq!(draft.membership, row.membership, "{name}");
        assert_eq!(draft.owner.as_deref(), row.owner, "{name}");
        assert_eq!(draft.outcome, row.outcome, "{name}");
        assert_eq!(draft.expires_at, row.expires_at.map(time), "{name}");
        assert_eq!(
            (
                draft.request_id.as_deref(),
                draft.reason.as_deref(),
                draft.ticket.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(draft.decision, None, "{name}");
        let mut expected = vec![
            ("aws.event_name", name.as_str()),
            ("aws.region", "us-east-1"),
        ];
        expected.extend_from_slice(row.attrs);
        for (key, value) in expected {
            let found = draft
                .attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_string());
            assert_eq!(found.as_deref(), Some(value), "{name}: attribute {key}");
        }
        assert!(
            draft.attributes.len() <= 10,
            "{name}: {} attributes",
            draft.attributes.len()
        );
        assert_validates(&draft);
    }
}

#[test]
fn every_mapped_event_name_has_a_row() {
    let covered: Vec<String> = ROWS
        .iter()
        .map(|row| {
            parse(row.fixture)["eventName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for name in super::IAM_EVENTS.iter().chain(&[
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "ConsoleLogin",
    ]) {
        assert!(covered.iter().any(|c| c == name), "{name} has no row");
    }
}

#[test]
fn no_secret_value_reaches_a_draft() {
    for row in ROWS {
        let printed = format!("{:?}", only_event(row.fixture));
        assert!(!printed.contains("session token"), "{printed}");
        assert!(
            !printed.contains("policyDocument") && !printed.contains("Statement"),
            "{printed}"
        );
    }
}

/// Sets (`Some(json)`) or removes (`None`) the member at `pointer` of a parsed record.
fn patched(fixture: &str, patches: &[(&str, Option<&str>)]) -> String {
    let mut doc = parse(fixture);
    for (pointer, value) in patches {
        let (parent, key) = pointer.rsplit_once('/').expect("patches name a member");
        let object = doc
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("patched parents are objects");
        match value {
            Some(json) => object.insert(key.to_owned(), parse(json)),
            None => object.remove(key),
        };
    }
    doc.to_string()
}

#[test]
fn each_quarantine_reason_names_its_field() {
    for (fixture, patches, field) in MALFORMED {
        let json = patched(fixture, patches);
        match outcomes(&json).as_slice() {
            [RecordOutcome::Malformed { pointer, error }] => {
                assert_eq!(
                    (pointer.as_str(), error.field.as_str()),
                    ("", *field),
                    "{patches:?}"
                );
                assert!(!error.message.is_empty() && !error.message.ends_with('.'));
                assert!(
                    !error.message.starts_with(char::is_uppercase),
                    "{}",
                    error.message
                );
            }
            other => panic!("{patches:?}: expected one malformed record, found {other:?}"),
        }
    }
}

#[test]
fn a_log_file_maps_record_by_record() {
    let found = outcomes(fixture!("log_file.json"));
    let [RecordOutcome::Event(first), second, third] = found.as_slice() else {
        panic!("expected three outcomes, found {found:?}");
    };
    assert_eq!(
        (first.pointer.as_str(), first.event_id.as_str()),
        ("/Records/0", first.draft.id.as_str())
    );
    assert_eq!(
        first.draft.grant_id.as_deref(),
        Some("membership:group:Auditors:Mateo")
    );
    assert_eq!(
        second,
        &RecordOutcome::out_of_scope("s3.amazonaws.com:GetObject")
    );
    assert_eq!(
        third,
        &RecordOutcome::Malformed {
            pointer: "/Records/2".into(),
            error: FieldError::missing("/eventID")
        }
    );
    let not_a_record = outcomes(r#"{"Records":[7]}"#);
    assert!(
        matches!(not_a_record.as_slice(), [RecordOutcome::Malformed { pointer, error }]
        if pointer == "/Records/0" && error.field.is_empty())
    );
    assert_eq!(outcomes(r#"{"Records":[]}"#), vec![]);
}

#[test]
fn whole_message_errors() {
    let settings = FormatSettings::default();
    for (json, field) in [
        ("[1]", ""),
        ("\"x\"", ""),
        (r#"{"Records":{"a":1}}"#, "/Records"),
    ] {
        let error = map(&parse(json), &settings).expect_err(json);
        assert_eq!(error.field, field, "{json}");
    }
}

#[test]
fn out_of_scope_records_are_counted_by_source_and_name() {
    for (json, kind) in [
        (fixture!("list_users.json"), "iam.amazonaws.com:ListUsers"),
        (
            fixture!("get_caller_identity.json"),
            "sts.amazonaws.com:GetCallerIdentity",
        ),
    ] {
        assert_eq!(outcomes(json), vec![RecordOutcome::out_of_scope(kind)]);
    }
    let other_signin = patched(
        fixture!("console_login.json"),
        &[("/eventName", Some(r#""CheckMfa""#))],
    );
    assert_eq!(
        outcomes(&other_signin),
        vec![RecordOutcome::out_of_scope("signin.amazonaws.com:CheckMfa")]
    );
}

#[test]
fn expirations_in_both_forms() {
    use super::principal::parse_expiration;
    let t = Some(time("2026-03-02T22:31:17Z"));
    assert_eq!(parse_expiration("Mar 2, 2026, 10:31:17 PM"), t);
    assert_eq!(parse_expiration("Mar 2, 2026 10:31:17 PM"), t);
    assert_eq!(parse_expiration("2026-03-02T22:31:17Z"), t);
    assert_eq!(
        parse_expiration("Mar 2, 2026, 12:05:00 AM"),
        Some(time("2026-03-02T00:05:00Z"))
    );
    assert_eq!(
        parse_expiration("Mar 2, 2026, 12:05:00 PM"),
        Some(time("2026-03-02T12:05:00Z"))
    );
    for bad in [
        "",
        "Mar 2, 2026",
        "Foo 2, 2026, 1:00:00 PM",
        "Mar 2, 2026, 13:00:00 PM",
        "Mar 2, 2026, 1:00 PM",
    ] {
        assert_eq!(parse_expiration(bad), None, "{bad}");
    }
}

#[test]
fn recognises_cloudtrail_and_nothing_else() {
    for row in ROWS {
        assert!(recognises(&parse(row.fixture)));
    }
    assert!(recognises(&parse(fixture!("log_file.json"))));
    assert!(recognises(&parse(r#"{"Records":[]}"#)));
    let others = [
        // native
        r#"{"id":"e1","source":"hr","type":"identity.created","time":"2026-01-01T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"b","kind":"human"}}"#,
        // OCSF
        r#"{"class_uid":3001,"activity_id":1,"time":1767225600000,"metadata":{"version":"1.3.0","product":{"name":"x"}}}"#,
        // CloudEvents
        r#"{"specversion":"1.0","id":"1","source":"/x","type":"com.example.user.created","data":{}}"#,
        // Security Event Token claims
        r#"{"iss":"https://idp.example.com","iat":1767225600,"jti":"abc","events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{}}}"#,
        // Okta
        r#"{"uuid":"u1","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","actor":{},"target":[]}"#,
        // Entra ID, single and diagnostic export
        r#"{"activityDisplayName":"Add user","category":"UserManagement","loggedByService":"Core Directory"}"#,
        r#"{"records":[{"operationName":"Add user","properties":{}}]}"#,
        // GitHub audit log
        r#"{"action":"org.add_member","@timestamp":1767225600000,"actor":"octocat","org":"acme"}"#,
        // Vault
        r#"{"type":"response","time":"2026-01-01T00:00:00Z","auth":{},"request":{"id":"r1","path":"auth/token/create"}}"#,
    ];
    for json in others {
        assert!(!recognises(&parse(json)), "{json}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for json in ROWS
        .iter()
        .map(|r| r.fixture)
        .chain([fixture!("log_file.json")])
    {
        assert_eq!(outcomes(json), outcomes(json));
    }
}

/// Strings and keys mostly from CloudTrail's own vocabulary, so random documents reach the
/// mapping code and not only the first required field.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "eventVersion",
            "eventSource",
            "eventName",
            "eventID",
            "eventTime",
            "Records",
            "userIdentity",
            "type",
            "arn",
            "userName",
            "requestParameters",
            "responseElements",
            "roleArn",
            "roleName",
            "groupName",
            "policyArn",
            "policyName",
            "status",
            "accessKey",
            "accessKeyId",
            "credentials",
            "expiration",
            "errorCode",
            "recipientAccountId",
            "iam.amazonaws.com",
            "sts.amazonaws.com",
            "signin.amazonaws.com",
            "CreateUser",
            "AssumeRole",
            "ConsoleLogin",
            "UpdateAccessKey",
            "AttachGroupPolicy",
            "IAMUser",
            "AssumedRole",
            "Root",
            "Inactive",
            "2026-03-02T09:00:00Z",
            "arn:aws:iam::1:role/r",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9:/ ._-]{0,10}",
    ]
}

fn check_no_panic_and_ids(doc: &Value) {
    if let Ok(found) = map(doc, &FormatSettings::default()) {
        for outcome in found {
            if let RecordOutcome::Event(mapped) = outcome {
                assert!(!mapped.draft.source.is_empty() && !mapped.draft.id.is_empty());
            }
        }
    }
}

proptest! {
    #[test]
    fn map_never_panics_on_arbitrary_json(doc in json_value(word)) {
        check_no_panic_and_ids(&doc);
    }

    #[test]
    fn map_never_panics_on_a_record_with_one_member_replaced(
        row in 0..ROWS.len(),
        key in word(),
        value in json_value(word),
        nested in any::<bool>(),
    ) {
        let mut doc = parse(ROWS[row].fixture);
        let target = if nested { doc.get_mut("requestParameters") } else { Some(&mut doc) };
        if let Some(Value::Object(object)) = target {
            object.insert(key, value);
        }
        check_no_panic_and_ids(&doc);
    }
}
