//! The sequencer (thread `ingest-sequence`): reads decoded chunks back in the order they were
//! dispatched, so each partition keeps its order; drops what is already in the ledger or no
//! longer assigned; records offsets gone from the broker; and forms the batches the `Sink`
//! writes.

use super::chunks::{Chunk, Decoded};
use super::context::IngestContext;
use super::durability::Sink;
use super::offsets::OffsetChecks;
use super::partition::PartitionMap;
use super::{IngestError, Shared, locked};
use crate::config::IngestConfig;
use rdkafka::consumer::BaseConsumer;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The sequencer's state between two chunks.
pub(super) struct Sequencer<'a> {
    shared: &'a Shared,
    /// One per decode worker, read round-robin as chunks were dispatched.
    receivers: Vec<Receiver<Chunk<Decoded>>>,
    next: usize,
    /// Workers whose output has closed, and how many are still open.
    closed: Vec<bool>,
    open: usize,
    /// The next offset this ledger accepts per partition: its stored position, raised by every
    /// message taken into a batch. Only this thread writes positions, so it keeps its own copy.
    floors: PartitionMap,
    /// The partitions assigned, as of `owned_epoch` (the values are unused).
    owned: PartitionMap,
    owned_epoch: u64,
    checks: OffsetChecks<'a>,
    batch: Vec<Decoded>,
    batch_started: Instant,
    /// Messages dropped since the last batch was submitted: they count as processed with it.
    skipped_in_batch: u64,
    batch_max: usize,
    linger: Duration,
    sink: Sink<'a>,
}

impl<'a> Sequencer<'a> {
    pub(super) fn new(
        shared: &'a Shared,
        consumer: &'a BaseConsumer<IngestContext>,
        receivers: Vec<Receiver<Chunk<Decoded>>>,
        config: &IngestConfig,
        sink: Sink<'a>,
    ) -> Sequencer<'a> {
        let mut floors = PartitionMap::default();
        for (tp, next) in locked(&shared.positions).iter() {
            floors.set(&tp.topic, tp.partition, *next);
        }
        let batch_max = config.batch_max.max(1);
        Sequencer {
            shared,
            next: 0,
            closed: vec![false; receivers.len()],
            open: receivers.len(),
            receivers,
            floors,
            owned: PartitionMap::default(),
            owned_epoch: u64::MAX,
            checks: OffsetChecks::new(consumer, shared),
            batch: Vec::with_capacity(batch_max),
            batch_started: Instant::now(),
            skipped_in_batch: 0,
            batch_max,
            linger: config.batch_linger,
            sink,
        }
    }

    /// Runs until every decode worker's output has closed and all it took is durable.
    pub(super) fn run(mut self) -> Result<(), IngestError> {
        loop {
            let received = if self.closed[self.next] {
                Err(RecvTimeoutError::Disconnected)
            } else {
                let wait = self.wait();
                self.receivers[self.next].recv_timeout(wait.max(Duration::from_millis(1)))
            };
            match received {
                Ok(chunk) => {
                    self.next = (self.next + 1) % self.receivers.len();
                    self.sink
                        .summary
                        .first_received
                        .get_or_insert_with(Instant::now);
                    self.refresh_owned();
                    for d in chunk {
                        self.take(d)?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.batch.is_empty() {
                        self.sink.finish()?;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if self.close_current() {
                        self.sink.submit(&mut self.batch, self.skipped_in_batch)?;
                        self.sink.finish()?;
                        self.sink.flush_dead_letters();
                        return Ok(());
                    }
                }
            }
            self.submit_when_due()?;
        }
    }

    /// How long to wait for the next chunk.
    fn wait(&self) -> Duration {
        if self.batch.is_empty() && self.sink.writing() {
            // A batch is being written and nothing waits to join the next: look briefly, then
            // make it durable rather than leave it unacknowledged.
            Duration::from_millis(1)
        } else if self.batch.is_empty() {
            Duration::from_millis(50)
        } else {
            self.linger.saturating_sub(self.batch_started.elapsed())
        }
    }

    /// Re-reads the assigned partitions if they changed since the last chunk.
    fn refresh_owned(&mut self) {
        let epoch = self.shared.assigned_epoch.load(SeqCst);
        if epoch != self.owned_epoch {
            self.owned_epoch = epoch;
            self.owned = PartitionMap::default();
            for tp in locked(&self.shared.assigned).iter() {
                self.owned.set(&tp.topic, tp.partition, 0);
            }
        }
    }

    /// Takes one message into the batch, or drops it.
    fn take(&mut self, d: Decoded) -> Result<(), IngestError> {
        if self.owned.get(&d.topic, d.partition).is_none() {
            // Revoked while in flight: the next owner reads it from the group offset.
            self.skipped_in_batch += 1;
            return Ok(());
        }
        let expected = self.floors.get(&d.topic, d.partition);
        if let Some(position) = expected
            && d.offset < position
        {
            self.checks.ensure_partition_reaches(&d, position)?;
            // Already in the ledger (a re-delivery after a seek or rebalance).
            self.shared
                .metrics
                .skipped_below_position
                .fetch_add(1, Relaxed);
            self.sink.summary.skipped_below_position += 1;
            self.skipped_in_batch += 1;
            return Ok(());
        }
        if self.batch.is_empty() {
            self.batch_started = Instant::now();
        }
        if let Some(expected) = expected
            && d.offset > expected
            && let Some(gap) = self.checks.gone_from_broker(&d, expected)
        {
            self.batch.push(gap);
        }
        self.floors.set(&d.topic, d.partition, d.offset + 1);
        self.batch.push(d);
        if self.batch.len() >= self.batch_max {
            self.sink.submit(&mut self.batch, self.skipped_in_batch)?;
            self.skipped_in_batch = 0;
        }
        Ok(())
    }

    /// The current worker's output has closed: moves on to the next; true once all have.
    fn close_current(&mut self) -> bool {
        if !self.closed[self.next] {
            self.closed[self.next] = true;
            self.open -= 1;
        }
        self.next = (self.next + 1) % self.receivers.len();
        self.open == 0
    }

    /// Submits the batch once it has lingered long enough or someone waits for it; otherwise
    /// counts what was dropped meanwhile as processed.
    fn submit_when_due(&mut self) -> Result<(), IngestError> {
        let flush = self.shared.progress.flush_requested.swap(false, SeqCst);
        let stopping = self.shared.stopping.load(SeqCst);
        if (!self.batch.is_empty() && self.batch_started.elapsed() >= self.linger)
            || flush
            || (stopping && self.open == 0)
        {
            self.sink.submit(&mut self.batch, self.skipped_in_batch)?;
            self.skipped_in_batch = 0;
            if flush || stopping {
                // Someone waits for everything to be durable (a revocation, or shutdown).
                self.sink.finish()?;
            }
        } else if self.batch.is_empty() && self.skipped_in_batch > 0 {
            self.shared.progress.add(self.skipped_in_batch);
            self.skipped_in_batch = 0;
        }
        Ok(())
    }
}
