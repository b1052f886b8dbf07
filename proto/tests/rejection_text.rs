//! The exact reason a quarantined entry stores for each class of bad input. A reason is inside a
//! hashed leaf, so its words are the project's own (never a dependency's error message): the
//! same bad input gives the same bytes whatever version of serde_json reads it. A change to any
//! line here changes what new leaves hold for that input, and belongs in CHANGELOG.md.

use idledger_proto::decode::{MAX_PAYLOAD_BYTES, decode_event};
use idledger_proto::rejection::RejectReason;
use proptest::prelude::*;

const VALID: &str = r#"{"id":"e1","source":"okta","type":"access.requested","time":"2026-01-01T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"a","kind":"human"},"grant_id":"g1","resource":"db:read"}"#;

/// `VALID` with `member` (a `"name":value` pair) added before `resource`.
fn plus(member: &str) -> String {
    VALID.replace("\"resource\"", &format!("{member},\"resource\""))
}

/// `VALID` with every `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    VALID.replace(from, to)
}

fn reason(input: &[u8]) -> RejectReason {
    match decode_event(input) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(input)),
        Err(r) => r.reason,
    }
}

/// (what the input is, the input, the stored reason as printed: every field of it).
#[test]
#[rustfmt::skip]
fn each_class_of_bad_input_stores_exactly_this_reason() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Bytes that are no event at all.
        ("empty", vec![], "empty payload: expected a JSON event"),
        ("oversized", vec![b' '; MAX_PAYLOAD_BYTES + 1], "payload is 65537 bytes; the limit is 65536"),
        ("not utf-8", b"{\"id\":\"\xff\"}".to_vec(), "payload is not UTF-8: invalid byte at offset 7"),
        // Where the text stops being JSON (line, and column in bytes through the offending byte).
        ("a bare word", b"not json".to_vec(), "payload is not JSON: expected `true`, `false` or `null` at line 1 column 2"),
        ("a missing value", b"{\"id\": ?}".to_vec(), "payload is not JSON: expected a value at line 1 column 8"),
        ("cut inside an object", b"{\"id\":\"e1\"".to_vec(), "payload is not JSON: unexpected end of input in an object at line 1 column 10"),
        ("cut inside a string", b"{\"id\":\"e1".to_vec(), "payload is not JSON: unexpected end of input in a string at line 1 column 9"),
        ("cut inside an array", b"[1,".to_vec(), "payload is not JSON: unexpected end of input in an array at line 1 column 3"),
        ("only whitespace", b" \n ".to_vec(), "payload is not JSON: unexpected end of input at line 2 column 1"),
        ("two documents", format!("{VALID}\n{VALID}").into_bytes(), "payload is not JSON: trailing characters after the value at line 2 column 1"),
        ("an unquoted name", b"{id:1}".to_vec(), "payload is not JSON: expected a member name in double quotes at line 1 column 2"),
        ("a trailing comma", b"{\"id\":\"e1\",}".to_vec(), "payload is not JSON: expected a member name in double quotes at line 1 column 12"),
        ("no colon", b"{\"id\" \"e1\"}".to_vec(), "payload is not JSON: expected `:` after a member name at line 1 column 7"),
        ("no comma in an object", b"{\"id\":\"e1\" \"source\":\"s\"}".to_vec(), "payload is not JSON: expected `,` or `}` at line 1 column 12"),
        ("no comma in an array", b"{\"id\":[1 2]}".to_vec(), "payload is not JSON: expected `,` or `]` at line 1 column 10"),
        ("a leading zero", b"{\"id\":01}".to_vec(), "payload is not JSON: invalid number at line 1 column 7"),
        ("a huge number", b"{\"attributes\":{\"n\":1e999}}".to_vec(), "payload is not JSON: number out of range at line 1 column 20"),
        ("an invalid escape", b"{\"id\":\"a\\qb\"}".to_vec(), "payload is not JSON: invalid escape at line 1 column 9"),
        ("a lone surrogate", b"{\"id\":\"\\ud800\"}".to_vec(), "payload is not JSON: unpaired surrogate in a \\u escape at line 1 column 8"),
        ("a raw tab in a string", b"{\"id\":\"a\tb\"}".to_vec(), "payload is not JSON: unescaped control character in a string at line 1 column 9"),
        ("a wrong type, then broken", b"{\"id\":5,\"source\" \"s\"}".to_vec(), "payload is not JSON: expected `:` after a member name at line 1 column 18"),
        ("nested 65 deep", format!("{{\"id\":{}{}}}", "[".repeat(65), "]".repeat(65)).into_bytes(), "payload is not JSON: nested more than 64 levels deep at line 1 column 70"),
        // JSON that does not fit the event's fields, in document order.
        ("not an object", b"\"e1\"".to_vec(), "field ``: expected an object, found a string"),
        ("an array", b"[]".to_vec(), "field ``: expected an object, found an array"),
        ("a number for a string", with("\"e1\"", "5").into_bytes(), "field `id`: expected a string, found a number"),
        ("an object for a string", with("\"okta\"", "{}").into_bytes(), "field `source`: expected a string, found an object"),
        ("a string for a boolean", plus("\"exception\":\"yes\"").into_bytes(), "field `exception`: expected a boolean, found a string"),
        ("a string for an object", with("{\"id\":\"a\",\"kind\":\"human\"}", "\"a\"").into_bytes(), "field `actor`: expected an object, found a string"),
        ("an array for an object", with("{\"id\":\"a\",\"kind\":\"human\"}", "[\"a\",\"human\"]").into_bytes(), "field `actor`: expected an object, found an array"),
        ("null as an attribute", plus("\"attributes\":{\"n\":null}").into_bytes(), "field `attributes.n`: expected a string, number or boolean, found null"),
        ("an unknown field", plus("\"colour\":\"red\"").into_bytes(), "unknown field `colour`; put extra data in `attributes`"),
        ("an unknown nested field", with("\"kind\":\"human\"}", "\"kind\":\"human\",\"age\":3}").into_bytes(), "unknown field `actor.age`; put extra data in `attributes`"),
        ("an unknown field with a newline", plus("\"a\\nb\":1").into_bytes(), "unknown field `a<U+000A>b`; put extra data in `attributes`"),
        ("a field twice", plus("\"id\":\"e2\"").into_bytes(), "field `id`: appears more than once"),
        ("a credential member twice", plus(&format!("\"credential\":{{\"id\":\"k\",\"kind\":\"api_key\",\"fingerprint\":\"sha256:{}\",\"id\":\"k2\"}}", "a".repeat(64))).into_bytes(), "field `credential.id`: appears more than once"),
        // Fields with values the event does not allow.
        ("an unknown type", with("access.requested", "access.stolen").into_bytes(), "field `type`: unknown event type `access.stolen`; see docs/EVENTS.md"),
        ("an unknown kind", with("\"kind\":\"human\"}", "\"kind\":\"robot\"}").into_bytes(), "field `subject.kind`: unknown value `robot`, expected one of human, service_account, api_key, workload, bot, machine"),
        ("a missing field", with("\"grant_id\":\"g1\",", "").into_bytes(), "field `grant_id` is required"),
        ("a null required field", with("\"e1\"", "null").into_bytes(), "field `id` is required"),
        ("an empty field", with("\"e1\"", "\"\"").into_bytes(), "field `id` must not be empty"),
        ("an unreadable time", with("2026-01-01T00:00:00Z", "yesterday").into_bytes(), "field `time`: `yesterday` is not a valid time: expected RFC 3339 like 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00"),
        ("a time without offset", with("2026-01-01T00:00:00Z", "2026-01-01T00:00:00").into_bytes(), "field `time`: `2026-01-01T00:00:00` is not a valid time: RFC 3339 needs a UTC offset (Z or +hh:mm)"),
        ("an impossible time", with("2026-01-01T00:00:00Z", "2026-02-30T00:00:00Z").into_bytes(), "field `time`: `2026-02-30T00:00:00Z` is not a valid time: day is out of range"),
        ("a time before the window", with("2026-01-01T00:00:00Z", "1969-12-31T23:59:59Z").into_bytes(), "field `time`: `1969-12-31T23:59:59Z` is not a valid time: outside the window of event times, 1970-01-01T00:00:00Z (inclusive) to 2200-01-01T00:00:00Z (exclusive)"),
        ("a bad fingerprint", plus("\"credential\":{\"id\":\"k\",\"kind\":\"api_key\",\"fingerprint\":\"md5:abc\"}").into_bytes(), "field `credential.fingerprint`: expected `sha256:` and 64 hex digits, found `md5:abc`"),
        ("a control character", with("\"e1\"", "\"e\\u001b1\"").into_bytes(), "field `id`: contains the control character U+001B at byte 1"),
        ("a decision elsewhere", plus("\"decision\":\"keep\"").into_bytes(), "field `decision`: only `access.reviewed` carries a decision, not `access.requested`"),
        ("an attribute twice", plus("\"attributes\":{\"a\":1,\"a\":2}").into_bytes(), "field `attributes.a`: appears more than once"),
        // Secret material: only the length and SHA-256 of the input are kept.
        ("a secret member", plus("\"attributes\":{\"db_password\":\"hunter2\"}").into_bytes(), "secret material at `attributes.db_password`: secret values are never stored, send a sha256 fingerprint"),
        ("a private key block", plus("\"reason\":\"-----BEGIN PRIVATE KEY-----\"").into_bytes(), "secret material at `PEM private key block`: secret values are never stored, send a sha256 fingerprint"),
    ];
    for (what, input, want) in cases {
        assert_eq!(reason(&input).to_string(), want, "{what}");
    }
}

/// The words of every syntax problem and shape misfit: whatever the input, a stored `not_json`
/// or `wrong_type` message is one of these (or names an enumerated field's values).
fn owned_message(reason: &RejectReason) -> bool {
    const SYNTAX: [&str; 17] = [
        "unexpected end of input",
        "unexpected end of input in a string",
        "unexpected end of input in an object",
        "unexpected end of input in an array",
        "expected a value",
        "expected a member name in double quotes",
        "expected `:` after a member name",
        "expected `,` or `}`",
        "expected `,` or `]`",
        "expected `true`, `false` or `null`",
        "invalid number",
        "number out of range",
        "invalid escape",
        "unpaired surrogate in a \\u escape",
        "unescaped control character in a string",
        "trailing characters after the value",
        "nested more than 64 levels deep",
    ];
    const EXPECTED: [&str; 4] = [
        "a string",
        "a boolean",
        "an object",
        "a string, number or boolean",
    ];
    const FOUND: [&str; 6] = [
        "null",
        "a boolean",
        "a number",
        "a string",
        "an array",
        "an object",
    ];
    match reason {
        RejectReason::NotJson { message, .. } => SYNTAX.contains(&message.as_str()),
        RejectReason::WrongType { message, .. } => {
            message.starts_with("unknown value `")
                || EXPECTED.iter().any(|e| {
                    FOUND
                        .iter()
                        .any(|f| *message == format!("expected {e}, found {f}"))
                })
        }
        _ => true,
    }
}

proptest! {
    /// Bad input of any shape is refused in the project's words.
    #[test]
    fn refusals_use_only_the_projects_words(
        input in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "[ -~\\n]{0,80}".prop_map(String::into_bytes),
            (0..VALID.len(), "[\\[\\]{}:,\"\\\\a-z0-9 ]{1,4}").prop_map(|(at, s)| {
                let at = (0..=at).rev().find(|&i| VALID.is_char_boundary(i)).unwrap_or(0);
                format!("{}{s}{}", &VALID[..at], &VALID[at..]).into_bytes()
            }),
        ]
    ) {
        if let Err(r) = decode_event(&input) {
            prop_assert!(owned_message(&r.reason), "{:?}: {:?}", String::from_utf8_lossy(&input), r.reason);
        }
    }
}
