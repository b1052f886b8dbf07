//! `idledger serve`: the read-only HTTP API over a ledger, working beside a running ingest.

use crate::config::Config;
use anyhow::{Context as _, bail};
use idledger_ledger::ReadOnlyLedger;
use idledger_query::http::{Role, ServerState, Token, router};
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

pub fn serve(dir: &Path, addr: Option<String>, config: &Config) -> anyhow::Result<()> {
    let tokens = tokens(config)?;
    if tokens.is_empty() {
        bail!(
            "no tokens configured: add [[serve.tokens]] entries (name, token or token_env, role) to the configuration file"
        );
    }
    let addr = addr
        .or_else(|| config.serve.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let ledger = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let state = ServerState::new(ledger, tokens);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        crate::output::line(format!("listening on http://{local}"))?;
        tracing::info!(addr = %local, "serving the read-only API");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
