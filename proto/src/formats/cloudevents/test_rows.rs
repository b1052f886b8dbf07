//! The CloudEvents test tables: one row per message mapped, with the fixture it reads, the
//! document it was written from and the envelope and drafts expected, and one case per
//! structured-mode quarantine reason.

use super::*;

/// One message per row: the fixture, the document it was written from, the pointer and
/// envelope of each event, and the bare record whose drafts they must equal.
pub(super) struct Row {
    pub(super) fixture: &'static str,
    pub(super) payload: &'static str,
    pub(super) headers: &'static [(&'static str, &'static [u8])],
    pub(super) cite: &'static str,
    pub(super) pointers: &'static [&'static str],
    pub(super) envelope: Envelope,
    pub(super) bare: Vec<Draft>,
}

pub(super) fn rows() -> Vec<Row> {
    let stream = "https://github.com/enterprises/octo-corp/audit-log-stream";
    let page = include_str!("../../../tests/fixtures/formats/github/rest_api_page.json");
    vec![
        Row {
            fixture: "structured_github",
            payload: include_str!(
                "../../../tests/fixtures/formats/cloudevents/structured_github.json"
            ),
            headers: &[],
            cite: JSON_FORMAT,
            pointers: &["/data"],
            envelope: envelope(
                "5b1c7c9e-3f4a-4d8e-9a51-2f0c1e6d7a10",
                stream,
                "com.github.audit.org.add_member",
                Some("2026-01-01T09:00:01Z"),
            ),
            bare: bare(GITHUB_RECORDS[0]),
        },
        Row {
            fixture: "structured_base64_github",
            payload: include_str!(
                "../../../tests/fixtures/formats/cloudevents/structured_base64_github.json"
            ),
            headers: &[],
            cite: JSON_FORMAT,
            pointers: &["/data"],
            envelope: envelope(
                "8d2e4f60-1a3b-4c5d-8e7f-901a2b3c4d5e",
                stream,
                "com.github.audit.team.add_member",
                None,
            ),
            bare: bare(GITHUB_RECORDS[1]),
        },
        Row {
            fixture: "structured_page_github",
            payload: include_str!(
                "../../../tests/fixtures/formats/cloudevents/structured_page_github.json"
            ),
            headers: &[],
            cite: JSON_FORMAT,
            pointers: &["/data/0"],
            envelope: envelope(
                "c0ffee00-0000-4000-8000-000000000001",
                "https://github.com/orgs/octo-org/audit-log",
                "com.github.audit.page",
                None,
            ),
            bare: bare(page),
        },
        Row {
            fixture: "binary_payload_github",
            payload: include_str!(
                "../../../tests/fixtures/formats/cloudevents/binary_payload_github.json"
            ),
            headers: &[
                ("ce_specversion", b"1.0"),
                ("ce_id", b"e2f0a6b4-7c1d-4e9f-a3b5-6c7d8e9f0a1b"),
                ("ce_source", b"https://github.com/orgs/octo-org"),
                (
                    "ce_type",
                    b"com.github.audit.personal_access_token.request_created",
                ),
                ("ce_time", b"2026-01-01T17:00:00Z"),
                ("content-type", b"application/json; charset=utf-8"),
            ],
            cite: KAFKA_BINDING,
            pointers: &[""],
            envelope: envelope(
                "e2f0a6b4-7c1d-4e9f-a3b5-6c7d8e9f0a1b",
                "https://github.com/orgs/octo-org",
                "com.github.audit.personal_access_token.request_created",
                Some("2026-01-01T17:00:00Z"),
            ),
            bare: bare(GITHUB_RECORDS[2]),
        },
    ]
}

/// One case per structured-mode quarantine reason: the CloudEvent, and the pointer, field and
/// message the reason must give.
pub(super) fn structured_quarantine_rows() -> Vec<(Value, &'static str, &'static str, &'static str)>
{
    let missing = "required, absent or null";
    let unrouted =
        include_str!("../../../tests/fixtures/formats/cloudevents/structured_unrouted.json");
    let old =
        include_str!("../../../tests/fixtures/formats/cloudevents/structured_specversion_03.json");
    vec![
        (
            serde_json::from_str(unrouted).expect("fixtures are JSON"),
            "",
            "/type",
            "no route matches type `com.example.hr.employee.hired`",
        ),
        (
            ce(json!({"type": "org.example.x", "dataschema": "https://other.example.com/s"})),
            "",
            "/type",
            "no route matches type `org.example.x` or dataschema `https://other.example.com/s`",
        ),
        (
            serde_json::from_str(old).expect("fixtures are JSON"),
            "",
            "/specversion",
            "expected 1.x (CloudEvents 1.0), found `0.3`",
        ),
        (
            ce(json!({"specversion": "1."})),
            "",
            "/specversion",
            "expected 1.x (CloudEvents 1.0), found `1.`",
        ),
        (
            ce(json!({"specversion": 1.0})),
            "",
            "/specversion",
            "expected a string, found a number",
        ),
        (
            ce(json!({"specversion": null})),
            "",
            "/specversion",
            missing,
        ),
        (ce(json!({"id": null})), "", "/id", missing),
        (ce(json!({"id": ""})), "", "/id", "empty, expected text"),
        (ce(json!({"source": null})), "", "/source", missing),
        (ce(json!({"type": null})), "", "/type", missing),
        (
            ce(json!({"type": ["a"]})),
            "",
            "/type",
            "expected a string, found an array",
        ),
        (
            ce(json!({"time": "tomorrow"})),
            "",
            "/time",
            "not an RFC 3339 time: expected RFC 3339 like 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00",
        ),
        (
            ce(json!({"dataschema": 5})),
            "",
            "/dataschema",
            "expected a string, found a number",
        ),
        (
            ce(json!({"datacontenttype": "application/xml"})),
            "",
            "/datacontenttype",
            "data of media type `application/xml` cannot be read; expected JSON",
        ),
        (ce(json!({"data": null})), "", "/data", missing),
        (
            ce(json!({"data_base64": "e30="})),
            "",
            "/data_base64",
            "present together with data; a CloudEvent has one or the other",
        ),
        (
            ce(json!({"data": null, "data_base64": "%%%"})),
            "",
            "/data_base64",
            "not base64",
        ),
        (
            ce(json!({"data": null, "data_base64": 7})),
            "",
            "/data_base64",
            "expected a string, found a number",
        ),
        (
            ce(json!({"data": null, "data_base64": "bm90IGpzb24="})),
            "",
            "/data_base64",
            "the data is not JSON (line 1, column 2)",
        ),
        // The routed format's own quarantine, placed under `/data`.
        (
            ce(
                json!({"data": {"action": "org.add_member", "_document_id": "d", "@timestamp": 1767258000000_i64,
                            "actor": "a", "org": "o"}}),
            ),
            "/data",
            "/user",
            missing,
        ),
        // The routed format's refusal of the whole data.
        (
            ce(json!({"data": "org.add_member"})),
            "/data",
            "",
            "expected an audit log event (an object) or an array of them, found a string",
        ),
    ]
}
