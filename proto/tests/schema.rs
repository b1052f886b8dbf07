//! docs/event.schema.json and the decoder give the same verdicts: every example of
//! docs/EVENTS.md passes both; each event refused for a rule the schema can state fails both,
//! for that reason; and the rules only idledger enforces (docs/EVENTS.md says which) are listed
//! here with an event the schema passes and the decoder refuses, so the list cannot go stale.

use idledger_proto::decode::decode_event;
use serde_json::Value;

const SCHEMA: &str = include_str!("../../docs/event.schema.json");
const EVENTS_MD: &str = include_str!("../../docs/EVENTS.md");

fn schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema")
}

/// The schema's verdict on a JSON text: `Ok`, or the first error it reports.
fn by_schema(validator: &jsonschema::Validator, json: &str) -> Result<(), String> {
    let value: Value = serde_json::from_str(json).expect("test events are JSON");
    validator.validate(&value).map_err(|e| e.to_string())
}

/// The decoder's verdict: `Ok`, or the class and text of its rejection.
fn by_decoder(json: &str) -> Result<(), (&'static str, String)> {
    decode_event(json.as_bytes())
        .map(drop)
        .map_err(|r| (r.reason.class(), r.reason.to_string()))
}

/// The JSON examples of docs/EVENTS.md.
fn doc_examples() -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = EVENTS_MD.lines();
    while let Some(line) = lines.next() {
        if line == "```json" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push(body.join("\n"));
        }
    }
    out
}

const VALID: &str = r#"{"id":"e1","source":"okta","type":"access.requested","time":"2026-01-01T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"a","kind":"human"},"grant_id":"g1","resource":"db:read"}"#;

/// `VALID` with the member `name` set to `value` (JSON), or removed for `None`.
fn set(name: &str, value: Option<&str>) -> String {
    let mut v: Value = serde_json::from_str(VALID).expect("VALID is JSON");
    let object = v.as_object_mut().expect("an object");
    match value {
        Some(value) => {
            let value = serde_json::from_str(value).expect("test values are JSON");
            object.insert(name.to_owned(), value);
        }
        None => {
            object.remove(name);
        }
    }
    v.to_string()
}

/// `VALID` with its type changed and these members set.
fn typed(kind: &str, members: &[(&str, &str)]) -> String {
    let mut json = set("type", Some(&format!("{kind:?}")));
    for (name, value) in members {
        let mut v: Value = serde_json::from_str(&json).expect("JSON");
        v[*name] = serde_json::from_str(value).expect("test values are JSON");
        json = v.to_string();
    }
    json
}

fn text(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

const FINGERPRINT: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn every_example_passes_the_schema_and_the_decoder() {
    let validator = schema();
    let examples = doc_examples();
    assert!(examples.len() >= 17, "one example per type at least");
    for json in &examples {
        assert_eq!(by_schema(&validator, json), Ok(()), "{json}");
        assert_eq!(by_decoder(json), Ok(()), "{json}");
    }
}

/// Events at the edges of the rules, accepted by both.
#[test]
fn events_at_the_limits_pass_both() {
    let validator = schema();
    let credential = format!(
        r#"{{"id":"k","kind":"api_key","fingerprint":"{}"}}"#,
        FINGERPRINT.to_uppercase().replace("SHA256", "sha256")
    );
    let attributes: String = (0..64)
        .map(|i| format!("\"k{i}\":{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let cases: Vec<(&str, String)> = vec![
        (
            "id of 256 three-byte characters",
            set("id", Some(&text(&"東".repeat(256)))),
        ),
        (
            "id of 256 four-byte characters",
            set("id", Some(&text(&"😀".repeat(256)))),
        ),
        (
            "reason of 4096 characters",
            set("reason", Some(&text(&"é".repeat(4096)))),
        ),
        (
            "attribute key of 128 characters",
            set(
                "attributes",
                Some(&format!("{{{}:1}}", text(&"ü".repeat(128)))),
            ),
        ),
        (
            "attribute text of 1024 characters",
            set(
                "attributes",
                Some(&format!("{{\"a\":{}}}", text(&"ß".repeat(1024)))),
            ),
        ),
        (
            "64 attributes",
            set("attributes", Some(&format!("{{{attributes}}}"))),
        ),
        (
            "newline and tab in free text",
            set("reason", Some(&text("line one\n\tline two"))),
        ),
        (
            "any script in identifiers",
            set("resource", Some(&text("مورد:قراءة 東京 \u{A0}"))),
        ),
        (
            "null optional members",
            set("reason", Some("null")).replace(
                "\"actor\"",
                "\"ticket\":null,\"exception\":null,\"attributes\":null,\"actor\"",
            ),
        ),
        (
            "the window's first instant",
            set("time", Some("\"1970-01-01T00:00:00Z\"")),
        ),
        (
            "the window's last nanosecond",
            set("time", Some("\"2199-12-31T23:59:59.999999999Z\"")),
        ),
        (
            "an offset inside the window",
            set("time", Some("\"1970-01-01T05:00:00+05:00\"")),
        ),
        (
            "lower-case t and z",
            set("time", Some("\"2026-01-01t10:00:00z\"")),
        ),
        (
            "a space separator",
            set("time", Some("\"2026-01-01 10:00:00-03:30\"")),
        ),
        (
            "a leap day",
            set("expires_at", Some("\"2000-02-29T00:00:00Z\"")),
        ),
        (
            "a leap day of the 22nd century",
            set("expires_at", Some("\"2196-02-29T12:00:00+01:00\"")),
        ),
        (
            "upper-case hex in a fingerprint",
            typed("credential.issued", &[("credential", &credential)]),
        ),
        (
            "an expiry without an actor",
            typed("access.expired", &[]).replace(r#""actor":{"id":"a","kind":"human"},"#, ""),
        ),
        (
            "a review with its decision",
            typed("access.reviewed", &[("decision", "\"keep\"")]),
        ),
    ];
    for (what, json) in cases {
        assert_eq!(by_schema(&validator, &json), Ok(()), "{what}: {json}");
        assert_eq!(by_decoder(&json), Ok(()), "{what}: {json}");
    }
}

/// Events refused by a rule the schema states: both refuse them (the decoder with this class).
#[test]
#[rustfmt::skip]
fn events_breaking_a_stated_rule_fail_both() {
    let validator = schema();
    let owner_changed = typed("identity.owner_changed", &[]);
    let cases: Vec<(&str, String, &str)> = vec![
        // Lengths, in characters.
        ("id of 257 characters", set("id", Some(&text(&"東".repeat(257)))), "field_too_long"),
        ("reason of 4097 characters", set("reason", Some(&text(&"é".repeat(4097)))), "field_too_long"),
        ("resource of 1025 characters", set("resource", Some(&text(&"r".repeat(1025)))), "field_too_long"),
        ("attribute key of 129 characters", set("attributes", Some(&format!("{{{}:1}}", text(&"ü".repeat(129))))), "field_too_long"),
        ("attribute text of 1025 characters", set("attributes", Some(&format!("{{\"a\":{}}}", text(&"ß".repeat(1025))))), "field_too_long"),
        ("65 attributes", set("attributes", Some(&format!("{{{}}}", (0..65).map(|i| format!("\"k{i}\":1")).collect::<Vec<_>>().join(",")))), "invalid_value"),
        ("an empty id", set("id", Some("\"\"")), "empty_field"),
        ("an empty attribute key", set("attributes", Some("{\"\":1}")), "empty_field"),
        // Characters.
        ("a bell in an id", set("id", Some(&text("e\u{7}1"))), "invalid_value"),
        ("a newline in a ticket", set("ticket", Some(&text("CHG-1\nCHG-2"))), "invalid_value"),
        ("a tab in an attribute key", set("attributes", Some(&format!("{{{}:1}}", text("a\tb")))), "invalid_value"),
        ("a C1 control in a subject id", set("subject", Some(&format!("{{\"id\":{},\"kind\":\"human\"}}", text("a\u{85}b")))), "invalid_value"),
        ("a right-to-left override in a resource", set("resource", Some(&text("admin\u{202E}txt.exe"))), "invalid_value"),
        ("a carriage return in a reason", set("reason", Some(&text("a\rb"))), "invalid_value"),
        ("an isolate in an attribute value", set("attributes", Some(&format!("{{\"a\":{}}}", text("x\u{2067}y")))), "invalid_value"),
        // Times: syntax, calendar and the years of the window.
        ("a time before 1970", set("time", Some("\"1969-12-31T23:59:59Z\"")), "invalid_time"),
        ("a time at the window's end", set("time", Some("\"2200-01-01T00:00:00Z\"")), "invalid_time"),
        ("an expiry after the window", set("expires_at", Some("\"2262-01-01T00:00:00Z\"")), "invalid_time"),
        ("February 29th of 2100", set("time", Some("\"2100-02-29T00:00:00Z\"")), "invalid_time"),
        ("February 30th", set("time", Some("\"2026-02-30T00:00:00Z\"")), "invalid_time"),
        ("April 31st", set("time", Some("\"2026-04-31T00:00:00Z\"")), "invalid_time"),
        ("hour 24", set("time", Some("\"2026-01-01T24:00:00Z\"")), "invalid_time"),
        ("a leap second", set("time", Some("\"2026-12-31T23:59:60Z\"")), "invalid_time"),
        ("no offset", set("time", Some("\"2026-01-01T00:00:00\"")), "invalid_time"),
        ("an offset of 24 hours", set("time", Some("\"2026-01-01T00:00:00+24:00\"")), "invalid_time"),
        ("a date alone", set("time", Some("\"2026-01-01\"")), "invalid_time"),
        ("an empty fraction", set("time", Some("\"2026-01-01T00:00:00.Z\"")), "invalid_time"),
        // Members, types and values.
        ("no id", set("id", None), "missing_field"),
        ("a null source", set("source", Some("null")), "missing_field"),
        ("no subject", set("subject", None), "missing_field"),
        ("no actor", set("actor", None), "missing_field"),
        ("a null grant", set("grant_id", Some("null")), "missing_field"),
        ("no resource", set("resource", None), "missing_field"),
        ("a review without a decision", typed("access.reviewed", &[]), "missing_field"),
        ("a decision elsewhere", set("decision", Some("\"keep\"")), "invalid_value"),
        ("a credential event without one", typed("credential.revoked", &[]), "missing_field"),
        ("an owner change without an owner", owner_changed, "missing_field"),
        ("a service account created without an owner", typed("identity.created", &[("subject", r#"{"id":"svc","kind":"service_account"}"#)]), "missing_field"),
        ("an unknown type", set("type", Some("\"access.stolen\"")), "unknown_type"),
        ("an unknown subject kind", set("subject", Some(r#"{"id":"a","kind":"robot"}"#)), "wrong_type"),
        ("an unknown field", set("colour", Some("\"red\"")), "unknown_field"),
        ("an unknown actor member", set("actor", Some(r#"{"id":"a","kind":"human","age":3}"#)), "unknown_field"),
        ("a number for an id", set("id", Some("5")), "wrong_type"),
        ("a string for mfa", set("actor", Some(r#"{"id":"a","kind":"human","mfa":"yes"}"#)), "wrong_type"),
        ("an array for an actor", set("actor", Some(r#"["a","human"]"#)), "wrong_type"),
        ("a null attribute", set("attributes", Some(r#"{"a":null}"#)), "wrong_type"),
        ("an object attribute", set("attributes", Some(r#"{"a":{"b":1}}"#)), "wrong_type"),
        ("a short fingerprint", typed("credential.issued", &[("credential", r#"{"id":"k","kind":"api_key","fingerprint":"sha256:abcd"}"#)]), "bad_fingerprint"),
        ("an MD5 fingerprint", typed("credential.issued", &[("credential", r#"{"id":"k","kind":"api_key","fingerprint":"md5:0123"}"#)]), "bad_fingerprint"),
        ("an extra credential member", typed("credential.issued", &[("credential", &format!(r#"{{"id":"k","kind":"api_key","fingerprint":"{FINGERPRINT}","note":"x"}}"#))]), "unknown_field"),
        ("a credential value", typed("credential.issued", &[("credential", &format!(r#"{{"id":"k","kind":"api_key","fingerprint":"{FINGERPRINT}","value":"x"}}"#))]), "secret_material"),
        ("not an object", "[1,2]".to_owned(), "wrong_type"),
    ];
    for (what, json, class) in cases {
        assert!(by_schema(&validator, &json).is_err(), "{what}: the schema passes {json}");
        match by_decoder(&json) {
            Err((found, reason)) => assert_eq!(found, class, "{what}: {reason}"),
            Ok(()) => panic!("{what}: the decoder accepts {json}"),
        }
    }
}

/// What a JSON Schema cannot state, and idledger refuses: each passes the schema and fails the
/// decoder with this class. docs/EVENTS.md and the schema's description name these rules.
#[test]
#[rustfmt::skip]
fn rules_beyond_the_schema_are_the_decoders_alone() {
    let validator = schema();
    let cases: Vec<(&str, String, &str)> = vec![
        // The window, once the offset is applied, within a day of its ends.
        ("half an hour before 1970", set("time", Some("\"1970-01-01T00:30:00+01:00\"")), "invalid_time"),
        ("half an hour after 2199", set("time", Some("\"2199-12-31T23:30:00-01:00\"")), "invalid_time"),
        // A member given twice: a schema sees one object, with the last value.
        ("an attribute twice", VALID.replace("\"resource\"", "\"attributes\":{\"a\":1,\"a\":2},\"resource\""), "invalid_value"),
        ("a field twice", VALID.replace("\"resource\"", "\"id\":\"e2\",\"resource\""), "invalid_value"),
        // Secret material.
        ("a secret-named attribute", set("attributes", Some(r#"{"db_password":"hunter2"}"#)), "secret_material"),
        ("a private key block", set("reason", Some(&text("-----BEGIN PRIVATE KEY-----\nMIIE"))), "secret_material"),
        // The payload's size in bytes.
        ("a payload over 64 KiB", set("attributes", Some(&format!("{{{}}}", (0..64).map(|i| format!("\"k{i}\":{}", text(&"x".repeat(1024)))).collect::<Vec<_>>().join(",")))), "oversized"),
    ];
    for (what, json, class) in cases {
        assert_eq!(by_schema(&validator, &json), Ok(()), "{what}: {json}");
        match by_decoder(&json) {
            Err((found, reason)) => assert_eq!(found, class, "{what}: {reason}"),
            Ok(()) => panic!("{what}: the decoder accepts {json}"),
        }
    }
}

/// Lengths count characters, and a rejection says so: one more 3-byte character than the limit.
#[test]
fn a_length_rejection_counts_characters() {
    let json = set("id", Some(&text(&"東".repeat(257))));
    assert_eq!(
        by_decoder(&json),
        Err((
            "field_too_long",
            "field `id` is 257 characters; the limit is 256".to_owned()
        ))
    );
}
