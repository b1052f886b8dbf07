//! Accounting for durable batches: the sequencer's `Sink` hands batches to the ledger and, once
//! each is durable (and not before, docs/DURABILITY.md item 1), publishes its positions,
//! counts, dead letters and group commit; `Progress` tells the polling thread how far that got.

use super::chunks::Decoded;
use super::context::IngestContext;
use super::dead_letter::{DeadLetter, DeadLetters};
use super::out_of_scope::OutOfScope;
use super::partition::{PartitionMap, TopicPartition};
use super::{IngestError, IngestSummary, Shared, locked};
use idledger_ledger::{AppendReport, Item, Ledger, Outcome, Position};
use idledger_proto::entry::{MessageKey, Origin, SystemRecord};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// Progress shared between the sequencer and the polling thread.
#[derive(Default)]
pub(super) struct Progress {
    /// Messages whose fate is durable (appended, deduplicated or skipped).
    pub(super) processed: Mutex<u64>,
    changed: Condvar,
    pub(super) flush_requested: AtomicBool,
}

impl Progress {
    pub(super) fn add(&self, n: u64) {
        let mut p = locked(&self.processed);
        *p += n;
        self.changed.notify_all();
    }

    pub(super) fn wait_for(&self, target: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut p = locked(&self.processed);
        while *p < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            p = self
                .changed
                .wait_timeout(p, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// What one submission of a batch is, for accounting once it is durable.
enum Kind {
    Message,
    /// A quarantined message, with its reason's class.
    Rejected(&'static str),
    /// A record of this many offsets gone from the broker.
    Unavailable(u64),
    /// A record of this many out-of-scope records.
    OutOfScope(u64),
}

/// A batch handed to the ledger whose write may still be in flight, with what is needed to
/// account for it once durable.
struct PendingBatch {
    /// Messages in the batch (every submission but the records of unavailable offsets).
    n: u64,
    skipped: u64,
    kinds: Vec<Kind>,
    dead: Vec<Option<DeadLetter>>,
    positions: Vec<Position>,
    submitted: Instant,
}

/// The sequencer's end of the pipeline: hands batches to the ledger (the write of one overlaps
/// the preparation of the next) and, once each is durable, publishes its positions, counts,
/// dead letters and group commit.
pub(super) struct Sink<'a> {
    ledger: &'a mut Ledger,
    shared: &'a Shared,
    consumer: &'a BaseConsumer<IngestContext>,
    dead_letters: Option<DeadLetters>,
    pub(super) summary: &'a mut IngestSummary,
    pending: Option<PendingBatch>,
}

impl<'a> Sink<'a> {
    pub(super) fn new(
        ledger: &'a mut Ledger,
        shared: &'a Shared,
        consumer: &'a BaseConsumer<IngestContext>,
        dead_letters: Option<DeadLetters>,
        summary: &'a mut IngestSummary,
    ) -> Sink<'a> {
        Sink {
            ledger,
            shared,
            consumer,
            dead_letters,
            summary,
            pending: None,
        }
    }

    /// A batch is being written and not yet acknowledged.
    pub(super) fn writing(&self) -> bool {
        self.pending.is_some()
    }

    /// Submits the batch (and accounts for messages skipped since the last one).
    pub(super) fn submit(
        &mut self,
        batch: &mut Vec<Decoded>,
        skipped: u64,
    ) -> Result<(), IngestError> {
        if batch.is_empty() {
            self.shared.progress.add(skipped);
            return Ok(());
        }
        let mut next_offsets = PartitionMap::default();
        for d in batch.iter() {
            let next = next_offsets.get(&d.topic, d.partition).unwrap_or(i64::MIN);
            next_offsets.set(&d.topic, d.partition, next.max(d.offset + 1));
        }
        let messages = batch
            .iter()
            .filter(
                |d| !matches!(d.submissions.as_slice(), [s] if matches!(s.item, Item::System(_))),
            )
            .count() as u64;
        let mut submissions = Vec::with_capacity(batch.len());
        let mut dead = Vec::with_capacity(batch.len());
        let mut out_of_scope = OutOfScope::default();
        for d in batch.drain(..) {
            if let Some(Origin::Kafka(k)) = d.submissions.first().map(|s| &s.origin)
                && let MessageKey::Redacted { total_len, .. } = k.key
            {
                self.shared.metrics.keys_redacted.fetch_add(1, Relaxed);
                warn!(
                    topic = %d.topic,
                    partition = d.partition,
                    offset = d.offset,
                    key_len = total_len,
                    "message key carries secret material: only its hash is kept"
                );
            }
            out_of_scope.add(&d);
            // The message's dead letter goes with its first rejected record.
            let mut letter = d.dead_letter.map(|raw| DeadLetter {
                topic: d.topic.clone(),
                partition: d.partition,
                offset: d.offset,
                raw,
            });
            for submission in d.submissions {
                let rejected = matches!(submission.item, Item::Rejected(_));
                dead.push(if rejected { letter.take() } else { None });
                submissions.push(submission);
            }
        }
        for record in out_of_scope.records() {
            dead.push(None);
            submissions.push(record);
        }
        let kinds: Vec<Kind> = submissions
            .iter()
            .map(|s| match &s.item {
                Item::Rejected(r) => Kind::Rejected(r.reason.class()),
                Item::System(SystemRecord::OffsetsUnavailable { first, end, .. }) => {
                    Kind::Unavailable((end - first).max(0) as u64)
                }
                Item::System(SystemRecord::OutOfScope { counts, .. }) => {
                    Kind::OutOfScope(counts.iter().map(|(_, n)| n).sum())
                }
                _ => Kind::Message,
            })
            .collect();
        let positions: Vec<Position> = next_offsets
            .iter()
            .map(|(topic, partition, next)| Position {
                topic: topic.to_owned(),
                partition,
                next_offset: next,
            })
            .collect();
        let this = PendingBatch {
            n: messages,
            skipped,
            kinds,
            dead,
            positions,
            submitted: Instant::now(),
        };
        let previous = self.ledger.submit(submissions, &this.positions)?;
        if let (Some(report), Some(done)) = (previous, self.pending.take()) {
            self.durable(done, report);
        }
        self.pending = Some(this);
        Ok(())
    }

    /// Waits until everything submitted is durable.
    pub(super) fn finish(&mut self) -> Result<(), IngestError> {
        if let Some(report) = self.ledger.finish()?
            && let Some(done) = self.pending.take()
        {
            self.durable(done, report);
        }
        Ok(())
    }

    /// Waits (up to 10 s) for the dead letters produced so far to be delivered.
    pub(super) fn flush_dead_letters(&self) {
        if let Some(d) = &self.dead_letters {
            d.flush();
        }
    }

    /// A batch is durable: count it, then publish it.
    fn durable(&mut self, batch: PendingBatch, report: AppendReport) {
        let metrics = &*self.shared.metrics;
        metrics.observe_batch(batch.n, batch.submitted.elapsed().as_secs_f64());
        metrics.tree_size.store(report.size.0, Relaxed);
        metrics.last_checkpoint_unix_ms.store(
            idledger_proto::Timestamp::now().0.max(0) as u64 / 1_000_000,
            Relaxed,
        );
        self.count_outcomes(&batch.kinds, batch.dead, &report);
        if let Some(d) = &self.dead_letters {
            d.poll();
        }
        self.summary.batches += 1;
        self.summary.last_durable = Some(Instant::now());
        self.publish(&batch.positions, batch.n + batch.skipped);
        debug!(
            size = report.size.0,
            entries = batch.n,
            prepare_ms = report.elapsed.as_millis() as u64,
            "batch appended"
        );
    }

    /// Counts each submission's outcome, and produces the batch's dead letters.
    fn count_outcomes(
        &mut self,
        kinds: &[Kind],
        mut dead: Vec<Option<DeadLetter>>,
        report: &AppendReport,
    ) {
        let metrics = &*self.shared.metrics;
        for (i, outcome) in report.outcomes.iter().enumerate() {
            match outcome {
                Outcome::Appended(_) => {
                    if let Some(Kind::Unavailable(n)) = kinds.get(i) {
                        metrics.offsets_unavailable.fetch_add(*n, Relaxed);
                        self.summary.offsets_unavailable += n;
                    } else if let Some(Kind::OutOfScope(n)) = kinds.get(i) {
                        metrics.out_of_scope.fetch_add(*n, Relaxed);
                        self.summary.out_of_scope += n;
                    } else {
                        metrics.appended.fetch_add(1, Relaxed);
                        self.summary.appended += 1;
                    }
                }
                Outcome::Quarantined(seq) => {
                    let class = match kinds.get(i) {
                        Some(Kind::Rejected(class)) => class,
                        _ => "conflicting_duplicate",
                    };
                    metrics.count_quarantine(class);
                    self.summary.quarantined += 1;
                    if let (Some(d), Some(letter)) = (&self.dead_letters, dead[i].take()) {
                        d.send(letter, class, *seq, metrics);
                    }
                }
                Outcome::Duplicate(_) => {
                    metrics.deduplicated.fetch_add(1, Relaxed);
                    self.summary.deduplicated += 1;
                }
            }
        }
    }

    /// Publishes a durable batch's positions, then its messages as processed, then commits the
    /// positions to the group.
    fn publish(&self, positions: &[Position], processed: u64) {
        {
            let mut stored = locked(&self.shared.positions);
            for p in positions {
                stored.insert(TopicPartition::new(&*p.topic, p.partition), p.next_offset);
            }
        }
        self.shared.progress.add(processed);
        // The ledger is the truth for this ledger; the group offset shows lag in ordinary
        // tooling and tells the next owner of a partition where this ledger stopped. It is
        // committed asynchronously after every batch (the pipeline does not wait a broker round
        // trip per batch), and synchronously when partitions are revoked and at shutdown.
        let mut tpl = TopicPartitionList::new();
        for p in positions {
            let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset));
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            debug!(error = %e, "offset commit to the group failed (the ledger holds the positions)");
        }
    }
}
