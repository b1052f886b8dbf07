//! Reads of the benchmark ledger: inclusion proofs, replay into projections (and a report over
//! them), and a 100-entry history with its proof bundle.

use crate::append::{Built, HISTORY_SUBJECT};
use crate::rows::{NO_TARGET, Row, p99, per_sec};
use idledger_ledger::LedgerReader;
use idledger_proto::{Seq, Timestamp};
use std::time::{Duration, Instant};

/// The p99 of 2,000 inclusion proofs of entries spread over the whole ledger.
pub fn proof(r: &LedgerReader<'_>, built: &Built, quick: bool) -> anyhow::Result<Row> {
    let mut samples = Vec::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = Instant::now();
        std::hint::black_box(r.tlog_proof(Seq(x % built.size))?);
        samples.push(t.elapsed());
    }
    let p = p99(samples);
    Ok(Row {
        name: "inclusion proof (tlog-proof)",
        measured: format!(
            "p99 {:.3} ms at {} entries",
            p.as_secs_f64() * 1e3,
            built.size
        ),
        baseline: "-".into(),
        target: "p99 ≤ 1 ms at ≥ 10M entries".into(),
        pass: p <= Duration::from_millis(1) && (quick || built.size >= 10_000_000),
    })
}

/// Replay into projections (judged), then the drift report over them (shown: reports read
/// the grants' entries back from the log).
pub fn replay(r: &LedgerReader<'_>) -> anyhow::Result<Vec<Row>> {
    let t = Instant::now();
    let p = idledger_query::Projections::replay(r)?;
    let rate = per_sec(p.size, t.elapsed());
    let replayed = Row {
        name: "replay into projections",
        measured: format!("{rate:.0} events/s"),
        baseline: "-".into(),
        target: "≥ 1000000/s".into(),
        pass: rate >= 1_000_000.0,
    };
    let t = Instant::now();
    let report = idledger_query::report(
        &p,
        r,
        idledger_query::ReportName::Drift,
        &idledger_query::ReportOptions {
            now: Timestamp::now(),
            max_credential_age_days: 90,
            group_by: None,
        },
    )?;
    std::hint::black_box(report);
    let drift = Row {
        name: "drift report over the replayed projections",
        measured: format!(
            "{:.2} s for {} grants",
            t.elapsed().as_secs_f64(),
            p.grant_count()
        ),
        baseline: "-".into(),
        target: NO_TARGET.into(),
        pass: true,
    };
    Ok(vec![replayed, drift])
}

/// The p99 of 200 answers to the history of a subject with 100 entries, with its bundle.
pub fn history(r: &LedgerReader<'_>, built: &Built, quick: bool) -> anyhow::Result<Row> {
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        std::hint::black_box(idledger_query::history_proven(r, HISTORY_SUBJECT)?);
        samples.push(t.elapsed());
    }
    // The part of it spent following back-links, alone.
    let mut in_history = Duration::ZERO;
    for _ in 0..200 {
        let t = Instant::now();
        std::hint::black_box(idledger_query::history(r, HISTORY_SUBJECT)?);
        in_history += t.elapsed();
    }
    let entries = idledger_query::history(r, HISTORY_SUBJECT)?.entries.len();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    eprintln!(
        "bench: history mean {:.2} ms, of which following back-links {:.2} ms",
        mean.as_secs_f64() * 1e3,
        in_history.as_secs_f64() * 1e3 / samples.len() as f64
    );
    let p = p99(samples);
    Ok(Row {
        name: "history of 100 entries with proofs",
        measured: format!(
            "p99 {:.2} ms ({entries} entries, ledger {})",
            p.as_secs_f64() * 1e3,
            built.size
        ),
        baseline: "-".into(),
        target: "p99 ≤ 5 ms at ≥ 1M entries".into(),
        pass: p <= Duration::from_millis(5) && (quick || built.size >= 1_000_000),
    })
}
