//! `idledger ingest` (Kafka into the ledger, with /metrics) and `idledger dev-broker`.

use crate::settings::IngestSettings;
use anyhow::Context as _;
use idledger_ingest::{DevBroker, Metrics, Shutdown};
use idledger_ledger::{Ledger, ReadOnlyLedger};
use std::sync::Arc;
use std::time::Duration;

pub fn ingest(settings: IngestSettings) -> anyhow::Result<()> {
    let IngestSettings {
        ledger: paths,
        config: cfg,
        metrics_addr,
        json,
        check,
    } = settings;
    let dir = paths.data;
    if check {
        return dry_run(&dir, &cfg, json);
    }
    let ledger = Ledger::open(&dir, &paths.keys)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let metrics = Arc::new(Metrics::default());
    let shutdown = Shutdown::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    {
        let shutdown = shutdown.clone();
        runtime.spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for SIGTERM");
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutdown requested: finishing the current batch");
            shutdown.request();
        });
    }
    if let Some(addr) = metrics_addr {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(&addr))
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        let m = metrics.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let m = m.clone();
                async move {
                    let now = idledger_proto::Timestamp::now().0.max(0) as u64 / 1_000_000;
                    (
                        [("content-type", "text/plain; version=0.0.4")],
                        m.render(now),
                    )
                }
            }),
        );
        tracing::info!(addr = %addr, "serving /metrics");
        runtime.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
    }
    let (summary, _ledger) = idledger_ingest::run(ledger, &cfg, &shutdown, metrics)?;
    let handled = summary.appended + summary.quarantined + summary.deduplicated;
    let busy = summary.busy().as_secs_f64();
    let rate = if busy > 0.0 {
        handled as f64 / busy
    } else {
        0.0
    };
    if json {
        crate::output::line(
            serde_json::json!({
                "appended": summary.appended,
                "quarantined": summary.quarantined,
                "deduplicated": summary.deduplicated,
                "already_present": summary.skipped_below_position,
                "offsets_unavailable": summary.offsets_unavailable,
                "batches": summary.batches,
                "tree_size": summary.tree_size,
                "busy_seconds": busy,
                "events_per_second": rate,
            })
            .to_string(),
        )?;
    } else {
        crate::output::line(format!(
            "ingest stopped: appended {}, quarantined {}, duplicates skipped {}, already present {}; tree size {}; {rate:.0} events/s over {busy:.2} s of work",
            summary.appended,
            summary.quarantined,
            summary.deduplicated,
            summary.skipped_below_position,
            summary.tree_size
        ))?;
        if summary.offsets_unavailable > 0 {
            crate::output::line(format!(
                "{} offsets were gone from the broker before ingest read them; the ledger records where (OffsetsUnavailable entries)",
                summary.offsets_unavailable
            ))?;
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

pub fn dev_broker(spec: &[(String, i32)], brokers: i32) -> anyhow::Result<()> {
    let broker = DevBroker::start(brokers, spec)?;
    crate::output::line(format!("bootstrap.servers={}", broker.bootstrap_servers()))?;
    for (name, parts) in spec {
        eprintln!("topic {name}: {parts} partitions");
    }
    eprintln!(
        "dev broker running on 127.0.0.1 (it keeps 5 MiB of batches per partition and drops the \
         oldest beyond that); stop with Ctrl-C"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    drop(broker);
    Ok(())
}

/// `ingest --check`: connects as ingest would and prints where it would start each partition.
fn dry_run(
    dir: &std::path::Path,
    cfg: &idledger_ingest::IngestConfig,
    json: bool,
) -> anyhow::Result<()> {
    use idledger_ingest::check::{StartFrom, check};
    let ro = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let positions = ro.reader().positions()?;
    let plans = check(cfg, &positions, Duration::from_secs(15))?;
    if json {
        let rows: Vec<serde_json::Value> = plans
            .iter()
            .map(|p| {
                serde_json::json!({
                    "topic": p.topic, "partition": p.partition, "low": p.low, "high": p.high,
                    "start": p.start, "backlog": p.backlog(),
                    "start_from": match p.start_from {
                        StartFrom::LedgerPosition => "ledger_position",
                        StartFrom::Earliest => "earliest",
                    },
                })
            })
            .collect();
        crate::output::line(
            serde_json::json!({ "brokers": cfg.brokers, "partitions": rows }).to_string(),
        )?;
        return Ok(());
    }
    crate::output::line(format!(
        "connected to {} as group {}; ingest would read:",
        cfg.brokers, cfg.group_id
    ))?;
    for p in &plans {
        let from = match p.start_from {
            StartFrom::LedgerPosition => "after the ledger's position",
            StartFrom::Earliest => "the earliest offset (the ledger holds none of it)",
        };
        crate::output::line(format!(
            "  {}/{}: offsets {}..{} on the broker; starts at {} ({from}), {} to read",
            p.topic,
            p.partition,
            p.low,
            p.high,
            p.start,
            p.backlog()
        ))?;
    }
    Ok(())
}
