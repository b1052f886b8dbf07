//! Appending: builds the benchmark ledger in slices of 100,000 events, alternately appended one
//! batch at a time (`append`, the caller waiting for each) and pipelined as ingest appends
//! (`submit`: one batch written while the next is prepared, then `finish`), so both ways meet
//! the same ledger sizes; against raw RocksDB writes of as many ~600-byte values, synced per
//! 1000. The ledger is then settled for the read benchmarks.

use crate::events::submission;
use crate::rows::{NO_TARGET, Row, per_sec};
use idledger_ledger::{Ledger, Submission};
use idledger_proto::note::VerifierKey;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every this many events is about the subject whose history the history benchmark reads.
pub const HISTORY_SUBJECT: &str = "history-subject";

/// The benchmark ledger, built and settled.
#[derive(Debug)]
pub struct Built {
    pub dir: PathBuf,
    pub size: u64,
    pub keys: Vec<VerifierKey>,
}

/// (entries, time) appended one way.
type Timed = (u64, Duration);

/// The batches of one slice, decoded before its clock starts.
fn slice_batches(slice: std::ops::Range<usize>, history_every: usize) -> Vec<Vec<Submission>> {
    slice
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|c| {
            c.iter()
                .map(|&i| {
                    let subject = if i % history_every == 0 {
                        HISTORY_SUBJECT.to_owned()
                    } else {
                        format!("user{}@example.com", i % 20_000)
                    };
                    submission(i, &subject)
                })
                .collect()
        })
        .collect()
}

/// Builds a ledger of `entries` events in `tmp`; returns it with the two append rows.
pub fn build(tmp: &Path, entries: usize) -> anyhow::Result<(Built, Vec<Row>)> {
    let dir = tmp.join("ledger");
    let mut ledger = Ledger::init(&dir, &tmp.join("keys"), "bench.idledger.local/ledger")?;
    let history_every = (entries / 100).max(1);
    let slice_len = (entries / 2).clamp(1, 100_000);
    let (mut serial, mut pipelined): (Timed, Timed) = Default::default();
    let mut appended = 0usize;
    while appended < entries {
        let slice = appended..(appended + slice_len).min(entries);
        let n = slice.len() as u64;
        let batches = slice_batches(slice, history_every);
        let one_at_a_time = (appended / slice_len).is_multiple_of(2);
        let t = Instant::now();
        if one_at_a_time {
            for batch in batches {
                ledger.append(batch, &[])?;
            }
        } else {
            for batch in batches {
                ledger.submit(batch, &[])?;
            }
            ledger.finish()?;
        }
        let way = if one_at_a_time {
            &mut serial
        } else {
            &mut pipelined
        };
        way.0 += n;
        way.1 += t.elapsed();
        appended += n as usize;
        if appended.is_multiple_of(1_000_000) {
            eprintln!("bench: {appended} entries appended");
        }
    }
    let size = ledger.size().0;
    anyhow::ensure!(size as usize == entries + 1, "bench ledger size");
    let keys = ledger.verifier_keys();
    settle(&mut ledger)?;
    drop(ledger);
    let raw = rocksdb_raw_rate(&tmp.join("raw"), appended.min(1_000_000))?;
    let rows = vec![
        append_row(
            "durable append, pipelined, batches of 1000",
            pipelined,
            raw,
            true,
        ),
        append_row(
            "durable append, one batch at a time, caller waits",
            serial,
            raw,
            false,
        ),
    ];
    Ok((Built { dir, size, keys }, rows))
}

fn append_row(name: &'static str, (n, took): Timed, raw: f64, judged: bool) -> Row {
    let rate = per_sec(n, took);
    Row {
        name,
        measured: format!("{rate:.0} entries/s"),
        baseline: format!("raw RocksDB put+sync {raw:.0}/s ({:.2}x)", rate / raw),
        target: if judged { "≥ 200000/s" } else { NO_TARGET }.into(),
        pass: rate >= 200_000.0,
    }
}

/// The read benchmarks open the ledger read-only, which never compacts: without settling they
/// would inherit whatever compaction the last appends left pending (reads merge every level-0
/// file), a state that depends on the moment the appends stopped.
fn settle(ledger: &mut Ledger) -> anyhow::Result<()> {
    eprintln!(
        "bench: ledger built; level-0 files {:?}; waiting for compactions",
        ledger.level0_files()
    );
    let t = Instant::now();
    ledger.settle()?;
    eprintln!(
        "bench: compactions done in {:.1} s; level-0 files {:?}",
        t.elapsed().as_secs_f64(),
        ledger.level0_files()
    );
    Ok(())
}

/// The baseline: `n` ~600-byte values written raw to RocksDB, synced per 1000.
fn rocksdb_raw_rate(dir: &Path, n: usize) -> anyhow::Result<f64> {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    let db = rocksdb::DB::open(&opts, dir)?;
    let value = vec![b'x'; 600];
    let mut sync = rocksdb::WriteOptions::default();
    sync.set_sync(true);
    let t = Instant::now();
    for start in (0..n).step_by(1000) {
        let mut wb = rocksdb::WriteBatch::default();
        for i in start..(start + 1000).min(n) {
            wb.put((i as u64).to_be_bytes(), &value);
        }
        db.write_opt(wb, &sync)?;
    }
    Ok(per_sec(n as u64, t.elapsed()))
}
