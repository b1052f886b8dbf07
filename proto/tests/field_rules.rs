//! Table tests for two rules of docs/EVENTS.md that keep what is printed truthful and printable:
//! the characters string fields may hold (no control or bidirectional formatting character in
//! identifiers; free text may hold newlines and tabs), and the window event times lie in.

use idledger_proto::decode::decode_event;
use idledger_proto::rejection::RejectReason;

const VALID: &str = r#"{"id":"e1","source":"okta","type":"access.requested","time":"2026-01-01T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"a","kind":"human"},"grant_id":"g1","resource":"db:read"}"#;

/// `VALID` with `field` set to the JSON `value`; a dotted field sets a member of an object.
fn with(field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(VALID).expect("VALID is JSON");
    let value: serde_json::Value = serde_json::from_str(value).expect("test value is JSON");
    match field.split_once('.') {
        Some((object, member)) => {
            let o = v[object].as_object_mut();
            match o {
                Some(o) => {
                    o.insert(member.to_owned(), value);
                }
                None => v[object] = serde_json::json!({ member: value }),
            }
        }
        None => v[field] = value,
    }
    v.to_string()
}

fn invalid(field: &str, message: &str) -> Result<(), RejectReason> {
    Err(RejectReason::InvalidValue {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

fn outcome(json: &str) -> Result<(), RejectReason> {
    decode_event(json.as_bytes())
        .map(|_| ())
        .map_err(|r| r.reason)
}

const LF: &str = "contains the control character U+000A at byte 1";
const RLO: &str = "contains the bidirectional formatting character U+202E at byte 1";

/// One line per case: the field set, its JSON value, what validation says.
#[test]
#[rustfmt::skip]
fn identifiers_hold_no_control_or_bidirectional_characters() {
    let credential = |id: &str| {
        with("credential", &format!(r#"{{"id":{id},"kind":"api_key","fingerprint":"sha256:{}"}}"#, "a".repeat(64)))
            .replace("access.requested", "credential.issued")
    };
    let cases: Vec<(String, Result<(), RejectReason>)> = vec![
        (with("id", r#""a\nb""#), invalid("id", LF)),
        (with("source", r#""okta\u0000""#), invalid("source", "contains the control character U+0000 at byte 4")),
        (with("actor.id", r#""a\u202Eb""#), invalid("actor.id", RLO)),
        (with("subject.id", r#""a\tb""#), invalid("subject.id", "contains the control character U+0009 at byte 1")),
        (with("grant_id", r#""g\r1""#), invalid("grant_id", "contains the control character U+000D at byte 1")),
        (with("request_id", r#""é\u0085""#), invalid("request_id", "contains the control character U+0085 at byte 2")),
        (with("resource", r#""db\u2066:read""#), invalid("resource", "contains the bidirectional formatting character U+2066 at byte 2")),
        (with("ticket", r#""\u200eCHG-1""#), invalid("ticket", "contains the bidirectional formatting character U+200E at byte 0")),
        (with("policy", r#"{"id":"p\n"}"#), invalid("policy.id", LF)),
        (with("policy", r#"{"id":"p","version":"7\u001b[2K"}"#), invalid("policy.version", "contains the control character U+001B at byte 1")),
        (with("policy", r#"{"id":"p","hash":"s\u061Cha"}"#), invalid("policy.hash", "contains the bidirectional formatting character U+061C at byte 1")),
        (credential(r#""k\u007f""#), invalid("credential.id", "contains the control character U+007F at byte 1")),
        (with("owner", r#""b\u202eob""#), invalid("owner", RLO)),
        // An attribute key is quoted with the refused character written out.
        (with("attributes", r#"{"a\nb":1}"#), invalid("attributes.a<U+000A>b", "key contains the control character U+000A at byte 1")),
        (with("attributes", r#"{"t\u202Eam":"x"}"#), invalid("attributes.t<U+202E>am", "key contains the bidirectional formatting character U+202E at byte 1")),
        // Free text: newline and tab only.
        (with("reason", r#""line one\nline two\tend""#), Ok(())),
        (with("reason", r#""a\r\nb""#), invalid("reason", "contains the control character U+000D at byte 1")),
        (with("reason", r#""a\u202Eb""#), invalid("reason", RLO)),
        (with("attributes", r#"{"note":"one\ntwo\tthree"}"#), Ok(())),
        (with("attributes", r#"{"note":"\u001b[31mred"}"#), invalid("attributes.note", "contains the control character U+001B at byte 0")),
        (with("attributes", r#"{"note":"x\u2069"}"#), invalid("attributes.note", "contains the bidirectional formatting character U+2069 at byte 1")),
        // Printable text in any script is fine, and so are characters next to the refused ones.
        (with("id", r#""évt-東京-\u00a0\u200d\u2028""#), Ok(())),
    ];
    for (json, want) in cases {
        assert_eq!(outcome(&json), want, "{json}");
    }
}

/// One line per case: the field, the time, accepted or the rejection's message.
#[test]
#[rustfmt::skip]
fn event_times_lie_in_the_window() {
    let window = "outside the window of event times, 1970-01-01T00:00:00Z (inclusive) to 2200-01-01T00:00:00Z (exclusive)";
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("time", "1970-01-01T00:00:00Z", None),
        ("time", "1969-12-31T23:59:59.999999999Z", Some(window)),
        ("time", "1970-01-01T00:30:00+01:00", Some(window)),
        ("time", "1700-06-01T00:00:00Z", Some(window)),
        ("time", "2199-12-31T23:59:59.999999999Z", None),
        ("time", "2199-12-31T23:30:00-01:00", Some(window)),
        ("time", "2200-01-01T00:00:00Z", Some(window)),
        ("time", "2261-01-01T00:00:00Z", Some(window)),
        ("expires_at", "1970-01-01T00:00:00Z", None),
        ("expires_at", "1969-12-31T23:59:59Z", Some(window)),
        ("expires_at", "2199-12-31T23:59:59Z", None),
        ("expires_at", "2200-01-01T00:00:00Z", Some(window)),
        // Beyond what a timestamp can hold at all: the parser's own refusal.
        ("time", "9999-01-01T00:00:00Z", Some("year is out of range")),
    ];
    for (field, time, want) in cases {
        let json = with(field, &format!("\"{time}\""));
        let want = match want {
            None => Ok(()),
            Some(message) => Err(RejectReason::InvalidTime { field: field.into(), found: time.into(), message: message.into() }),
        };
        assert_eq!(outcome(&json), want, "{field} {time}");
    }
}

/// docs/event.schema.json states the character rule as a pattern on every string field, built
/// from the same sets the code refuses (Cc, and `characters::BIDI_CONTROLS`), and names the
/// window of event times.
#[test]
fn the_schema_states_the_character_rule() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/event.schema.json")).expect("schema is JSON");
    let bidi: String = idledger_proto::characters::BIDI_CONTROLS
        .iter()
        .map(|c| format!("\\u{:04x}", u32::from(*c)))
        .collect();
    // The code's set, as a character class: consecutive characters as one range.
    let bidi = bidi
        .replace("\\u202a\\u202b\\u202c\\u202d\\u202e", "\\u202a-\\u202e")
        .replace("\\u2066\\u2067\\u2068\\u2069", "\\u2066-\\u2069");
    let identifier = format!("^[^\\u0000-\\u001f\\u007f-\\u009f{bidi}]*$");
    let free_text = format!("^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f{bidi}]*$");
    let p = &schema["properties"];
    let identifiers = [
        &p["id"],
        &p["source"],
        &p["grant_id"],
        &p["request_id"],
        &p["resource"],
        &p["ticket"],
        &p["owner"],
        &p["actor"]["properties"]["id"],
        &p["subject"]["properties"]["id"],
        &p["policy"]["properties"]["id"],
        &p["policy"]["properties"]["version"],
        &p["policy"]["properties"]["hash"],
        &p["credential"]["properties"]["id"],
        &p["attributes"]["propertyNames"],
    ];
    for field in identifiers {
        assert_eq!(field["pattern"], identifier.as_str(), "{field}");
    }
    for field in [&p["reason"], &p["attributes"]["additionalProperties"]] {
        assert_eq!(field["pattern"], free_text.as_str(), "{field}");
    }
    // The window of event times is in the descriptions (the patterns state its years and the
    // calendar; proto/tests/schema.rs checks them by validating).
    use idledger_proto::time::{EARLIEST_EVENT_TIME, EVENT_TIME_END};
    for field in [&p["time"], &p["expires_at"]] {
        let description = field["description"].as_str().expect("a description");
        for end in [EARLIEST_EVENT_TIME, EVENT_TIME_END] {
            assert!(description.contains(&end.to_rfc3339()), "{description}");
        }
    }
}
