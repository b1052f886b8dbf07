//! `idledger verify`: full verification of a ledger against the keys the auditor trusts, with a
//! progress bar on a terminal, and its report as text or JSON (everything printed from the
//! ledger escaped). Exit code 1 when anything is found.

use crate::VerificationFailed;
use crate::output::{line, stderr_is_terminal};
use crate::settings::TrustSettings;
use anyhow::{Context as _, bail};
use idledger_ledger::{FsckOptions, FsckReport, KeyDir, ReadOnlyLedger, Trust, fsck};
use idledger_proto::printable::{printable, printable_json};
use idledger_proto::witness_policy::Policy;
use std::path::Path;

/// What `verify` trusts: the keys passed with `--vkey`, or else the keys held in the key
/// directory (an operator verifying their own ledger); and optionally a kept checkpoint.
fn trust(
    dir: &Path,
    origin: &str,
    args: &TrustSettings,
    policy: Option<&Policy>,
) -> anyhow::Result<(Trust, String)> {
    let (keys, source) = if let (true, Some(policy)) = (args.vkeys.is_empty(), policy) {
        (
            policy.logs.clone(),
            "the log keys of your witness policy".to_owned(),
        )
    } else if args.vkeys.is_empty() {
        let held = KeyDir::for_data(&args.key_dir, dir)?.held_keys(origin)?;
        if held.is_empty() {
            bail!(
                "verify needs a key you trust: pass --vkey KEY (the verifier key you were given), or run it where the ledger's signing key is (--key-dir; {} holds none for `{origin}`); a ledger's own files cannot vouch for themselves",
                args.key_dir.display()
            );
        }
        (
            held,
            format!("the signing keys in {}", args.key_dir.display()),
        )
    } else {
        (
            super::read_vkeys(&args.vkeys)?,
            "the keys you passed".to_owned(),
        )
    };
    let checkpoint_note = match &args.trusted {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read trusted checkpoint {}", p.display()))?,
        ),
        None => None,
    };
    Ok((
        Trust {
            keys,
            checkpoint_note,
        },
        source,
    ))
}

pub fn verify(dir: &Path, args: &TrustSettings, threads: usize, json: bool) -> anyhow::Result<()> {
    let ro = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let policy = match &args.policy {
        Some(path) => Some(super::read_policy(path)?),
        None => None,
    };
    let (trust, source) = trust(dir, ro.reader().origin(), args, policy.as_ref())?;
    let started = std::time::Instant::now();
    let report = run(&ro, trust, policy.as_ref(), !args.full, threads)?;
    if json {
        print_json(&report, &source)?;
    } else {
        print_text(&report, &source, started.elapsed())?;
    }
    if report.ok() {
        return Ok(());
    }
    let first = report
        .first()
        .map(|f| {
            format!(
                "first failure: {} at index {}: {}",
                f.class,
                f.index,
                printable(&f.detail)
            )
        })
        .unwrap_or_default();
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    Err(VerificationFailed(format!("{first} ({})", counts.join(", "))).into())
}

/// Verifies with a progress bar on a terminal.
fn run(
    ro: &ReadOnlyLedger,
    trust: Trust,
    policy: Option<&Policy>,
    from_trusted: bool,
    threads: usize,
) -> anyhow::Result<FsckReport> {
    let bar = stderr_is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "verifying {bar:40} {pos}/{len} entries ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = fsck(
        &ro.reader(),
        &FsckOptions {
            threads,
            progress: Some(&progress),
            witness_policy: policy,
            from_trusted,
            ..FsckOptions::new(trust)
        },
    )?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(report)
}

fn print_json(report: &FsckReport, source: &str) -> anyhow::Result<()> {
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| serde_json::json!({"class": f.class.as_str(), "index": f.index, "detail": printable(&f.detail)}))
        .collect();
    let counts: serde_json::Map<String, serde_json::Value> = report
        .counts
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), (*v).into()))
        .collect();
    let unavailable: Vec<serde_json::Value> = report
        .unavailable_offsets
        .iter()
        .map(|u| serde_json::json!({"index": u.index, "topic": u.topic, "partition": u.partition, "first": u.first, "end": u.end}))
        .collect();
    let doc = serde_json::json!({
        "ok": report.ok(),
        "tree_size": report.tree_size,
        "entries_checked": report.entries_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "extends_trusted_checkpoint_of_size": report.extends_trusted,
        "keys": report.final_keys,
        "vouched_for_by": report.vouching_keys,
        "trusting": source,
        "unproven": report.unproven,
        "unavailable_offsets": unavailable,
        "unavailable_offsets_total": report.unavailable_offsets_total,
        "cosigned_checkpoints_stored": report.witnessed.stored,
        "witnessed": report.witnessed.witnessed.as_ref().map(|(size, by, quorum)| serde_json::json!({"size": size, "cosigned_by": by, "quorum": quorum})),
        "counts": counts,
        "findings": findings,
    });
    line(printable_json(&serde_json::to_string_pretty(&doc)?))?;
    Ok(())
}

fn print_text(
    report: &FsckReport,
    source: &str,
    elapsed: std::time::Duration,
) -> anyhow::Result<()> {
    line(format!(
        "checked {} entries and {} checkpoints ({:.1} MB) in {elapsed:.2?}",
        report.entries_checked,
        report.checkpoints_checked,
        report.bytes_hashed as f64 / 1e6,
    ))?;
    for u in report.unavailable_offsets.iter().take(20) {
        line(format!(
            "note: entry {} records offsets {}..{} of {}/{} as gone from the broker before ingest read them",
            u.index,
            u.first,
            u.end,
            printable(&u.topic),
            u.partition
        ))?;
    }
    for u in &report.unproven {
        line(format!("note: cannot prove: {u}"))?;
    }
    if report.unavailable_offsets_total > 0 {
        line(format!(
            "note: {} offsets in all are recorded as unavailable ({} entries)",
            report.unavailable_offsets_total,
            report.unavailable_offsets.len()
        ))?;
    }
    if !report.ok() {
        for f in report.findings.iter().take(20) {
            line(format!(
                "FAIL {} at index {}: {}",
                f.class,
                f.index,
                printable(&f.detail)
            ))?;
        }
        return Ok(());
    }
    match &report.witnessed.witnessed {
        Some((size, by, quorum)) => {
            let by: Vec<String> = by.iter().map(|n| printable(n).into_owned()).collect();
            line(format!(
                "witnessed: the checkpoint of size {size} is cosigned by {} (quorum {} met); {} entries after it are not witnessed yet",
                by.join(", "),
                printable(quorum),
                report.tree_size.saturating_sub(*size)
            ))?;
        }
        None if report.witnessed.stored > 0 => line(format!(
            "note: {} cosigned checkpoints are stored, each consistent with the log; pass --policy FILE to check their witnesses",
            report.witnessed.stored
        ))?,
        None => {}
    }
    if let Some(size) = report.extends_trusted {
        line(format!(
            "the log is an append-only extension of your checkpoint of size {size}"
        ))?;
    }
    line(format!(
        "ok: ledger verified against {source}: tree size {}, vouched for by {}",
        report.tree_size,
        report.vouching_keys.join(", ")
    ))?;
    Ok(())
}
