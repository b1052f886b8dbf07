//! Tests of the Vault audit mapping: one row per path family mapped, one per quarantine reason,
//! out-of-scope entries, recognition against the other formats, stability, and a property test.
//!
//! The fixtures are written from HashiCorp's published audit format:
//! - [schema] https://developer.hashicorp.com/vault/docs/audit/schema (entry, auth, request and
//!   response objects)
//! - [audit] https://developer.hashicorp.com/vault/docs/audit (request/response pairs sharing
//!   `request.id`; strings HMAC-SHA256'd by default, accessors unless `hmac_accessor=false`)
//! - [token] https://developer.hashicorp.com/vault/api-docs/auth/token (create, renew, revoke
//!   paths)
//! - [leases] https://developer.hashicorp.com/vault/api-docs/system/leases (renew, revoke,
//!   revoke-prefix)
//! - login paths per method: https://developer.hashicorp.com/vault/api-docs/auth/userpass,
//!   …/auth/approle, …/auth/kubernetes, …/auth/jwt (OIDC callback)

use super::{map, recognises};
use crate::formats::test_support::json_value;
use crate::formats::{Draft, FormatSettings, RecordOutcome};
use crate::time::Timestamp;
use proptest::prelude::*;
use serde_json::Value;
use test_rows::{Expect, MALFORMED, ROWS};

#[path = "vault/test_rows.rs"]
mod test_rows;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/formats/vault/", $name))
    };
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("fixtures and test inputs are JSON")
}

fn outcomes(json: &str) -> Vec<RecordOutcome> {
    map(&parse(json), &FormatSettings::default()).expect("a Vault audit entry")
}

fn assert_validates(draft: &Draft) {
    if let Err(reason) = draft.validate() {
        panic!("{} {} does not validate: {reason:?}", draft.kind, draft.id);
    }
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("test times are RFC 3339")
}

fn event_of(row: &Expect) -> Draft {
    let found = outcomes(row.fixture);
    let id = format!(
        "5b8c1e2a-0f3d-4c6b-a7e9-{:012}:response{}",
        row.n, row.suffix
    );
    let expected_count = if row.suffix.is_empty() { 1 } else { 2 };
    assert_eq!(found.len(), expected_count, "{id}: {found:?}");
    for outcome in &found {
        if let RecordOutcome::Event(mapped) = outcome
            && mapped.draft.id == id
        {
            assert_eq!(
                mapped.event_id,
                format!("5b8c1e2a-0f3d-4c6b-a7e9-{:012}:response", row.n)
            );
            assert_eq!(mapped.pointer, "");
            return mapped.draft.clone();
        }
    }
    panic!("{id} not among {found:?}")
}

#[test]
fn every_mapped_path_maps_field_by_field() {
    for row in ROWS {
        let draft = event_of(row);
        let id = draft.id.clone();
        assert_eq!(draft.source, "vault", "{id}");
        assert_eq!(draft.kind, row.kind, "{id}");
        assert_eq!(
            draft.time,
            time(&format!("2026-03-02T10:{:02}:05.481516234Z", row.n)),
            "{id}"
        );
        assert_eq!(
            (draft.subject.id.as_str(), draft.subject.kind),
            row.subject,
            "{id}"
        );
        let actor = draft.actor.as_ref().map(|a| (a.id.as_str(), a.kind, a.mfa));
        assert_eq!(actor, Some((row.actor.0, row.actor.1, None)), "{id}");
        let credential = draft.credential.as_ref().map(|c| (c.id.as_str(), c.kind));
        assert_eq!(credential, row.credential, "{id}");
        assert!(
            draft.credential.iter().all(|c| c.fingerprint.is_none()),
            "{id}"
        );
        assert_eq!(draft.outcome, row.outcome, "{id}");
        assert_eq!(draft.expires_at, row.expires_at.map(time), "{id}");
        let absent = (
            &draft.grant_id,
            &draft.resource,
            &draft.owner,
            &draft.request_id,
            &draft.reason,
            &draft.ticket,
        );
        assert_eq!(absent, (&None, &None, &None, &None, &None, &None), "{id}");
        assert_eq!((draft.membership, draft.decision), (None, None), "{id}");
        for (key, value) in row.attrs {
            let found = draft
                .attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_string());
            assert_eq!(found.as_deref(), Some(*value), "{id}: attribute {key}");
        }
        assert!(
            draft.attributes.len() <= 10,
            "{id}: {} attributes",
            draft.attributes.len()
        );
        assert_validates(&draft);
    }
}

#[test]
fn no_token_value_or_raw_secret_reaches_a_draft() {
    for row in ROWS {
        let draft = event_of(row);
        let printed = format!("{draft:?}");
        for member in ["client_token", "password", "secret_id", "jwt"] {
            let value = parse(row.fixture)["auth"][member]
                .as_str()
                .map(str::to_owned);
            if let Some(value) = value {
                assert!(
                    !printed.contains(&value),
                    "{} copies auth.{member}",
                    draft.id
                );
            }
        }
        for (_, value) in &draft.attributes {
            assert!(!value.to_string().contains("hmac-sha256:"), "{}", draft.id);
        }
    }
}

/// Sets (`Some(json)`) or removes (`None`) the member at `pointer` of a parsed entry.
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
                assert!(!error.message.contains("RAWTOKEN"), "{}", error.message);
            }
            other => panic!("{patches:?}: expected one malformed entry, found {other:?}"),
        }
    }
}

#[test]
fn whole_message_errors() {
    let settings = FormatSettings::default();
    let kv = patched(fixture!("kv_read.json"), &[("/type", Some(r#""event""#))]);
    let untyped = patched(fixture!("kv_read.json"), &[("/type", None)]);
    for (json, field) in [
        ("[1]", ""),
        ("null", ""),
        (kv.as_str(), "/type"),
        (untyped.as_str(), "/type"),
    ] {
        let error = map(&parse(json), &settings).expect_err(json);
        assert_eq!(error.field, field, "{json}");
    }
}

#[test]
fn out_of_scope_entries_are_counted_by_kind() {
    let incomplete = patched(fixture!("login_userpass.json"), &[("/response/auth", None)]);
    for (json, kind) in [
        (fixture!("request_entry.json"), "vault:request:read"),
        (fixture!("oidc_auth_url.json"), "vault:update:oidc"),
        (
            fixture!("login_approle_failed.json"),
            "vault:login:unattributed",
        ),
        (incomplete.as_str(), "vault:login:incomplete"),
    ] {
        assert_eq!(
            outcomes(json),
            vec![RecordOutcome::out_of_scope(kind)],
            "{kind}"
        );
    }
}

#[test]
fn recognises_vault_and_nothing_else() {
    for row in ROWS {
        assert!(recognises(&parse(row.fixture)));
    }
    for json in [
        fixture!("request_entry.json"),
        fixture!("oidc_auth_url.json"),
    ] {
        assert!(recognises(&parse(json)));
    }
    let others = [
        // native
        r#"{"id":"e1","source":"hr","type":"identity.created","time":"2026-01-01T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"b","kind":"human"}}"#,
        // OCSF
        r#"{"class_uid":3001,"activity_id":1,"time":1767225600000,"metadata":{"version":"1.3.0","product":{"name":"x"}}}"#,
        // CloudEvents (its `type` is free text, but never `request` with a Vault request)
        r#"{"specversion":"1.0","id":"1","source":"/x","type":"com.example.user.created","time":"2026-01-01T00:00:00Z","data":{}}"#,
        // Security Event Token claims
        r#"{"iss":"https://idp.example.com","iat":1767225600,"jti":"abc","events":{"https://schemas.openid.net/secevent/caep/event-type/session-revoked":{}}}"#,
        // CloudTrail, single and log file
        r#"{"eventVersion":"1.09","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2026-01-01T00:00:00Z"}"#,
        r#"{"Records":[{"eventVersion":"1.09","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}]}"#,
        // Okta
        r#"{"uuid":"u1","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","actor":{},"target":[]}"#,
        // Entra ID, single and diagnostic export
        r#"{"activityDisplayName":"Add user","category":"UserManagement","loggedByService":"Core Directory"}"#,
        r#"{"records":[{"operationName":"Add user","properties":{}}]}"#,
        // GitHub audit log
        r#"{"action":"org.add_member","@timestamp":1767225600000,"actor":"octocat","org":"acme"}"#,
    ];
    for json in others {
        assert!(!recognises(&parse(json)), "{json}");
    }
}

#[test]
fn the_same_bytes_map_to_the_same_outcomes() {
    for row in ROWS {
        assert_eq!(outcomes(row.fixture), outcomes(row.fixture));
    }
}

/// Strings and keys mostly from the audit format's own vocabulary, so random documents reach
/// the mapping code and not only the first required field.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "time",
            "request",
            "response",
            "auth",
            "error",
            "id",
            "path",
            "operation",
            "mount_type",
            "accessor",
            "display_name",
            "metadata",
            "username",
            "role_name",
            "role",
            "service_account_name",
            "service_account_namespace",
            "entity_id",
            "token_ttl",
            "data",
            "token",
            "lease_id",
            "secret",
            "auth/token/create",
            "auth/token/revoke",
            "renew-self",
            "auth/userpass/login/x",
            "sys/leases/revoke",
            "sys/leases/renew",
            "userpass",
            "token",
            "hmac-sha256:ab",
            "2026-03-02T10:00:00Z",
            "update",
            "read",
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
    fn map_never_panics_on_an_entry_with_one_member_replaced(
        row in 0..ROWS.len(),
        key in word(),
        value in json_value(word),
        at in prop::sample::select(vec!["", "/request", "/response", "/response/auth", "/auth", "/request/data"]),
    ) {
        let mut doc = parse(ROWS[row].fixture);
        if let Some(Value::Object(object)) = doc.pointer_mut(at) {
            object.insert(key, value);
        }
        check_no_panic_and_ids(&doc);
    }
}
