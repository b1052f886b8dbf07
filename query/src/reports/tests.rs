//! Reports over hostile times and parameters (events from 1700 and 2200, `now` at both ends of
//! what a `Timestamp` holds, age limits at and past their bounds), each with the answer it must
//! give; and paging that loses and repeats nothing.

use super::*;
use crate::projections::Projections;
use idledger_ledger::{Item as Submitted, Ledger, ReadOnlyLedger, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// A ledger holding `lines` (JSON events), appended in one batch. An event whose `time` lies
/// outside the window validation now allows (a ledger written before it existed, or by another
/// tool) is appended with a time inside it and then given its own time in the stored leaf: the
/// reports must answer over such entries, which stay in a ledger for ever.
pub(crate) fn ledger_of(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("ledger");
    let mut ledger =
        Ledger::init(&path, &dir.join("keys"), "test.idledger.local/reports").expect("init");
    let mut restore: Vec<(usize, idledger_proto::Timestamp)> = Vec::new();
    let batch = lines
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let item = match decode_event(raw.as_bytes()) {
                Ok(v) => Submitted::Event(v),
                Err(r) => match out_of_window_time(raw) {
                    Some((time, inside)) => {
                        restore.push((i, time));
                        Submitted::Event(decode_event(inside.as_bytes()).expect("valid inside"))
                    }
                    None => Submitted::Rejected(r),
                },
            };
            Submission {
                origin: Origin::Local {
                    label: "test".into(),
                    line: i as u64,
                },
                item,
            }
        })
        .collect();
    let report = ledger.append(batch, &[]).expect("append");
    drop(ledger);
    let db = idledger_ledger::store::open_primary(&path.join("db")).expect("open raw");
    let entries = db
        .cf_handle(idledger_ledger::store::CF_ENTRIES)
        .expect("entries");
    for (line, time) in restore {
        let idledger_ledger::Outcome::Appended(seq) = report.outcomes[line] else {
            panic!("line {line} was appended")
        };
        let key = idledger_ledger::store::seq_key(seq.0);
        let leaf = db.get_cf(&entries, key).expect("read").expect("stored");
        let mut entry = idledger_proto::Entry::decode(&leaf).expect("decodes");
        if let idledger_proto::Body::Event(e) = &mut entry.body {
            e.event.time = time;
        }
        db.put_cf(&entries, key, entry.encode()).expect("write");
    }
    db.flush_cf(&entries).expect("flush");
    path
}

/// The time of an event outside the window, and the event with a time inside it instead.
fn out_of_window_time(raw: &str) -> Option<(idledger_proto::Timestamp, String)> {
    let mut v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let time = idledger_proto::Timestamp::parse_rfc3339(v["time"].as_str()?).ok()?;
    if time.is_event_time() {
        return None;
    }
    v["time"] = serde_json::json!("2000-01-01T00:00:00Z");
    Some((time, v.to_string()))
}

fn credential_issued(n: usize, id: &str, subject: &str, time: &str) -> String {
    format!(
        r#"{{"id":"c{n}","source":"vault","type":"credential.issued","time":"{time}","actor":{{"id":"ops","kind":"human"}},"subject":{{"id":"{subject}","kind":"api_key"}},"credential":{{"id":"{id}","kind":"api_key","fingerprint":"sha256:{}"}}}}"#,
        "ab".repeat(32)
    )
}

fn access(n: usize, kind: &str, grant: &str, time: &str) -> String {
    format!(
        r#"{{"id":"a{n}","source":"portal","type":"access.{kind}","time":"{time}","actor":{{"id":"bob","kind":"human"}},"subject":{{"id":"alice","kind":"human"}},"grant_id":"{grant}","resource":"db:read"}}"#
    )
}

/// Credentials issued in 1700, at the epoch and in 2026; a grant requested in 2200 and granted
/// in 1700 (its lead time is 500 years, negative).
pub(crate) fn hostile_times() -> Vec<String> {
    vec![
        credential_issued(1, "key-1700", "svc-old", "1700-01-01T00:00:00Z"),
        credential_issued(2, "key-1970", "svc-epoch", "1970-01-01T00:00:00Z"),
        credential_issued(3, "key-2026", "svc-new", "2026-05-01T00:00:00Z"),
        access(4, "requested", "g-backwards", "2200-01-01T00:00:00Z"),
        access(5, "granted", "g-backwards", "1700-01-01T00:00:00Z"),
    ]
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid time")
}

/// What a report says, in short: each group's key and figures, and each item's kind, id and
/// detail.
fn summary(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for g in &r.groups {
        let figures: Vec<String> = g.figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("[{}] {}", g.key, figures.join(" ")));
        for i in &g.items {
            out.push(format!("{} {}: {}", i.kind, i.id, i.detail));
        }
    }
    out
}

/// A report's summary, or what its error says.
type Want = Result<Vec<&'static str>, &'static str>;

/// The reports over `hostile_times()`, each checked for the answer it must give.
struct HostileLedger {
    ledger: ReadOnlyLedger,
    projections: Projections,
    /// Removed last: fields drop in order, and the ledger is closed before its directory goes.
    _dir: tempfile::TempDir,
}

impl HostileLedger {
    fn new() -> HostileLedger {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = ledger_of(dir.path(), &hostile_times());
        let ledger = ReadOnlyLedger::open(&path).expect("open");
        let projections = Projections::replay(&ledger.reader()).expect("replay");
        HostileLedger {
            ledger,
            projections,
            _dir: dir,
        }
    }

    /// Checks each case: (report, now, max_age_days, its summary or the error's message).
    fn check(&self, cases: Vec<(ReportName, Timestamp, u64, Want)>) {
        let reader = self.ledger.reader();
        for (name, now, max_age, want) in cases {
            let opts = ReportOptions {
                now,
                max_credential_age_days: max_age,
                group_by: None,
            };
            let got = report(&self.projections, &reader, name, &opts);
            let label = format!("{} at {} with max_age_days={max_age}", name.as_str(), now.0);
            match (got, want) {
                (Ok(r), Ok(lines)) => assert_eq!(summary(&r), lines, "{label}"),
                (Err(QueryError::BadRequest(m)), Err(says)) => {
                    assert!(m.contains(says), "{label}: {m}")
                }
                (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
            }
        }
    }
}

/// The time every case without a reason to pick another is judged at.
fn june_2026() -> Timestamp {
    at("2026-06-01T00:00:00Z")
}

#[test]
fn credential_ages_are_counted_across_centuries_and_at_both_ends_of_time() {
    use ReportName::Rotation;
    HostileLedger::new().check(vec![
        // 326 years back: more than an i64 of nanoseconds holds.
        (
            Rotation,
            june_2026(),
            90,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=2 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 119220 days (limit 90)",
                "not_rotated key-1970: api_key of svc-epoch unchanged for 20605 days (limit 90)",
            ]),
        ),
        // The largest limit still flags a credential older than a century.
        (
            Rotation,
            june_2026(),
            36_500,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=1 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 119220 days (limit 36500)",
            ]),
        ),
        // `now` at the last instant a Timestamp holds.
        (
            Rotation,
            Timestamp(i64::MAX),
            36_500,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=3 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 205366 days (limit 36500)",
                "not_rotated key-1970: api_key of svc-epoch unchanged for 106751 days (limit 36500)",
                "not_rotated key-2026: api_key of svc-new unchanged for 86177 days (limit 36500)",
            ]),
        ),
        // `now` at the first instant: every credential is from its future, none is old.
        (
            Rotation,
            Timestamp(i64::MIN),
            1,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=0 past_expiry_not_revoked=0",
            ]),
        ),
        // One second before the epoch: the epoch's key is -1 s old.
        (
            Rotation,
            at("1969-12-31T23:59:59Z"),
            1,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=1 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 98614 days (limit 1)",
            ]),
        ),
    ]);
}

#[test]
fn exactly_the_age_limit_is_not_over_it_and_a_nanosecond_more_is() {
    use ReportName::Rotation;
    HostileLedger::new().check(vec![
        (
            Rotation,
            at("1970-01-02T00:00:00Z"),
            1,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=1 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 98616 days (limit 1)",
            ]),
        ),
        (
            Rotation,
            at("1970-01-02T00:00:00.000000001Z"),
            1,
            Ok(vec![
                "[all] credentials=3 live=3 over_max_age=2 past_expiry_not_revoked=0",
                "not_rotated key-1700: api_key of svc-old unchanged for 98616 days (limit 1)",
                "not_rotated key-1970: api_key of svc-epoch unchanged for 1 days (limit 1)",
            ]),
        ),
    ]);
}

#[test]
fn access_reports_answer_over_times_centuries_apart() {
    HostileLedger::new().check(vec![
        // Requested in 2200, granted in 1700: a lead time of minus 500 years, exactly.
        (
            ReportName::LeadTime,
            Timestamp(i64::MAX),
            90,
            Ok(vec![
                "[all] grants=1 max_seconds=-15778454400 p50_seconds=-15778454400 p90_seconds=-15778454400",
            ]),
        ),
        (
            ReportName::Drift,
            Timestamp(i64::MIN),
            90,
            Ok(vec![
                "[all] granted_without_approval=1 non_human_without_owner=3",
                "granted_without_approval g-backwards: alice on db:read",
                "non_human_without_owner svc-epoch: api_key has no owner",
                "non_human_without_owner svc-new: api_key has no owner",
                "non_human_without_owner svc-old: api_key has no owner",
            ]),
        ),
        (
            ReportName::Approvals,
            Timestamp(i64::MAX),
            90,
            Ok(vec![
                "[all] approvals=0 approvals_per_grant=0 grants=1 self_approvals=0 without_approval=1",
            ]),
        ),
        (ReportName::Exceptions, Timestamp(i64::MIN), 90, Ok(vec![])),
    ]);
}

#[test]
fn age_limits_outside_their_bounds_are_refused_naming_the_bounds() {
    let refused = |name, max_age, says| (name, june_2026(), max_age, Err(says));
    HostileLedger::new().check(vec![
        refused(ReportName::Rotation, 0, "between 1 and 36500 days, found 0"),
        refused(
            ReportName::Rotation,
            36_501,
            "between 1 and 36500 days, found 36501",
        ),
        refused(
            ReportName::Rotation,
            200_000,
            "between 1 and 36500 days, found 200000",
        ),
        refused(
            ReportName::Rotation,
            u64::MAX,
            "between 1 and 36500 days, found 18446744073709551615",
        ),
        // Every report is refused the same way, not only rotation.
        refused(ReportName::Drift, 0, "between 1 and 36500 days, found 0"),
    ]);
}

fn item(n: usize) -> Item {
    Item {
        kind: "finding",
        id: format!("item-{n}"),
        detail: String::new(),
        index: Some(n as u64),
    }
}

/// A report whose groups hold these many items each.
fn report_of(sizes: &[usize]) -> Report {
    let mut n = 0;
    let groups = sizes
        .iter()
        .enumerate()
        .map(|(g, &size)| Group {
            key: format!("group-{g:03}"),
            figures: BTreeMap::from([("size", size as f64)]),
            items: (0..size)
                .map(|_| {
                    n += 1;
                    item(n)
                })
                .collect(),
        })
        .collect();
    Report {
        name: ReportName::Drift,
        now: Timestamp(0),
        group_by: None,
        groups,
    }
}

proptest! {
    /// Following next cursors from the first page gives every item once, in order, and every
    /// group (with its figures) at least once; each page holds at most `limit` rows.
    #[test]
    fn pages_followed_by_their_cursors_give_every_row_once(
        sizes in proptest::collection::vec(0usize..7, 0..12),
        limit in 1u64..9,
    ) {
        let whole = report_of(&sizes);
        let rows = whole.rows();
        let mut items = Vec::new();
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        let mut pages = 0;
        loop {
            let page = whole.clone().page(cursor, limit);
            pages += 1;
            prop_assert_eq!(page.page.rows, rows);
            prop_assert_eq!(page.page.cursor.clone(), cursor.to_string());
            let on_page: u64 = page.groups.iter().map(|g| (g.items.len() as u64).max(1)).sum();
            prop_assert!(on_page <= limit);
            for g in &page.groups {
                let original = whole.groups.iter().find(|o| o.key == g.key).expect("a group of the report");
                prop_assert_eq!(&g.figures, &original.figures);
                if keys.last() != Some(&g.key) {
                    keys.push(g.key.clone());
                }
                items.extend(g.items.iter().map(|i| i.id.clone()));
            }
            match page.page.next_cursor {
                Some(next) => cursor = next.parse().expect("a decimal cursor"),
                None => break,
            }
        }
        let all_items: Vec<String> = whole.groups.iter().flat_map(|g| g.items.iter().map(|i| i.id.clone())).collect();
        let all_keys: Vec<String> = whole.groups.iter().map(|g| g.key.clone()).collect();
        prop_assert_eq!(items, all_items);
        prop_assert_eq!(keys, all_keys);
        prop_assert_eq!(pages as u64, rows.div_ceil(limit).max(1));
    }
}

#[test]
fn a_cursor_at_or_past_the_end_gives_an_empty_last_page() {
    // Rows: two items of group 0, group 1 (no items), one item of group 2.
    for (cursor, limit) in [(4, 10), (5, 1), (u64::MAX, u64::MAX)] {
        let page = report_of(&[2, 0, 1]).page(cursor, limit);
        assert_eq!(
            (page.groups, page.page.next_cursor, page.page.rows),
            (vec![], None, 4),
            "cursor {cursor}, limit {limit}"
        );
    }
    let last = report_of(&[2, 0, 1]).page(3, u64::MAX);
    assert_eq!(
        (
            last.groups.len(),
            last.groups[0].key.as_str(),
            last.groups[0].items.len()
        ),
        (1, "group-002", 1)
    );
    let empty_group = report_of(&[2, 0, 1]).page(2, 1);
    assert_eq!(
        (
            empty_group.groups[0].key.as_str(),
            empty_group.page.next_cursor
        ),
        ("group-001", Some("3".to_owned()))
    );
}
