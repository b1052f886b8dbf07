//! Verification from a trusted checkpoint forward (`FsckOptions::from_trusted`): a clean ledger
//! with a key rotation after the trusted checkpoint verifies walking only the new entries, and
//! each rewrite an attacker without the key could make after, at or across the trusted
//! checkpoint is found, with its class and index. The cases are data.

use idledger_ledger::store::{self, CF_CHECKPOINTS, CF_ENTRIES, CF_META, CF_TILES};
use idledger_ledger::{
    FailureClass, FsckOptions, FsckReport, Item, Ledger, Position, ReadOnlyLedger, Submission,
    Trust, fsck,
};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;
use std::path::{Path, PathBuf};

fn keys_for(dir: &Path) -> PathBuf {
    dir.with_extension("keys")
}

/// Appends `n` events about a few subjects and grants (and a rejection now and then), in
/// batches of 7, each with its own checkpoint.
fn fill(ledger: &mut Ledger, from: usize, n: usize) {
    let items: Vec<Submission> = (from..from + n)
        .map(|k| {
            let item = if k % 11 == 5 {
                Item::Rejected(decode_event(b"not json").expect_err("rejected"))
            } else {
                let json = format!(
                    r#"{{"id":"e{k}","source":"test","type":"access.requested","time":"2026-01-01T00:00:00Z","actor":{{"id":"user{s}","kind":"human"}},"subject":{{"id":"user{s}","kind":"human"}},"grant_id":"g{g}","resource":"db:{g}","reason":"number {k}"}}"#,
                    s = k % 4,
                    g = k % 6
                );
                Item::Event(decode_event(json.as_bytes()).expect("valid"))
            };
            Submission {
                origin: Origin::Kafka(idledger_proto::KafkaOrigin::new(
                    "t", 0, k as i64, None, None,
                )),
                item,
            }
        })
        .collect();
    for (i, batch) in items.chunks(7).enumerate() {
        let next = (from + i * 7 + batch.len()) as i64;
        let position = Position {
            topic: "t".into(),
            partition: 0,
            next_offset: next,
        };
        ledger.append(batch.to_vec(), &[position]).expect("append");
    }
}

/// A closed ledger: 300 events, then the trusted checkpoint, then 60 more, a new key, 60 more.
struct Base {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    trust: Trust,
    trusted_size: u64,
    size: u64,
}

fn base() -> Base {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("base");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    fill(&mut ledger, 0, 300);
    let first_key = ledger.verifier_keys()[0].clone();
    let trusted_note = ledger.checkpoint().to_owned();
    let trusted_size = ledger.size().0;
    fill(&mut ledger, 300, 60);
    ledger.add_key().expect("a new key");
    fill(&mut ledger, 360, 60);
    let size = ledger.size().0;
    drop(ledger);
    Base {
        tmp,
        dir,
        trust: Trust {
            keys: vec![first_key],
            checkpoint_note: Some(trusted_note),
        },
        trusted_size,
        size,
    }
}

fn verify(dir: &Path, trust: &Trust, from_trusted: bool) -> FsckReport {
    let ro = ReadOnlyLedger::open(dir).expect("open read-only");
    fsck(
        &ro.reader(),
        &FsckOptions {
            from_trusted,
            chunk_entries: 16,
            ..FsckOptions::new(trust.clone())
        },
    )
    .expect("verification runs")
}

fn copy(base: &Base, name: &str) -> PathBuf {
    let to = base.tmp.path().join(name);
    for (from, into) in [
        (base.dir.clone(), to.clone()),
        (keys_for(&base.dir), keys_for(&to)),
    ] {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(&from)
            .arg(&into)
            .status()
            .expect("cp");
        assert!(status.success());
    }
    to
}

fn tamper(dir: &Path, f: &dyn Fn(&rocksdb::DB)) {
    let db = store::open_primary(&dir.join("db")).expect("open raw");
    f(&db);
    for name in [CF_ENTRIES, CF_CHECKPOINTS, CF_META, CF_TILES] {
        db.flush_cf(db.cf_handle(name).expect("cf")).expect("flush");
    }
}

fn cf<'a>(db: &'a rocksdb::DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).expect("column family")
}

/// Changes one byte of the `number K` reason of entry `index` to another digit.
fn edit_entry(index: u64) -> Box<dyn Fn(&rocksdb::DB)> {
    Box::new(move |db| {
        let key = index.to_be_bytes();
        let mut v = db
            .get_cf(cf(db, CF_ENTRIES), key)
            .expect("get")
            .expect("entry");
        let at = v
            .windows(7)
            .position(|w| w == b"number ")
            .expect("a reason")
            + 7;
        v[at] = if v[at] == b'9' { b'8' } else { b'9' };
        db.put_cf(cf(db, CF_ENTRIES), key, v).expect("put");
    })
}

#[test]
fn the_log_after_a_trusted_checkpoint_verifies_walking_only_the_new_entries() {
    let base = base();
    let full = verify(&base.dir, &base.trust, false);
    assert!(full.ok(), "{:?}", full.findings);
    let incremental = verify(&base.dir, &base.trust, true);
    assert!(incremental.ok(), "{:?}", incremental.findings);
    assert_eq!(incremental.entries_checked, base.size - base.trusted_size);
    assert_eq!(incremental.extends_trusted, Some(base.trusted_size));
    assert_eq!(incremental.final_keys, full.final_keys);
    assert_eq!(incremental.vouching_keys, full.vouching_keys);
    assert!(
        incremental
            .unproven
            .iter()
            .any(|u| u.contains("checked by a full verification (--full)")),
        "{:?}",
        incremental.unproven
    );
}

/// A rewrite: its name, the edit, and a finding (class and index) that must be reported.
type Case = (&'static str, Box<dyn Fn(&rocksdb::DB)>, FailureClass, u64);

#[test]
fn each_rewrite_after_at_or_across_the_trusted_checkpoint_is_found() {
    let base = base();
    let n = base.trusted_size;
    let size = base.size;
    let last_checkpoint_before_end = {
        let ro = ReadOnlyLedger::open(&base.dir).expect("open");
        let r = ro.reader();
        let mut s = size - 1;
        while r
            .checkpoint_at(idledger_proto::TreeSize(s))
            .expect("read")
            .is_none()
        {
            s -= 1;
        }
        s
    };
    let cases: Vec<Case> = vec![
        (
            "an entry after the trusted checkpoint",
            edit_entry(n + 10),
            FailureClass::ModifiedEntry,
            n + 10,
        ),
        (
            "the last trusted entry",
            edit_entry(n - 1),
            FailureClass::ModifiedEntry,
            n - 1,
        ),
        (
            "a checkpoint deleted after the trusted one",
            Box::new(move |db| {
                db.delete_cf(
                    cf(db, CF_CHECKPOINTS),
                    last_checkpoint_before_end.to_be_bytes(),
                )
                .expect("delete");
            }),
            FailureClass::MissingCheckpoint,
            last_checkpoint_before_end,
        ),
        (
            "the frontier of the trusted tree",
            Box::new(move |db| {
                let key = store::tile_key(0, (n - 1) / 256);
                let mut v = db
                    .get_cf(cf(db, CF_TILES), key)
                    .expect("get")
                    .expect("tile");
                let at = (((n - 1) % 256) * 32) as usize;
                v[at] ^= 1;
                db.put_cf(cf(db, CF_TILES), key, v).expect("put");
            }),
            FailureClass::TruncatedOrRolledBack,
            n,
        ),
        (
            "the key records before it hidden from the index",
            Box::new(|db| {
                db.put_cf(cf(db, CF_META), b"key_records", b"")
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            n,
        ),
        (
            "the log cut below the trusted size",
            Box::new(move |db| {
                for i in n - 5..size {
                    db.delete_cf(cf(db, CF_ENTRIES), i.to_be_bytes())
                        .expect("delete");
                }
                db.put_cf(cf(db, CF_META), b"tree_size", (n - 5).to_be_bytes())
                    .expect("put");
            }),
            FailureClass::TruncatedOrRolledBack,
            n - 5,
        ),
    ];
    for (name, edit, class, index) in cases {
        let dir = copy(&base, name.replace(' ', "-").as_str());
        tamper(&dir, &*edit);
        let report = verify(&dir, &base.trust, true);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.class == class && f.index == index),
            "{name}: expected {class} at {index}, got {:?}",
            report.findings
        );
        // The full walk finds it too.
        assert!(!verify(&dir, &base.trust, false).ok(), "{name}: full");
    }
}
