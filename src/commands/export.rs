//! `idledger export` and `idledger verify-export` (docs/EXPORT.md): the log as JSON lines for a
//! SIEM (a range by index or by time, or following the log as it grows), and the offline check
//! of such a stream with the verifier key alone. `verify-export`
//! exits 1 naming each changed, dropped, reordered or inserted entry, 2 when its input cannot be
//! read.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::Context as _;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::Timestamp;
use idledger_proto::export::verify_export_witnessed;
use idledger_proto::printable::printable;
use idledger_query::export::{Collected, ExportOptions, ExportSink, Lines};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub fn export(
    dir: &Path,
    mut options: ExportOptions,
    out: Option<&Path>,
    (since, until): (Option<Timestamp>, Option<Timestamp>),
    follow: Option<Duration>,
    to_kafka: Option<idledger_ingest::export_producer::ExportTarget>,
) -> anyhow::Result<()> {
    let ro = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    if let Some(t) = since {
        options.from = idledger_query::export::index_at_time(&ro.reader(), t)?;
    }
    if let Some(t) = until {
        options.to = Some(idledger_query::export::index_at_time(&ro.reader(), t)?);
    }
    if let Some(target) = to_kafka {
        return super::export_kafka::export(dir, ro, &options, follow, &target);
    }
    let w: Box<dyn Write> = match out {
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout().lock(),
        )),
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
    };
    let mut w = Lines(w);
    let summary = idledger_query::export::export(&ro.reader(), &options, &mut w)?;
    report(&summary);
    let Some(interval) = follow else {
        return Ok(());
    };
    drop(ro);
    let mut next = summary.end;
    let mut failures = 0u32;
    loop {
        std::thread::sleep(interval);
        // A fresh reader each round: one kept open beside a writer that closes and reopens the
        // ledger (each `append`) can stop seeing what the new writer wrote.
        let ro = ReadOnlyLedger::open(dir)
            .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
        // A round is written whole or not at all: a read that fails halfway leaves no half
        // round in the stream.
        let mut round = Collected::default();
        match idledger_query::export::export_more(&ro.reader(), &options, next, &mut round) {
            Ok(Some(more)) => {
                round
                    .replay(&mut w)
                    .and_then(|()| w.flush())
                    .context("cannot write the export")?;
                report(&more);
                next = more.end;
                failures = 0;
            }
            Ok(None) => failures = 0,
            Err(e) if failures < 10 => {
                failures += 1;
                tracing::warn!(error = %e, next, "this round of the follow failed; retrying");
            }
            Err(e) => return Err(e).context("the follow failed ten times in a row"),
        }
    }
}

fn report(summary: &idledger_query::export::ExportSummary) {
    tracing::info!(
        entries = summary.entries,
        checkpoints = summary.checkpoints,
        end = summary.end,
        "export written"
    );
    eprintln!(
        "exported {} entries up to index {} with {} signed checkpoints",
        summary.entries,
        summary.end.saturating_sub(1),
        summary.checkpoints
    );
}

/// Checks an export stream; with `contiguous`, a stream that is not one (filtered, an extract,
/// or cut) fails too.
pub fn verify_export(
    vkeys: &[String],
    policy: Option<&Path>,
    contiguous: bool,
    file: &str,
) -> anyhow::Result<()> {
    let keys = super::read_vkeys(vkeys)?;
    let policy = policy.map(super::read_policy).transpose()?;
    let text = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read the export from standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read export file {file}"))?
    };
    let mut verified = verify_export_witnessed(&text, &keys, policy.as_ref());
    if contiguous && verified.contiguous.is_none() && verified.findings.is_empty() {
        verified.findings.push(
            "the stream is not contiguous (its start line says it is filtered, or it has none): entries left out of it cannot be detected, and --contiguous requires every entry"
                .into(),
        );
    }
    for finding in verified.findings.iter().take(50) {
        line(format!("FAIL {}", printable(finding)))?;
    }
    if !verified.ok() {
        return Err(VerificationFailed(format!(
            "{} findings in {} entries",
            verified.findings.len(),
            verified.entries
        ))
        .into());
    }
    let sizes: Vec<String> = verified.checkpoints.iter().map(u64::to_string).collect();
    let origin = printable(verified.origin.as_deref().unwrap_or_default());
    let scope = match &verified.contiguous {
        Some(range) => format!(
            "every entry of the log `{origin}` from index {} to {}",
            range.start,
            range.end.saturating_sub(1)
        ),
        None => format!(
            "each on its own proof: the stream is filtered or an extract of the log `{origin}`, so an entry left out of it is not detected (--contiguous refuses such a stream)"
        ),
    };
    line(format!(
        "ok: {} entries verified against the signed checkpoints of sizes {}: {scope}",
        verified.entries,
        sizes.join(", ")
    ))?;
    if policy.is_some() {
        let sizes: Vec<String> = verified.witnessed.iter().map(u64::to_string).collect();
        line(format!(
            "witnessed: the checkpoints of sizes {} are cosigned by witnesses meeting the policy's quorum",
            sizes.join(", ")
        ))?;
    }
    Ok(())
}
