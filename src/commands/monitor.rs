//! `idledger monitor`: follows a remote log through its tlog-tiles routes, a round at a time
//! (`idledger_monitor::round`), printing what each round verified. Exit codes: 1 at the first
//! round with a finding (the kept copy and state stay at the last good round), 2 when the log
//! cannot be reached or the directory cannot be written (nothing kept), 0 after `--once` or
//! when stopped by SIGINT or SIGTERM between rounds.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::{Context as _, bail};
use idledger_monitor::{Findings, HttpSource, Outcome, StateDir, Trust};
use idledger_proto::printable::printable;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long one request to the log may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn monitor(
    url: &str,
    vkeys: &[String],
    policy: Option<&Path>,
    state: &Path,
    once: bool,
    interval_ms: u64,
) -> anyhow::Result<()> {
    let policy = policy.map(super::read_policy).transpose()?;
    let keys = match (&policy, vkeys.is_empty()) {
        (Some(p), true) => p.logs.clone(),
        _ => super::read_vkeys(vkeys)?,
    };
    if keys.is_empty() {
        bail!("monitor needs a key you trust: pass --vkey KEY or --policy FILE");
    }
    let trust = Trust { keys, policy };
    let source =
        HttpSource::new(url, REQUEST_TIMEOUT).with_context(|| format!("cannot monitor {url}"))?;
    let mut dir = StateDir::open(state)?;
    // Installed before the first round, so that a stop asked during it is seen after it.
    let stop = if once { None } else { Some(stop_signals()?) };
    loop {
        let outcome = idledger_monitor::round(&source, &trust, &mut dir)
            .with_context(|| format!("monitor round against {url} (nothing was kept)"))?;
        match outcome {
            Outcome::Unchanged { size } => line(format!("tree size {size}: unchanged"))?,
            Outcome::Advanced { from, to } => line(format!(
                "verified and kept entries {from} to {}: tree size {to}",
                to - 1
            ))?,
            Outcome::Findings(f) => return Err(failed(&f)?.into()),
        }
        let Some(stop) = &stop else {
            return Ok(());
        };
        match stop.recv_timeout(Duration::from_millis(interval_ms)) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(name) => {
                tracing::info!(signal = name, "stop asked");
                return Ok(());
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the signal watcher stopped"),
        }
    }
}

/// Prints every finding kept, and the error that exits with code 1.
fn failed(findings: &Findings) -> anyhow::Result<VerificationFailed> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &findings.kept {
        line(format!(
            "finding: {} at index {}: {}",
            f.class,
            f.index,
            printable(&f.detail)
        ))?;
        *counts.entry(f.class.as_str()).or_default() += 1;
    }
    let first = findings
        .kept
        .first()
        .map(|f| {
            format!(
                "first failure: {} at index {}: {}",
                f.class, f.index, f.detail
            )
        })
        .unwrap_or_default();
    let counts: Vec<String> = counts.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    Ok(VerificationFailed(format!(
        "{first} ({}; {} findings in all); the kept copy stays at the last good checkpoint",
        counts.join(", "),
        findings.total
    )))
}

/// SIGINT and SIGTERM, watched on a thread of their own: the name of the first one received.
fn stop_signals() -> anyhow::Result<Receiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal watcher")?;
    let (mut terminate, mut interrupt) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .context("cannot handle SIGINT and SIGTERM")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            let _ = tx.send(name);
        });
    });
    Ok(rx)
}
