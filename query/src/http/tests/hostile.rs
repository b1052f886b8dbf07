//! Hostile report parameters through HTTP, each with the status and answer it must get; report
//! pages followed by their cursors.

use super::*;
use crate::reports::tests::hostile_times;

/// The items of a report answer, as `kind id: detail`.
fn items(v: &serde_json::Value) -> Vec<String> {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["items"].as_array().expect("items").iter())
        .map(|i| format!("{} {}: {}", i["kind"], i["id"], i["detail"]).replace('"', ""))
        .collect()
}

/// The items of a 200, or what the error says.
type Want = Result<Vec<String>, &'static str>;

#[test]
fn hostile_report_parameters_get_a_4xx_or_an_exact_answer() {
    let server = TestServer::start(&hostile_times(), Limits::default());
    let rotation = "/v1/reports/rotation?now=2026-06-01T00:00:00Z&max_age_days=";
    let old_key = |days: u64, limit: u64| {
        format!(
            "not_rotated key-1700: api_key of svc-old unchanged for {days} days (limit {limit})"
        )
    };
    // (path and query, status, the items of a 200 or what the error says)
    let cases: Vec<(String, u16, Want)> = vec![
        // Found by hand: 500 with the panic text before.
        (
            format!("{rotation}33554432"),
            400,
            Err("between 1 and 36500, found `33554432`"),
        ),
        (
            format!("{rotation}0"),
            400,
            Err("between 1 and 36500, found `0`"),
        ),
        (format!("{rotation}36501"), 400, Err("between 1 and 36500")),
        (format!("{rotation}200000"), 400, Err("between 1 and 36500")),
        // Wrapped to a negative limit before, flagging every credential.
        (
            format!("{rotation}9223372036854775808"),
            400,
            Err("between 1 and 36500"),
        ),
        (
            format!("{rotation}18446744073709551615"),
            400,
            Err("between 1 and 36500"),
        ),
        (
            format!("{rotation}18446744073709551616"),
            400,
            Err("between 1 and 36500"),
        ),
        (format!("{rotation}-1"), 400, Err("between 1 and 36500")),
        (
            format!("{rotation}36500"),
            200,
            Ok(vec![old_key(119_220, 36_500)]),
        ),
        // `now` before 1734 overflowed against a credential from 2026 before.
        (
            "/v1/reports/rotation?now=1700-01-01T00:00:00Z&max_age_days=1".to_owned(),
            200,
            Ok(vec![]),
        ),
        (
            "/v1/reports/rotation?now=1678-01-01T00:00:00Z".to_owned(),
            200,
            Ok(vec![]),
        ),
        (
            "/v1/reports/rotation?now=2261-12-31T23:59:59Z&max_age_days=36500".to_owned(),
            200,
            Ok(vec![
                old_key(205_265, 36_500),
                "not_rotated key-1970: api_key of svc-epoch unchanged for 106650 days (limit 36500)"
                    .to_owned(),
                "not_rotated key-2026: api_key of svc-new unchanged for 86076 days (limit 36500)"
                    .to_owned(),
            ]),
        ),
        (
            "/v1/reports/rotation?now=1677-12-31T23:59:59Z".to_owned(),
            400,
            Err("in the years 1678 to 2261"),
        ),
        (
            "/v1/reports/rotation?now=2262-01-01T00:00:00Z".to_owned(),
            400,
            Err("in the years 1678 to 2261"),
        ),
        // A lead time of minus 500 years.
        ("/v1/reports/lead-time".to_owned(), 200, Ok(vec![])),
        (
            "/v1/reports/drift?limit=0".to_owned(),
            400,
            Err("between 1 and 10000"),
        ),
        (
            "/v1/reports/drift?limit=10001".to_owned(),
            400,
            Err("between 1 and 10000"),
        ),
        (
            "/v1/reports/drift?cursor=-1".to_owned(),
            400,
            Err("`cursor` must be"),
        ),
        (
            "/v1/reports/drift?group_by=".to_owned(),
            400,
            Err("1 to 1024 characters"),
        ),
        ("/v1/reports/nope".to_owned(), 404, Err("no report `nope`")),
    ];
    for (path, status, want) in cases {
        let reply = server.get(&path, Some(AUDITOR));
        assert_eq!(reply.status, status, "GET {path}: {}", reply.body);
        let v = reply.json();
        match want {
            Ok(want) => assert_eq!(items(&v), want, "GET {path}"),
            Err(says) => {
                let message = v["error"].as_str().unwrap_or_default();
                assert!(message.contains(says), "GET {path}: {message}");
            }
        }
    }
    let lead = server.get("/v1/reports/lead-time", Some(AUDITOR)).json();
    assert_eq!(
        lead["groups"][0]["figures"]["p50_seconds"],
        json!(-15_778_454_400.0)
    );
}

#[test]
fn report_pages_followed_by_their_cursors_give_the_whole_report() {
    let server = TestServer::start(&hostile_times(), Limits::default());
    let whole = server
        .get("/v1/reports/drift?now=2026-06-01T00:00:00Z", Some(AUDITOR))
        .json();
    assert_eq!(
        whole["page"],
        json!({ "cursor": "0", "limit": 1000, "next_cursor": null, "rows": 4 })
    );
    let mut cursor = "0".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = server
            .get(
                &format!("/v1/reports/drift?now=2026-06-01T00:00:00Z&limit=3&cursor={cursor}"),
                Some(AUDITOR),
            )
            .json();
        pages.extend(items(&page));
        match page["page"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(cursor, "3", "two pages: 3 rows, then 1");
    assert_eq!(pages, items(&whole));
}
