//! A reader kept open beside writers that open, write and close the ledger one after another
//! (as each `idledger append` does), catching up all the while as a server does, sees what each
//! wrote: a plain secondary was seen stuck on a stale tree size in about a third of these runs,
//! a `FollowedLedger` replaces it.

use idledger_ledger::{FollowedLedger, Item, Ledger, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn batch(tag: &str, n: usize) -> Vec<Submission> {
    (0..n)
        .map(|i| {
            let json = format!(
                r#"{{"id":"{tag}-{i}","source":"test","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"u","kind":"human"}},"subject":{{"id":"u{i}","kind":"human"}}}}"#
            );
            Submission {
                origin: Origin::Local {
                    label: "test".into(),
                    line: i as u64,
                },
                item: Item::Event(decode_event(json.as_bytes()).expect("an event")),
            }
        })
        .collect()
}

/// What the reader sees: the tree size and the latest checkpoint's size.
fn seen(reader: &FollowedLedger) -> (u64, u64) {
    let ledger = reader.current();
    let r = ledger.reader();
    (
        r.size().expect("size").0,
        r.latest_checkpoint().expect("checkpoint").0.0,
    )
}

#[test]
fn a_reader_kept_open_sees_each_writer_that_opened_and_closed_the_ledger() {
    let mut stuck = Vec::new();
    let mut reopened = 0;
    for run in 0..10 {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (dir, keys) = (tmp.path().join("ledger"), tmp.path().join("keys"));
        drop(Ledger::init(&dir, &keys, "test.example/follow").expect("init"));
        let reader = FollowedLedger::open(&dir).expect("open read-only");
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            // Catching up all the while, as a server does, also while writers open and close.
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    reader.refresh().expect("refresh");
                    std::thread::sleep(Duration::from_millis(3));
                }
            });
            for writer in 0..15 {
                let mut ledger = Ledger::open(&dir, &keys).expect("open");
                for b in 0..3 {
                    ledger
                        .append(batch(&format!("r{run}-w{writer}-b{b}"), 40), &[])
                        .expect("append");
                }
                let size = ledger.size().0;
                drop(ledger);
                let deadline = Instant::now() + Duration::from_secs(2);
                let last = loop {
                    reader.refresh().expect("refresh");
                    let last = seen(&reader);
                    if last == (size, size) || Instant::now() > deadline {
                        break last;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                };
                if last != (size, size) {
                    stuck.push(format!(
                        "run {run}, writer {writer}: wrote {size}, the reader sees tree size and checkpoint {last:?}"
                    ));
                    break;
                }
            }
            done.store(true, Ordering::Relaxed);
        });
        reopened += reader.reopened();
    }
    assert!(stuck.is_empty(), "{stuck:#?}");
    eprintln!("stale secondaries replaced: {reopened}");
}
