//! `idledger witness serve` and `idledger witness vkey`: glue over `idledger_witness` (the key
//! file, the state directory, the checks and the route), and the listening socket.

use crate::settings::{WitnessJob, WitnessSettings};
use anyhow::Context as _;
use idledger_witness::state::StateDir;
use idledger_witness::{Witness, keys};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

pub fn run(job: WitnessJob) -> anyhow::Result<()> {
    match job {
        WitnessJob::Vkey { keys } => {
            let key = keys::load(&keys)?;
            crate::output::line(key.verifier().to_string())?;
            Ok(())
        }
        WitnessJob::Serve(settings) => serve(*settings),
    }
}

fn serve(s: WitnessSettings) -> anyhow::Result<()> {
    let (key, created) = keys::load_or_create(&s.keys, s.name.as_deref())?;
    if created {
        eprintln!(
            "created witness key {} (keep it there)\nwitness verifier key (give it to the logs and their clients):\n{}",
            s.keys.join(keys::KEY_FILE).display(),
            key.verifier()
        );
    }
    let store = StateDir::open(&s.state)?;
    let witness = Arc::new(Witness::open(key, &s.logs, store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let listener = tokio::net::TcpListener::bind(&s.listen)
            .await
            .with_context(|| format!("cannot listen on {}", s.listen))?;
        let local = listener.local_addr()?;
        tracing::info!(addr = %local, vkey = %witness.key().verifier(), logs = s.logs.len(), "witness listening");
        crate::output::line(format!("listening on http://{local}"))?;
        let stop = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        };
        axum::serve(listener, idledger_witness::http::router(witness))
            .with_graceful_shutdown(stop)
            .await
            .context("the witness server failed")
    })
}
