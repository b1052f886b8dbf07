//! The ingest pipeline: a polling thread, decode/validate workers, and one sequencer that writes
//! batches (with their Kafka positions) to the ledger. Order within a partition is preserved:
//! chunks go to workers round-robin and the sequencer reads them back in the same order.
//!
//! A message's way through, one file per stage:
//!
//! 1. `consumer.rs`: the librdkafka settings and the consumer, closed within a bounded time.
//!    `context.rs`: its callbacks, run inside `poll` on the polling thread: watermarks from the
//!    statistics, fatal errors, and rebalances (start at the ledger's positions; drain and
//!    commit before partitions leave).
//! 2. `poll.rs`: the polling loop, on the caller's thread: copies messages into chunks, keeps
//!    the lag gauges, and stops a caught-up ingest.
//! 3. `chunks.rs`: chunk buffers, their round-robin dispatch, and the decode workers
//!    (`ingest-decode-N`).
//! 4. `sequencer.rs`: the sequencer (`ingest-sequence`) reads chunks back in dispatch order
//!    and forms batches; `offsets.rs` checks the offsets it drops or sees jump against the
//!    broker's watermarks.
//! 5. `durability.rs`: batches go to the ledger; once each is durable its positions, counts and
//!    group commit are published; `dead_letter.rs` produces its quarantined messages.
//!
//! What more than one stage reads or writes is in one `Shared` value, defined here with `run`,
//! which wires the stages together. `partition.rs` names partitions.

mod chunks;
mod consumer;
mod context;
mod dead_letter;
mod durability;
mod offsets;
mod out_of_scope;
mod partition;
mod poll;
mod sequencer;

pub use consumer::client_config;

use crate::config::IngestConfig;
use crate::metrics::Metrics;
use crate::witnessing;
use chunks::{DecodeStage, Dispatch};
use context::IngestContext;
use dead_letter::DeadLetters;
use durability::{Progress, Sink};
use idledger_ledger::{Ledger, LedgerError, Position};
use partition::TopicPartition;
use poll::Poller;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use sequencer::Sequencer;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("kafka client configuration: {0}")]
    Config(KafkaError),
    #[error("cannot subscribe to {topics:?}: {source}")]
    Subscribe {
        topics: Vec<String>,
        source: KafkaError,
    },
    #[error("fatal kafka error: {0}; check brokers, credentials and -X settings")]
    Fatal(String),
    #[error(
        "a message cannot be consumed ({source}); ingest stopped rather than skip it. The \
         ledger's positions end before it, so nothing is lost: ingest resumes there once the \
         cause is fixed. The message is the next one of a partition the ledger holds less of \
         than the broker: {behind} (docs/DURABILITY.md item 8)"
    )]
    Unconsumable {
        source: KafkaError,
        /// The partitions the ledger holds less of than the broker at the stop, each with the
        /// offset it stops at: the unconsumable message is at one of them.
        behind: String,
    },
    #[error(
        "{topic}/{partition} ends at offset {end} on the broker, but this ledger already holds it \
         up to offset {position}: the topic was deleted and recreated, or these are not the \
         brokers this ledger read. Its messages are not the ones the ledger holds, and skipping \
         them as already present would lose them; ingest them into a new ledger"
    )]
    PartitionBehindLedger {
        topic: String,
        partition: i32,
        end: i64,
        position: i64,
    },
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("pipeline thread failed: {0}")]
    Thread(String),
}

/// What a finished run did.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    pub appended: u64,
    pub quarantined: u64,
    pub deduplicated: u64,
    pub skipped_below_position: u64,
    /// Offsets recorded as unavailable (`OffsetsUnavailable` entries): gone from the broker
    /// before ingest read them.
    pub offsets_unavailable: u64,
    /// Records well-formed but outside idledger's scope (`OutOfScope` entries count them).
    pub out_of_scope: u64,
    pub batches: u64,
    pub tree_size: u64,
    pub positions: Vec<Position>,
    /// When the sequencer received its first messages, and when its last batch was durable.
    pub first_received: Option<Instant>,
    pub last_durable: Option<Instant>,
}

impl IngestSummary {
    /// Time spent ingesting: from the first messages received to the last batch made durable
    /// (start-up, group join and idle time after the last batch are not counted).
    pub fn busy(&self) -> Duration {
        match (self.first_received, self.last_durable) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            _ => Duration::ZERO,
        }
    }
}

/// A handle to stop a running ingest from another thread (e.g. a signal handler).
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }
    pub fn request(&self) {
        self.0.store(true, SeqCst);
    }
    pub fn requested(&self) -> bool {
        self.0.load(SeqCst)
    }
}

/// What the sequencer thread hands back: the run's summary and the ledger.
type Sequenced = Result<(IngestSummary, Ledger), IngestError>;

/// What the stages share: the consumer's callbacks (through its context), the polling loop and
/// the sequencer each hold it.
struct Shared {
    /// The next offset per partition as durable in the ledger: loaded at start, published by
    /// the sequencer once a batch is durable, read on assignment, revocation and for lag.
    positions: Mutex<HashMap<TopicPartition, i64>>,
    /// Low and high watermarks per partition, from librdkafka's statistics (never blocks), or
    /// asked of the broker when the statistics have none.
    watermarks: Mutex<HashMap<TopicPartition, (i64, i64)>>,
    /// Where polled messages go: filled by the polling thread, flushed on revocation too.
    dispatch: Mutex<Dispatch>,
    progress: Progress,
    /// The partitions this consumer owns.
    assigned: Mutex<BTreeSet<TopicPartition>>,
    /// Bumped on every change of `assigned`, so the sequencer re-reads it only then.
    assigned_epoch: AtomicU64,
    /// A fatal client error, reported by a callback and returned by the polling loop.
    fatal: Mutex<Option<String>>,
    /// Set once polling has ended: the sequencer writes what is left and finishes.
    stopping: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Shared {
    fn new(positions: Vec<Position>, dispatch: Dispatch, metrics: Arc<Metrics>) -> Shared {
        Shared {
            positions: Mutex::new(
                positions
                    .into_iter()
                    .map(|p| (TopicPartition::new(p.topic, p.partition), p.next_offset))
                    .collect(),
            ),
            watermarks: Mutex::new(HashMap::new()),
            dispatch: Mutex::new(dispatch),
            progress: Progress::default(),
            assigned: Mutex::new(BTreeSet::new()),
            assigned_epoch: AtomicU64::new(0),
            fatal: Mutex::new(None),
            stopping: AtomicBool::new(false),
            metrics,
        }
    }

    /// If a thread cannot start, the ones already running wait for input that will never
    /// come: close their inputs so the scope can end with the error.
    fn abandon(&self, what: &str, e: std::io::Error) -> IngestError {
        locked(&self.dispatch).close();
        IngestError::Thread(format!("cannot start {what}: {e}"))
    }

    /// Polling has ended: hands on the last chunk and closes the workers' inputs, which drains
    /// the pipeline; the sequencer then writes what is left.
    fn stop(&self) {
        {
            let mut d = locked(&self.dispatch);
            d.flush();
            d.close();
        }
        self.stopping.store(true, SeqCst);
    }
}

/// Locks a mutex, also one whose holder panicked: the values behind the pipeline's locks are
/// changed a statement at a time, never left half-changed, and a panicked thread's failure is
/// reported where it is joined.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs ingest until `shutdown` is requested (or, with `stop_when_caught_up`, until every
/// assigned partition is fully in the ledger). Blocking: call it from a dedicated thread.
/// Returns the ledger so the caller can keep using it.
pub fn run(
    mut ledger: Ledger,
    config: &IngestConfig,
    shutdown: &Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(IngestSummary, Ledger), IngestError> {
    let stored = ledger.positions()?;
    let DecodeStage {
        dispatch,
        workers,
        decoded,
    } = DecodeStage::new(
        config.workers.max(1),
        config.queue_chunks.max(1),
        config.dead_letter_topic.is_some(),
        Arc::new(config.formats.clone()),
    );
    let shared = Arc::new(Shared::new(stored, dispatch, metrics));
    let consumer = consumer::subscribe(config, shared.clone())?;
    let dead_letters = DeadLetters::connect(config).map_err(IngestError::Config)?;
    shared.metrics.tree_size.store(ledger.size().0, Relaxed);
    let cosignatures = ledger.cosignature_store();
    let witnessing_done = AtomicBool::new(false);
    let shared = &*shared;

    std::thread::scope(|scope| -> Sequenced {
        if !config.witnessing.witnesses.is_empty() {
            let (cosignatures, done) = (&cosignatures, &witnessing_done);
            std::thread::Builder::new()
                .name("ingest-witnessing".into())
                .spawn_scoped(scope, move || {
                    witnessing::run(&config.witnessing, cosignatures, &shared.metrics, done);
                })
                .map_err(|e| shared.abandon("the witness submitters", e))?;
        }
        // Ends the submitters however this scope is left, after their last round.
        let _finish = witnessing::Finish(&witnessing_done);
        // Named threads, so `top -H` and profiles show which stage is busy.
        for (w, worker) in workers.into_iter().enumerate() {
            std::thread::Builder::new()
                .name(format!("ingest-decode-{w}"))
                .spawn_scoped(scope, move || worker.run())
                .map_err(|e| shared.abandon("a decode worker", e))?;
        }
        let sequencer = {
            let consumer = Arc::clone(&consumer);
            std::thread::Builder::new()
                .name("ingest-sequence".into())
                .spawn_scoped(scope, move || -> Sequenced {
                    let mut summary = IngestSummary::default();
                    let sink =
                        Sink::new(&mut ledger, shared, &consumer, dead_letters, &mut summary);
                    Sequencer::new(shared, &consumer, decoded, config, sink).run()?;
                    summary.tree_size = ledger.size().0;
                    summary.positions = ledger.positions()?;
                    Ok((summary, ledger))
                })
                .map_err(|e| shared.abandon("the sequencer", e))?
        };

        // The polling loop runs here, on the caller's thread.
        let poll_result = Poller::new(&consumer, shared, config, shutdown, &sequencer).run();
        shared.stop();
        let sequenced = sequencer
            .join()
            .map_err(|_| IngestError::Thread("sequencer panicked".into()))?;
        let (summary, ledger) = sequenced?;
        commit_final_positions(&consumer, shared, &summary.positions);
        poll_result.map_err(|e| match e {
            IngestError::Unconsumable { source, .. } => IngestError::Unconsumable {
                source,
                behind: behind_broker(
                    &locked(&shared.assigned),
                    &locked(&shared.watermarks),
                    &summary.positions,
                ),
            },
            e => e,
        })?;
        info!(
            appended = summary.appended,
            quarantined = summary.quarantined,
            deduplicated = summary.deduplicated,
            tree_size = summary.tree_size,
            "ingest stopped"
        );
        Ok((summary, ledger))
    })
}

/// The `assigned` partitions whose stored position is below the broker's high watermark, each
/// as `topic/partition at offset P of H`: where an unconsumable message can be.
fn behind_broker(
    assigned: &BTreeSet<TopicPartition>,
    watermarks: &HashMap<TopicPartition, (i64, i64)>,
    positions: &[Position],
) -> String {
    let mut behind: Vec<String> = Vec::new();
    for tp in assigned {
        let stored = positions
            .iter()
            .find(|p| p.topic == tp.topic && p.partition == tp.partition)
            .map_or(0, |p| p.next_offset);
        if let Some(&(_, high)) = watermarks.get(tp)
            && stored < high
        {
            behind.push(format!("{tp} at offset {stored} of {high}"));
        }
    }
    if behind.is_empty() {
        "none is known to be (the broker's offsets were not reported)".to_owned()
    } else {
        behind.join(", ")
    }
}

/// Commits the final positions of the partitions still assigned, so group tooling shows no lag.
fn commit_final_positions(
    consumer: &BaseConsumer<IngestContext>,
    shared: &Shared,
    positions: &[Position],
) {
    let mut tpl = TopicPartitionList::new();
    for p in positions {
        if locked(&shared.assigned).contains(&TopicPartition::new(p.topic.clone(), p.partition)) {
            let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset));
        }
    }
    // Asynchronous: closing the consumer sends it before leaving the group, and a broker
    // that has gone cannot hold the exit for its request timeout.
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
    {
        warn!(error = %e, "final offset commit failed (the ledger holds the positions)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partitions_behind_the_broker_are_named_with_their_offsets() {
        let tp = |t: &str, p| TopicPartition::new(t, p);
        let assigned: BTreeSet<TopicPartition> = [tp("a", 0), tp("a", 1), tp("b", 0)].into();
        let watermarks: HashMap<TopicPartition, (i64, i64)> = [
            (tp("a", 0), (0, 40)),
            (tp("a", 1), (0, 7)),
            (tp("b", 0), (3, 9)),
        ]
        .into();
        let positions = vec![
            Position {
                topic: "a".into(),
                partition: 0,
                next_offset: 17,
            },
            Position {
                topic: "a".into(),
                partition: 1,
                next_offset: 7,
            },
        ];
        assert_eq!(
            behind_broker(&assigned, &watermarks, &positions),
            "a/0 at offset 17 of 40, b/0 at offset 0 of 9"
        );
        assert_eq!(
            behind_broker(&assigned, &HashMap::new(), &positions),
            "none is known to be (the broker's offsets were not reported)"
        );
    }
}
