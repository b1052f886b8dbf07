//! Projections over a mixed ledger (events of every family, quarantined input, over several
//! replay chunks and episode groups): parallel replay against applying every entry in full on
//! one thread, and episodes told in grant id order. `mixed_ledger` is shared with other tests.

use super::Projections;
use super::episodes::EPISODE_GROUP;
use super::replay::REPLAY_CHUNK;
use crate::answers::QueryError;
use idledger_ledger::{Item, Ledger, LedgerReader, ReadError, ReadOnlyLedger, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;
use idledger_proto::view::EntryView;
use idledger_proto::{Seq, Timestamp};

/// Events of every family (identity events with owners and attributes, access episodes,
/// credentials), malformed input that is quarantined, over more than two replay chunks.
pub(crate) fn mixed_events(n: usize) -> Vec<Vec<u8>> {
    let kinds = [
        "identity.created",
        "access.requested",
        "access.approved",
        "access.granted",
        "credential.issued",
        "credential.rotated",
        "identity.disabled",
        "access.revoked",
        "credential.revoked",
        "not-json",
    ];
    (0..n)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let subject = format!("user{}@example.com", (i * 7) % 97);
            let grant = format!("grant-{}", i / 4);
            let credential = format!("key-{}", (i / 10) % 13);
            let body = match kind {
                "not-json" => return format!("{{broken {i}").into_bytes(),
                k if k.starts_with("identity.") => format!(
                    r#""subject":{{"id":"{subject}","kind":"service_account"}},"owner":"owner{i}@example.com","reason":"hr sync {i}","attributes":{{"application":"app{}","tier":{}}}"#,
                    i % 5,
                    i % 3
                ),
                k if k.starts_with("access.") => format!(
                    r#""subject":{{"id":"{subject}","kind":"human"}},"grant_id":"{grant}","resource":"db-{}:read","expires_at":"2026-03-0{}T17:00:00Z""#,
                    i % 4,
                    1 + i % 9
                ),
                _ => format!(
                    r#""subject":{{"id":"{subject}","kind":"api_key"}},"credential":{{"id":"{credential}","kind":"api_key","fingerprint":"sha256:{}"}},"expires_at":"2027-01-01T00:00:00Z""#,
                    format!("{:x}", i % 16).repeat(64)
                ),
            };
            format!(
                r#"{{"id":"evt-{i}","source":"test","type":"{kind}","time":"2026-03-01T{:02}:{:02}:00Z","actor":{{"id":"admin@example.com","kind":"human","mfa":true}},{body}}}"#,
                (i / 60) % 24,
                i % 60
            )
            .into_bytes()
        })
        .collect()
}

/// The reference: every entry decoded in full and applied on one thread, in order.
fn replay_by_views(reader: &LedgerReader<'_>) -> Projections {
    let mut p = Projections::default();
    reader
        .scan(Seq(0), |_, leaf| -> Result<(), ReadError> {
            let view = EntryView::decode(leaf).expect("leaf decodes");
            p.apply(&view)
        })
        .expect("scan");
    p
}

fn summary(p: &Projections) -> serde_json::Value {
    let mut grants: Vec<_> = p.grants.iter().collect();
    grants.sort();
    let mut changes: Vec<_> = p
        .identity_changes
        .iter()
        .map(|(id, c)| {
            let c: Vec<_> = c
                .iter()
                .map(|c| {
                    (
                        c.index,
                        c.time.0,
                        format!("{:?}", c.kind),
                        &c.actor,
                        &c.reason,
                    )
                })
                .collect();
            (id, c)
        })
        .collect();
    changes.sort_by(|a, b| a.0.cmp(b.0));
    serde_json::json!({
        "size": p.size,
        "events": p.events,
        "identities": p.identities_sorted(),
        "credentials": p.credentials_sorted(),
        "grants": grants,
        "identity_changes": changes,
        "quarantined": p.quarantined,
    })
}

/// A ledger of `mixed_events(n)`, appended in batches of 500.
pub(crate) fn mixed_ledger(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, Vec<Vec<u8>>) {
    let path = dir.join("ledger");
    let mut ledger =
        Ledger::init(&path, &dir.join("keys"), "test.idledger.local/replay").expect("init");
    let events = mixed_events(n);
    for (b, chunk) in events.chunks(500).enumerate() {
        let batch = chunk
            .iter()
            .enumerate()
            .map(|(i, raw)| Submission {
                origin: Origin::Local {
                    label: "test".into(),
                    line: (b * 500 + i) as u64,
                },
                item: match decode_event(raw) {
                    Ok(v) => Item::Event(v),
                    Err(r) => Item::Rejected(r),
                },
            })
            .collect();
        ledger.append(batch, &[]).expect("append");
    }
    (path, events)
}

#[test]
fn parallel_replay_equals_applying_every_entry_in_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, events) = mixed_ledger(dir.path(), 3 * REPLAY_CHUNK as usize + 123);
    let ro = ReadOnlyLedger::open(&path).expect("open");
    let reader = ro.reader();
    let fast = Projections::replay(&reader).expect("replay");
    let reference = replay_by_views(&reader);
    assert_eq!(reference.size, events.len() as u64 + 1);
    let broken = events.len() as u64 / 10;
    assert_eq!(
        serde_json::json!(reference.quarantined),
        serde_json::json!({ "not_json": broken })
    );
    assert_eq!(reference.events, events.len() as u64 - broken);
    assert!(reference.credentials.len() == 13 && reference.grant_count() > 300);
    assert_eq!(summary(&fast), summary(&reference));
}

#[test]
fn episodes_come_one_per_grant_in_grant_id_order_across_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = mixed_ledger(dir.path(), 3 * EPISODE_GROUP * 4 + 7);
    let ro = ReadOnlyLedger::open(&path).expect("open");
    let reader = ro.reader();
    let p = Projections::replay(&reader).expect("replay");
    assert!(p.grant_count() > 2 * EPISODE_GROUP);
    let mut expected: Vec<(&String, &Vec<u64>)> = p.grants.iter().collect();
    expected.sort();
    let mut told = Vec::new();
    p.for_each_episode(&reader, Timestamp(0), |e| {
        told.push((e.grant_id.clone(), e.entries.clone()));
        Ok(())
    })
    .expect("episodes");
    let expected: Vec<(String, Vec<u64>)> = expected
        .into_iter()
        .map(|(g, e)| (g.clone(), e.clone()))
        .collect();
    assert_eq!(told, expected);
    // A failing consumer stops the tellers and its error comes back.
    let mut seen = 0;
    let stopped = p.for_each_episode(&reader, Timestamp(0), |_| {
        seen += 1;
        if seen == EPISODE_GROUP + 3 {
            return Err(QueryError::Read(ReadError::Damaged("stop here".into())));
        }
        Ok(())
    });
    assert!(matches!(stopped, Err(QueryError::Read(ReadError::Damaged(m))) if m == "stop here"));
    assert_eq!(seen, EPISODE_GROUP + 3);
}
