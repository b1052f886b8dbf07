//! `idledger serve`: the read-only HTTP API over a ledger, working beside a running ingest.
//! Its tokens and limits come from the configuration file's `[serve]` section and are checked
//! before anything is served (docs/CONFIG.md).

use crate::config::Config;
use anyhow::{Context as _, bail};
use idledger_ledger::ReadOnlyLedger;
use idledger_query::http::limits::LimitSettings;
use idledger_query::http::{Limits, Role, ServerState, Token, server};
use std::path::Path;

pub fn tokens(config: &Config) -> anyhow::Result<Vec<Token>> {
    let mut out = Vec::new();
    for t in &config.serve.tokens {
        let role = Role::parse(&t.role).with_context(|| {
            format!(
                "token `{}`: role must be auditor, responder or admin, not `{}`",
                t.name, t.role
            )
        })?;
        let secret = match (&t.token, &t.token_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => std::env::var(var).with_context(|| {
                format!("token `{}`: environment variable {var} is not set", t.name)
            })?,
            _ => bail!(
                "token `{}`: give exactly one of `token` or `token_env`",
                t.name
            ),
        };
        if secret.len() < 16 {
            bail!(
                "token `{}` is shorter than 16 characters; use a long random token",
                t.name
            );
        }
        out.push(Token {
            name: t.name.clone(),
            secret: secret.into_bytes(),
            role,
        });
    }
    Ok(out)
}

/// The server's limits from the configuration, each within its bounds.
pub fn limits(config: &Config) -> anyhow::Result<Limits> {
    let s = &config.serve;
    Limits::from_settings(&LimitSettings {
        max_connections: s.max_connections,
        max_concurrent_reads: s.max_concurrent_reads,
        header_read_timeout_ms: s.header_read_timeout_ms,
        idle_timeout_ms: s.idle_timeout_ms,
        request_timeout_ms: s.request_timeout_ms,
    })
    .context("[serve]")
}

/// Completes on SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

pub fn serve(dir: &Path, addr: Option<String>, config: &Config) -> anyhow::Result<()> {
    let tokens = tokens(config)?;
    if tokens.is_empty() {
        bail!(
            "no tokens configured: add [[serve.tokens]] entries (name, token or token_env, role) to the configuration file"
        );
    }
    let limits = limits(config)?;
    let addr = addr
        .or_else(|| config.serve.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let ledger = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    // Every blocking thread the server can use is bounded by its limits: ledger work holds one
    // of `max_concurrent_reads` permits, cheap reads one of their own few.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(limits.blocking_threads())
        .enable_all()
        .build()?;
    let state = ServerState::new(ledger, tokens, limits.clone());
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        crate::output::line(format!("listening on http://{local}"))?;
        tracing::info!(
            addr = %local,
            max_connections = limits.max_connections,
            max_concurrent_reads = limits.max_concurrent_reads,
            header_read_timeout_ms = limits.header_read_timeout.as_millis(),
            idle_timeout_ms = limits.idle_timeout.as_millis(),
            request_timeout_ms = limits.request_timeout.as_millis(),
            "serving the read-only API"
        );
        server::serve(listener, state, stop_signal()).await?;
        Ok(())
    })
}
