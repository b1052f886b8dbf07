//! Submitting the ledger's checkpoints to witnesses (c2sp.org/tlog-witness) while ingest runs:
//! one thread per witness, each on its own schedule, so a slow or unreachable witness delays
//! nothing but its own cosignatures. Every `interval` a thread takes the latest durable
//! checkpoint; if its witness has not cosigned that text yet it sends it with a consistency
//! proof from the size the witness last cosigned, checks the cosignature against the
//! witness's key and stores it beside the checkpoint (`ledger::cosigned`). A 409 tells it the
//! size the witness knows; it proves from there at once. Failures back off (doubling up to a
//! minute) and are counted; `idledger_witness_lag_entries` says how far behind each witness is.
//!
//! Nothing here blocks the sequencer: checkpoints are published as they are signed, with or
//! without cosignatures, and cosignatures follow.

use crate::metrics::Metrics;
use idledger_ledger::{CosignatureStore, ReadError};
use idledger_proto::TreeSize;
use idledger_witness::client::{Answer, ClientError, WitnessEndpoint, add_checkpoint};
use idledger_witness::request::AddCheckpoint;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The witnesses ingest submits to, and how often.
#[derive(Clone, Debug)]
pub struct WitnessingConfig {
    pub witnesses: Vec<WitnessEndpoint>,
    /// How often each witness is offered the latest checkpoint.
    pub interval: Duration,
    /// The longest one request may take.
    pub timeout: Duration,
}

impl Default for WitnessingConfig {
    fn default() -> WitnessingConfig {
        WitnessingConfig {
            witnesses: Vec::new(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The longest wait between attempts at a failing witness.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("reading the ledger: {0}")]
    Ledger(#[from] ReadError),
    #[error("refused with {status}: {message}")]
    Refused { status: u16, message: String },
    #[error(
        "the witness has cosigned size {known}, larger than this ledger's latest checkpoint {size}: it saw a longer version of this log (a fork or a truncation)"
    )]
    AheadOfLog { known: u64, size: u64 },
    #[error("answered 409 twice")]
    Conflicting,
}

/// One witness's submitter: what it knows of that witness between rounds.
struct Submitter<'a> {
    witness: &'a WitnessEndpoint,
    label: String,
    store: &'a CosignatureStore,
    metrics: &'a Metrics,
    timeout: Duration,
    /// The size the witness last cosigned for this log, once known.
    known: Option<u64>,
    /// The checkpoint text it last cosigned, to skip offering it again.
    last_cosigned: Option<String>,
}

impl Submitter<'_> {
    /// Offers the latest checkpoint if this witness has not cosigned it.
    fn round(&mut self) -> Result<(), RoundError> {
        let reader = self.store.reader();
        let (size, note) = match reader.latest_checkpoint() {
            Ok(latest) => latest,
            Err(ReadError::NoCheckpoint) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        self.metrics
            .set_witness_lag(&self.label, size.0.saturating_sub(self.known.unwrap_or(0)));
        let text = body(&note);
        if self.last_cosigned.as_deref() == Some(text) {
            return Ok(());
        }
        for _ in 0..2 {
            let old = self.known.unwrap_or(0);
            if old > size.0 {
                return Err(RoundError::AheadOfLog {
                    known: old,
                    size: size.0,
                });
            }
            // From an empty tree, or to the same size, the proof is empty (RFC 9162 2.1.4).
            let proof = if old == 0 || old == size.0 {
                Vec::new()
            } else {
                reader.consistency_proof(TreeSize(old), size)?
            };
            let request = AddCheckpoint {
                old_size: old,
                proof,
                note: note.clone(),
            };
            match add_checkpoint(self.witness, &request, self.timeout)? {
                Answer::Cosigned { line, timestamp } => {
                    self.store.add(size, &note, &line)?;
                    self.known = Some(size.0);
                    self.last_cosigned = Some(text.to_owned());
                    self.metrics.witness_cosigned(&self.label, size.0);
                    tracing::debug!(witness = %self.label, size = size.0, timestamp, "cosigned");
                    return Ok(());
                }
                Answer::Conflict { known } => self.known = Some(known),
                Answer::Refused { status, message } => {
                    return Err(RoundError::Refused { status, message });
                }
            }
        }
        Err(RoundError::Conflicting)
    }
}

/// The note's body (what a cosignature covers): its text up to the empty line.
fn body(note: &str) -> &str {
    note.split_once("\n\n").map_or(note, |(text, _)| text)
}

/// Runs one submitter per witness until `done` is set, then offers each the latest checkpoint
/// once more, so a ledger that stops has its last checkpoint cosigned where witnesses answer.
pub fn run(
    config: &WitnessingConfig,
    store: &CosignatureStore,
    metrics: &Metrics,
    done: &AtomicBool,
) {
    std::thread::scope(|scope| {
        for witness in &config.witnesses {
            let spawned = std::thread::Builder::new()
                .name("ingest-witness".into())
                .spawn_scoped(scope, move || {
                    submit_until_done(config, witness, store, metrics, done)
                });
            if let Err(e) = spawned {
                warn!(witness = %witness.url, error = %e, "cannot start a witness submitter; its cosignatures will be missing");
            }
        }
    });
}

fn submit_until_done(
    config: &WitnessingConfig,
    witness: &WitnessEndpoint,
    store: &CosignatureStore,
    metrics: &Metrics,
    done: &AtomicBool,
) {
    let mut submitter = Submitter {
        witness,
        label: format!("{} {}", witness.key.name(), witness.url),
        store,
        metrics,
        timeout: config.timeout,
        known: None,
        last_cosigned: None,
    };
    let mut wait = config.interval;
    let mut failing = false;
    loop {
        let finishing = done.load(SeqCst);
        match submitter.round() {
            Ok(()) => {
                if failing {
                    info!(witness = %submitter.label, "witness answering again");
                }
                failing = false;
                wait = config.interval;
            }
            Err(e) => {
                metrics.count_witness_failure(&submitter.label);
                if !failing {
                    warn!(witness = %submitter.label, error = %e, "checkpoint not cosigned; ingest goes on and retries");
                }
                failing = true;
                wait = (wait * 2).min(MAX_BACKOFF).max(config.interval);
            }
        }
        if finishing {
            return;
        }
        let until = Instant::now() + wait;
        while Instant::now() < until && !done.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(20).min(wait));
        }
    }
}

/// Tells the submitters to finish when dropped (also when ingest fails), so their scope ends.
#[derive(Debug)]
pub struct Finish<'a>(pub &'a AtomicBool);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}
