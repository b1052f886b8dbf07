//! `idledger report` over hostile times and limits: a credential from 1700 judged in 2026 or in
//! 1700, a lead time of minus 500 years, and age limits outside 1 to 36500 days, each with the
//! answer or the error (naming the bound) it must give.

mod attacker;
mod common;

use common::*;

fn events() -> String {
    [
        format!(
            r#"{{"id":"k1","source":"vault","type":"credential.issued","time":"2001-01-01T00:00:00Z","actor":{{"id":"ops","kind":"human"}},"subject":{{"id":"svc-old","kind":"api_key"}},"credential":{{"id":"key-1700","kind":"api_key","fingerprint":"sha256:{}"}}}}"#,
            "ab".repeat(32)
        ),
        r#"{"id":"a1","source":"portal","type":"access.requested","time":"2002-01-01T00:00:00Z","actor":{"id":"bob","kind":"human"},"subject":{"id":"alice","kind":"human"},"grant_id":"g-1","resource":"db:read"}"#.to_owned(),
        r#"{"id":"a2","source":"portal","type":"access.granted","time":"2001-01-01T00:00:00Z","actor":{"id":"bob","kind":"human"},"subject":{"id":"alice","kind":"human"},"grant_id":"g-1","resource":"db:read"}"#.to_owned(),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn hostile_times_and_limits_through_the_cli() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    init(&dir);
    ok(&["append", "--data", d, "-"], Some(&events()));
    // Validation now refuses such times; a ledger written before it (or by another tool) holds
    // them for ever, and its reports must answer: the stored events get their hostile times.
    {
        let files = attacker::Files::open(&dir);
        let entries = files
            .entries()
            .into_iter()
            .map(|mut e| {
                if let idledger_proto::Body::Event(ev) = &mut e.body {
                    let year = if ev.event.id == "a1" { 2200 } else { 1700 };
                    ev.event.time = idledger_proto::Timestamp::parse_rfc3339(&format!(
                        "{year}-01-01T00:00:00Z"
                    ))
                    .expect("time");
                }
                e
            })
            .collect();
        files.rewrite(entries);
    }
    // (arguments after `report --data DIR`, Ok(what stdout holds) or Err(what stderr says))
    let cases: Vec<(Vec<&str>, Result<&str, &str>)> = vec![
        (
            vec![
                "rotation",
                "--now",
                "2026-06-01T00:00:00Z",
                "--max-age-days",
                "36500",
            ],
            Ok("api_key of svc-old unchanged for 119220 days (limit 36500)"),
        ),
        (
            vec![
                "rotation",
                "--now",
                "1700-01-01T00:00:00Z",
                "--max-age-days",
                "1",
            ],
            Ok("over_max_age=0"),
        ),
        (
            vec!["lead-time", "--now", "2026-06-01T00:00:00Z", "--json"],
            Ok("\"p50_seconds\": -15778454400.0"),
        ),
        (
            vec!["rotation", "--max-age-days", "0"],
            Err("must be between 1 and 36500 days, found 0"),
        ),
        (
            vec!["rotation", "--max-age-days", "36501"],
            Err("must be between 1 and 36500 days, found 36501"),
        ),
        (
            vec!["rotation", "--max-age-days", "200000"],
            Err("must be between 1 and 36500 days, found 200000"),
        ),
        (
            vec!["drift", "--max-age-days", "18446744073709551615"],
            Err("must be between 1 and 36500 days, found 18446744073709551615"),
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["report", "--data", d];
        args.extend(extra.iter().copied());
        let o = run(&args, None);
        match want {
            Ok(says) => {
                assert!(o.status.success(), "{args:?}: {}", stderr(&o));
                assert!(stdout(&o).contains(says), "{args:?}: {}", stdout(&o));
            }
            Err(says) => {
                assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
                assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
                assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
            }
        }
    }
}
