//! `idledger export` and `idledger verify-export` (docs/EXPORT.md): the log as JSON lines for a
//! SIEM, and the offline check of such a stream with the verifier key alone. `verify-export`
//! exits 1 naming each changed, dropped, reordered or inserted entry, 2 when its input cannot be
//! read.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::Context as _;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::export::verify_export as check_stream;
use idledger_proto::printable::printable;
use idledger_query::export::ExportOptions;
use std::path::Path;

pub fn export(dir: &Path, options: &ExportOptions, out: Option<&Path>) -> anyhow::Result<()> {
    let ro = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let summary = match out {
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            idledger_query::export::export(&ro.reader(), options, &mut w)?
        }
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let summary = idledger_query::export::export(&ro.reader(), options, &mut w)?;
            w.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
    };
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
    Ok(())
}

pub fn verify_export(vkeys: &[String], policy: Option<&Path>, file: &str) -> anyhow::Result<()> {
    let mut keys = super::read_vkeys(vkeys)?;
    if let Some(path) = policy {
        for k in super::read_policy(path)?.logs {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let text = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read the export from standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read export file {file}"))?
    };
    let verified = check_stream(&text, &keys);
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
    line(format!(
        "ok: {} entries verified against the signed checkpoints of sizes {}",
        verified.entries,
        sizes.join(", ")
    ))?;
    Ok(())
}
