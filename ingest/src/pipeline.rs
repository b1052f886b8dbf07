//! The ingest pipeline: a polling thread, decode/validate workers, and one sequencer that writes
//! batches (with their Kafka positions) to the ledger. Order within a partition is preserved:
//! chunks go to workers round-robin and the sequencer reads them back in the same order.

use crate::config::IngestConfig;
use crate::metrics::Metrics;
use idledger_ledger::{AppendReport, Item, Ledger, LedgerError, Outcome, Position, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::{KafkaOrigin, MessageKey, Origin, SystemRecord};
use idledger_proto::rejection::{KeptPayload, Rejection};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, error, info, warn};

/// Low and high watermark per (topic, partition), from librdkafka's statistics.
type Watermarks = Mutex<HashMap<TopicPartition, (i64, i64)>>;

/// A quarantined message to produce to the dead-letter topic: topic, partition, offset, bytes.
type DeadLetter = (Arc<str>, i32, i64, Vec<u8>);

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

/// A message as polled; its key and payload are in its chunk's buffer.
struct RawMessage {
    /// Shared by every message of the topic (interned by the polling thread).
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    key: Option<Range<usize>>,
    payload: Option<Range<usize>>,
}

/// Polled messages on their way to a decode worker. Their keys and payloads are copied into one
/// buffer, which the worker hands back empty (with its list of messages) for the polling thread
/// to fill again: in a steady stream no polled message costs an allocation of its own, and the
/// chunk's buffers are not freed by a thread other than the one that allocated them (such frees
/// are the slow path of any allocator; glibc's, used by this crate's tests, takes the allocating
/// arena's lock; the binary runs on jemalloc).
#[derive(Default)]
struct RawChunk {
    bytes: Vec<u8>,
    messages: Vec<RawMessage>,
}

/// A chunk buffer that grew past this (a chunk of unusually large messages) is freed rather
/// than kept for reuse, so the spares hold at most this much each.
const SPARE_CHUNK_MAX_BYTES: usize = 4 << 20;

impl RawChunk {
    fn push(
        &mut self,
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
    ) {
        let mut place = |b: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(b);
            start..self.bytes.len()
        };
        let key = key.map(&mut place);
        let payload = payload.map(&mut place);
        self.messages.push(RawMessage {
            topic,
            partition,
            offset,
            timestamp_ms,
            key,
            payload,
        });
    }

    /// Emptied for reuse, or `None` if it is too large to keep.
    fn into_spare(mut self) -> Option<RawChunk> {
        if self.bytes.capacity() > SPARE_CHUNK_MAX_BYTES {
            return None;
        }
        self.bytes.clear();
        self.messages.clear();
        Some(self)
    }
}

/// A decoded message, ready for the sequencer.
struct Decoded {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    submission: Submission,
    /// Raw bytes for the dead-letter topic (only for quarantined, non-secret messages).
    dead_letter: Option<Vec<u8>>,
}

type Chunk<T> = Vec<T>;

/// Hands chunks of polled messages to workers in round-robin order.
struct Dispatch {
    pending: RawChunk,
    next_worker: usize,
    senders: Vec<SyncSender<RawChunk>>,
    /// Chunks the workers have emptied, to be filled again.
    spares: Receiver<RawChunk>,
    sent: u64,
}

impl Dispatch {
    fn flush(&mut self) -> bool {
        if self.pending.messages.is_empty() {
            return true;
        }
        let spare = self.spares.try_recv().unwrap_or_default();
        let chunk = std::mem::replace(&mut self.pending, spare);
        let n = chunk.messages.len() as u64;
        let worker = self.next_worker;
        self.next_worker = (self.next_worker + 1) % self.senders.len();
        if self.senders[worker].send(chunk).is_err() {
            return false;
        }
        self.sent += n;
        true
    }
}

/// Progress shared between the sequencer and the polling thread.
#[derive(Default)]
struct Progress {
    /// Messages whose fate is durable (appended, deduplicated or skipped).
    processed: Mutex<u64>,
    changed: Condvar,
    flush_requested: AtomicBool,
}

impl Progress {
    fn add(&self, n: u64) {
        let mut p = self.processed.lock().unwrap_or_else(|e| e.into_inner());
        *p += n;
        self.changed.notify_all();
    }
    fn wait_for(&self, target: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut p = self.processed.lock().unwrap_or_else(|e| e.into_inner());
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

type Positions = Arc<Mutex<HashMap<TopicPartition, i64>>>;

/// One partition of one topic. Ordered by topic, then partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct TopicPartition {
    topic: String,
    partition: i32,
}

impl TopicPartition {
    fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A value per (topic, partition), looked up by `&str` without allocating.
#[derive(Default)]
struct PartitionMap(HashMap<String, HashMap<i32, i64>>);

impl PartitionMap {
    fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.0.get(topic)?.get(&partition).copied()
    }
    fn set(&mut self, topic: &str, partition: i32, value: i64) {
        match self.0.get_mut(topic) {
            Some(m) => {
                m.insert(partition, value);
            }
            None => {
                self.0
                    .insert(topic.to_owned(), HashMap::from([(partition, value)]));
            }
        }
    }
}

/// Consumer callbacks: seek to the ledger's positions on assignment, drain and commit on
/// revocation, record fatal errors.
struct IngestContext {
    positions: Positions,
    /// Low and high watermarks per partition, from librdkafka's statistics (never blocks).
    watermarks: Arc<Watermarks>,
    dispatch: Arc<Mutex<Dispatch>>,
    progress: Arc<Progress>,
    assigned: Arc<Mutex<BTreeSet<TopicPartition>>>,
    /// Bumped on every change of `assigned`, so the sequencer re-reads it only then.
    assigned_epoch: Arc<AtomicU64>,
    fatal: Arc<Mutex<Option<String>>>,
    metrics: Arc<Metrics>,
    /// Set once the pipeline has stopped and the consumer is leaving the group.
    closing: AtomicBool,
}

impl ClientContext for IngestContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut w = self.watermarks.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.hi_offset >= 0 {
                    w.insert(
                        TopicPartition::new(topic.clone(), *partition),
                        (p.lo_offset.max(0), p.hi_offset),
                    );
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.metrics.broker_errors.fetch_add(1, Relaxed);
        let code = error.rdkafka_error_code();
        let fatal = matches!(
            code,
            Some(
                RDKafkaErrorCode::Fatal
                    | RDKafkaErrorCode::Authentication
                    | RDKafkaErrorCode::SaslAuthenticationFailed
                    | RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::GroupAuthorizationFailed
                    | RDKafkaErrorCode::ClusterAuthorizationFailed
                    | RDKafkaErrorCode::InvalidArgument
            )
        );
        if fatal {
            error!(error = %error, reason, "fatal kafka error");
            *self.fatal.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{error}: {reason}"));
        } else {
            warn!(error = %error, reason, "kafka client error, retrying");
        }
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                warn!(error = ?other, "rebalance error");
                if let Err(e) = consumer.unassign() {
                    warn!(error = %e, "unassign after rebalance error failed");
                }
            }
        }
    }
}

impl IngestContext {
    /// Starts each partition at the ledger's stored position, or at the group's committed offset
    /// if another member (with its own ledger) got further, or at the beginning.
    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok();
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut starts = Vec::new();
        for el in tpl.elements() {
            let stored = positions
                .get(&TopicPartition::new(el.topic(), el.partition()))
                .copied();
            let group = committed.as_ref().and_then(|c| {
                match c.find_partition(el.topic(), el.partition())?.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                }
            });
            let start = match (stored, group) {
                (Some(s), Some(g)) if g > s => {
                    // Another member, with its own ledger, consumed past this ledger's position.
                    warn!(
                        topic = el.topic(),
                        partition = el.partition(),
                        ledger = s,
                        group = g,
                        "group committed past this ledger; starting at the group offset"
                    );
                    Offset::Offset(g)
                }
                (Some(s), _) => Offset::Offset(s),
                (None, Some(g)) => Offset::Offset(g),
                (None, None) => Offset::Beginning,
            };
            info!(topic = el.topic(), partition = el.partition(), start = ?start, "partition assigned");
            starts.push((el.topic().to_owned(), el.partition(), start));
        }
        let mut assigned = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition, start) in starts {
            if let Err(e) = tpl.set_partition_offset(&topic, partition, start) {
                warn!(topic, partition, error = %e, "cannot set start offset");
            }
            assigned.insert(TopicPartition::new(topic, partition));
        }
        self.assigned_epoch.fetch_add(1, SeqCst);
        if let Err(e) = consumer.assign(tpl) {
            error!(error = %e, "assign failed");
        }
    }

    /// Before giving partitions away: they leave the assigned set first, so the sequencer
    /// drops whatever it holds for them unappended (the next owner reads those messages from the
    /// group offset); then the pipeline drains, and the group offset is set to this ledger's
    /// position so the next owner starts exactly where this ledger stopped.
    ///
    /// Not when the consumer is leaving (the pipeline has stopped, and the final positions went
    /// out with the last commit) or the assignment is lost (the session expired: the group has
    /// already moved on, and the coordinator may be unreachable): a synchronous commit waits
    /// for a coordinator without limit, and the ledger holds the positions either way.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        {
            let mut assigned = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
            for el in tpl.elements() {
                assigned.remove(&TopicPartition::new(el.topic(), el.partition()));
            }
            self.assigned_epoch.fetch_add(1, SeqCst);
        }
        let closing = self.closing.load(SeqCst);
        if closing || consumer.assignment_lost() {
            for el in tpl.elements() {
                info!(
                    topic = el.topic(),
                    partition = el.partition(),
                    closing,
                    "partition revoked without a commit"
                );
            }
            if let Err(e) = consumer.unassign() {
                warn!(error = %e, "unassign failed");
            }
            return;
        }
        let target = {
            let mut d = self.dispatch.lock().unwrap_or_else(|e| e.into_inner());
            d.flush();
            d.sent
        };
        self.progress.flush_requested.store(true, SeqCst);
        if !self.progress.wait_for(target, Duration::from_secs(120)) {
            error!("revocation: pipeline did not drain in time");
        }
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut commit = TopicPartitionList::new();
        for el in tpl.elements() {
            if let Some(next) = positions.get(&TopicPartition::new(el.topic(), el.partition())) {
                let _ =
                    commit.add_partition_offset(el.topic(), el.partition(), Offset::Offset(*next));
            }
        }
        if commit.count() > 0 {
            // Usually already committed after the last batch; a broker in mid-rebalance may
            // refuse this one, which is harmless then.
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                debug!(error = %e, "commit on revocation not accepted");
            }
        }
        for el in tpl.elements() {
            info!(
                topic = el.topic(),
                partition = el.partition(),
                "partition revoked"
            );
        }
        if let Err(e) = consumer.unassign() {
            warn!(error = %e, "unassign failed");
        }
    }
}

/// A key's or payload's bytes in its chunk's buffer.
fn placed<'a>(bytes: &'a [u8], range: &Option<Range<usize>>) -> Option<&'a [u8]> {
    range.clone().map(|r| &bytes[r])
}

/// Decodes a chunk, handing back its emptied buffers.
fn decode_chunk(mut chunk: RawChunk, keep_dead_letters: bool) -> (Chunk<Decoded>, RawChunk) {
    let RawChunk { bytes, messages } = &mut chunk;
    let decoded = messages
        .drain(..)
        .map(|m| {
            let origin = Origin::Kafka(KafkaOrigin::new(
                &m.topic,
                m.partition,
                m.offset,
                m.timestamp_ms,
                placed(bytes, &m.key),
            ));
            let payload = placed(bytes, &m.payload);
            let (item, dead_letter) = match payload {
                None => (Item::Rejected(Rejection::tombstone()), None),
                Some(p) => match decode_event(p) {
                    Ok(ev) => (Item::Event(ev), None),
                    Err(rej) => {
                        let keep =
                            keep_dead_letters && matches!(rej.payload, KeptPayload::Raw { .. });
                        (Item::Rejected(rej), keep.then(|| p.to_vec()))
                    }
                },
            };
            Decoded {
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
                submission: Submission { origin, item },
                dead_letter,
            }
        })
        .collect();
    (decoded, chunk)
}

/// The librdkafka configuration ingest's consumer runs with (public so a benchmark can consume
/// under the same settings).
pub fn client_config(config: &IngestConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("max.poll.interval.ms", "300000")
        .set("session.timeout.ms", "10000")
        // Prefetch is bounded per partition (librdkafka applies both limits to each partition's
        // queue): at most ~300 messages or 1 MiB each, so memory stays flat whatever the backlog
        // (docs/DURABILITY.md).
        .set("queued.min.messages", "300")
        .set("queued.max.messages.kbytes", "1024")
        .set("fetch.max.bytes", "8388608")
        .set("max.partition.fetch.bytes", "524288")
        // When the prefetch queue is full, look again soon: the default waits a whole second,
        // which leaves the pipeline idle most of the time under a backlog.
        .set("fetch.queue.backoff.ms", "10")
        // A fetch names only the partitions whose prefetch queue has room. When those are all
        // caught up (a quiet partition beside a backlogged one), the broker holds the request
        // until fetch.wait.max.ms (default 500) and, with one fetch in flight per broker, the
        // backlogged partitions wait too: half-second stalls under load. 50 ms bounds that
        // for at most 20 empty fetches per second per broker when every partition is idle.
        .set("fetch.wait.max.ms", "50")
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "5000")
        // Watermarks for lag come from statistics so the polling thread never blocks on them.
        .set("statistics.interval.ms", "500");
    for (k, v) in &config.properties {
        c.set(k, v);
    }
    c
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

/// Runs ingest until `shutdown` is requested (or, with `stop_when_caught_up`, until every
/// assigned partition is fully in the ledger). Blocking: call it from a dedicated thread.
/// Returns the ledger so the caller can keep using it.
pub fn run(
    mut ledger: Ledger,
    config: &IngestConfig,
    shutdown: &Shutdown,
    metrics: Arc<Metrics>,
) -> Result<(IngestSummary, Ledger), IngestError> {
    let workers = config.workers.max(1);
    let positions: Positions = Arc::new(Mutex::new(
        ledger
            .positions()?
            .into_iter()
            .map(|p| (TopicPartition::new(p.topic, p.partition), p.next_offset))
            .collect(),
    ));
    let mut raw_senders = Vec::new();
    let mut raw_receivers = Vec::new();
    for _ in 0..workers {
        let (tx, rx) = sync_channel::<RawChunk>(config.queue_chunks.max(1));
        raw_senders.push(tx);
        raw_receivers.push(rx);
    }
    // As many spares as chunks can be queued, plus one being decoded per worker.
    let (spare_sender, spares) =
        sync_channel::<RawChunk>(workers * (config.queue_chunks.max(1) + 1));
    let dispatch = Arc::new(Mutex::new(Dispatch {
        pending: RawChunk::default(),
        next_worker: 0,
        senders: raw_senders,
        spares,
        sent: 0,
    }));
    let progress = Arc::new(Progress::default());
    let assigned = Arc::new(Mutex::new(BTreeSet::new()));
    let assigned_epoch = Arc::new(AtomicU64::new(0));
    let fatal = Arc::new(Mutex::new(None::<String>));
    let watermarks = Arc::new(Mutex::new(HashMap::new()));
    let context = IngestContext {
        positions: positions.clone(),
        watermarks: watermarks.clone(),
        dispatch: dispatch.clone(),
        progress: progress.clone(),
        assigned: assigned.clone(),
        assigned_epoch: assigned_epoch.clone(),
        fatal: fatal.clone(),
        metrics: metrics.clone(),
        closing: AtomicBool::new(false),
    };
    let consumer = ClosingConsumer(Some(Arc::new(
        client_config(config)
            .create_with_context(context)
            .map_err(IngestError::Config)?,
    )));
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|source| IngestError::Subscribe {
            topics: config.topics.clone(),
            source,
        })?;
    let producer: Option<BaseProducer> = match &config.dead_letter_topic {
        Some(_) => {
            let mut pc = ClientConfig::new();
            pc.set("bootstrap.servers", &config.brokers);
            for (k, v) in &config.properties {
                if !k.starts_with("group.") && !k.starts_with("enable.auto") {
                    pc.set(k, v);
                }
            }
            Some(pc.create().map_err(IngestError::Config)?)
        }
        None => None,
    };
    metrics.tree_size.store(ledger.size().0, Relaxed);

    let keep_dead_letters = config.dead_letter_topic.is_some();
    let (out_senders, out_receivers): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| sync_channel::<Chunk<Decoded>>(config.queue_chunks.max(1)))
        .unzip();
    let stop_sequencer = Arc::new(AtomicBool::new(false));

    std::thread::scope(|scope| -> Result<(IngestSummary, Ledger), IngestError> {
        // If a thread cannot start, the ones already running wait for input that will never
        // come: close their inputs so the scope can end with the error.
        let abandon = |what: &str, e: std::io::Error| {
            dispatch
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .senders
                .clear();
            IngestError::Thread(format!("cannot start {what}: {e}"))
        };
        // Named threads, so `top -H` and profiles show which stage is busy.
        for (w, (rx, tx)) in raw_receivers.into_iter().zip(out_senders).enumerate() {
            let spare_sender = spare_sender.clone();
            std::thread::Builder::new()
                .name(format!("ingest-decode-{w}"))
                .spawn_scoped(scope, move || {
                    for chunk in rx {
                        let (decoded, emptied) = decode_chunk(chunk, keep_dead_letters);
                        if tx.send(decoded).is_err() {
                            break;
                        }
                        // Full only if the polling thread has stopped taking spares.
                        if let Some(spare) = emptied.into_spare() {
                            let _ = spare_sender.try_send(spare);
                        }
                    }
                })
                .map_err(|e| abandon("a decode worker", e))?;
        }
        let sequencer = {
            let positions = positions.clone();
            let progress = progress.clone();
            let metrics = metrics.clone();
            let consumer = consumer.clone();
            let stop = stop_sequencer.clone();
            let assigned_for_sequencer = assigned.clone();
            let epoch_for_sequencer = assigned_epoch.clone();
            let dlq = config.dead_letter_topic.clone();
            let batch_max = config.batch_max.max(1);
            let linger = config.batch_linger;
            std::thread::Builder::new()
                .name("ingest-sequence".into())
                .spawn_scoped(
                    scope,
                    move || -> Result<(IngestSummary, Ledger), IngestError> {
                        let mut summary = IngestSummary::default();
                        sequence(
                            &mut ledger,
                            out_receivers,
                            &positions,
                            &progress,
                            &metrics,
                            &consumer,
                            producer.as_ref(),
                            dlq.as_deref(),
                            batch_max,
                            linger,
                            &stop,
                            (&assigned_for_sequencer, &epoch_for_sequencer),
                            &mut summary,
                        )?;
                        summary.tree_size = ledger.size().0;
                        summary.positions = ledger.positions()?;
                        Ok((summary, ledger))
                    },
                )
                .map_err(|e| abandon("the sequencer", e))?
        };

        // The polling loop runs here, on the caller's thread.
        let poll_result = poll_loop(
            &consumer,
            &watermarks,
            config,
            shutdown,
            &dispatch,
            &progress,
            &positions,
            &assigned,
            &fatal,
            &metrics,
            &sequencer,
        );
        // Closing the worker inputs drains the pipeline; the sequencer then writes what is left.
        {
            let mut d = dispatch.lock().unwrap_or_else(|e| e.into_inner());
            d.flush();
            d.senders.clear();
        }
        stop_sequencer.store(true, SeqCst);
        let sequenced = sequencer
            .join()
            .map_err(|_| IngestError::Thread("sequencer panicked".into()))?;
        let (summary, ledger) = sequenced?;
        // Commit the final positions so group tooling shows no lag.
        let mut tpl = TopicPartitionList::new();
        for p in &summary.positions {
            if assigned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&TopicPartition::new(p.topic.clone(), p.partition))
            {
                let _ =
                    tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset));
            }
        }
        // Asynchronous: closing the consumer sends it before leaving the group, and a broker
        // that has gone cannot hold the exit for its request timeout.
        if tpl.count() > 0
            && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
        {
            warn!(error = %e, "final offset commit failed (the ledger holds the positions)");
        }
        poll_result?;
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

/// How long stopping waits for the consumer group to acknowledge this consumer leaving.
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);

/// The consumer, closed within `CLOSE_DEADLINE` when dropped. rdkafka's own drop polls until the
/// group coordinator acknowledges the consumer leaving, which never happens once the broker is
/// gone (an ingest process asked to stop then never exits). Positions live in the ledger, so a
/// consumer that cannot leave in time is abandoned, its memory not reclaimed, instead.
struct ClosingConsumer(Option<Arc<BaseConsumer<IngestContext>>>);

impl std::ops::Deref for ClosingConsumer {
    type Target = Arc<BaseConsumer<IngestContext>>;
    fn deref(&self) -> &Self::Target {
        self.0
            .as_ref()
            .expect("the consumer is taken only when it is dropped")
    }
}

impl Drop for ClosingConsumer {
    fn drop(&mut self) {
        let Some(shared) = self.0.take() else { return };
        let consumer = match Arc::try_unwrap(shared) {
            Ok(c) => c,
            Err(still_shared) => {
                // Every pipeline thread has ended by now; should a clone survive anyway, do not
                // let its drop hold the process either.
                warn!("the Kafka consumer is still shared at shutdown; leaving it unclosed");
                std::mem::forget(still_shared);
                return;
            }
        };
        let started = Instant::now();
        consumer.context().closing.store(true, SeqCst);
        if let Err(e) = consumer.close_queue() {
            warn!(error = %e, "closing the Kafka consumer failed");
            return;
        }
        while !consumer.closed() {
            if started.elapsed() >= CLOSE_DEADLINE {
                warn!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "the consumer group did not acknowledge this consumer leaving (broker \
                     unreachable?); exiting without it: the ledger holds every position"
                );
                std::mem::forget(consumer);
                return;
            }
            // Serves the close: the final commit, the revocation, leaving the group.
            let _ = consumer.poll(Duration::from_millis(100));
        }
        debug!(
            took_ms = started.elapsed().as_millis() as u64,
            "Kafka consumer closed"
        );
    }
}

#[allow(clippy::too_many_arguments)] // The loop's shared state; one call site.
fn poll_loop(
    consumer: &BaseConsumer<IngestContext>,
    watermarks: &Watermarks,
    config: &IngestConfig,
    shutdown: &Shutdown,
    dispatch: &Mutex<Dispatch>,
    progress: &Progress,
    positions: &Positions,
    assigned: &Mutex<BTreeSet<TopicPartition>>,
    fatal: &Mutex<Option<String>>,
    metrics: &Metrics,
    sequencer: &std::thread::ScopedJoinHandle<'_, Result<(IngestSummary, Ledger), IngestError>>,
) -> Result<(), IngestError> {
    let chunk_size = config.chunk.max(1);
    let mut topic_names: Vec<Arc<str>> = Vec::new();
    let mut last_message = Instant::now();
    let mut last_lag_check = Instant::now();
    let mut backoff = Duration::from_millis(100);
    while !shutdown.requested() {
        if let Some(f) = fatal.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Err(IngestError::Fatal(f));
        }
        if sequencer.is_finished() {
            // The sequencer only stops early on a ledger error; its result carries it.
            return Ok(());
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                metrics.polled.fetch_add(1, Relaxed);
                backoff = Duration::from_millis(100);
                last_message = Instant::now();
                let topic = match topic_names.iter().find(|t| t.as_ref() == m.topic()) {
                    Some(t) => t.clone(),
                    None => {
                        let t: Arc<str> = Arc::from(m.topic());
                        topic_names.push(t.clone());
                        t
                    }
                };
                let mut d = dispatch.lock().unwrap_or_else(|e| e.into_inner());
                d.pending.push(
                    topic,
                    m.partition(),
                    m.offset(),
                    m.timestamp().to_millis(),
                    m.key(),
                    m.payload(),
                );
                if d.pending.messages.len() >= chunk_size && !d.flush() {
                    return Ok(());
                }
            }
            Some(Err(e)) => {
                metrics.broker_errors.fetch_add(1, Relaxed);
                warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "poll error, retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            None => {
                let mut d = dispatch.lock().unwrap_or_else(|e| e.into_inner());
                if !d.flush() {
                    return Ok(());
                }
            }
        }
        if last_lag_check.elapsed() >= Duration::from_millis(500) {
            last_lag_check = Instant::now();
            let idle = config
                .stop_when_caught_up
                .is_some_and(|idle| last_message.elapsed() >= idle);
            if idle {
                // Statistics only report a partition's watermark once it was fetched; when idle
                // and about to decide whether to stop, ask the broker for any still unknown.
                fill_missing_watermarks(consumer, watermarks, assigned);
            }
            let caught_up = update_lag(watermarks, positions, assigned, metrics);
            if let Some(idle) = config.stop_when_caught_up {
                let sent = dispatch.lock().unwrap_or_else(|e| e.into_inner()).sent;
                let processed = *progress.processed.lock().unwrap_or_else(|e| e.into_inner());
                if caught_up && processed >= sent && last_message.elapsed() >= idle {
                    info!("caught up with every assigned partition, stopping");
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

fn fill_missing_watermarks(
    consumer: &BaseConsumer<IngestContext>,
    watermarks: &Watermarks,
    assigned: &Mutex<BTreeSet<TopicPartition>>,
) {
    let assigned = assigned.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let known = watermarks.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for tp in assigned {
        if !known.contains_key(&tp)
            && let Ok((low, high)) =
                consumer.fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(2))
        {
            watermarks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(tp, (low, high));
        }
    }
}

/// Updates lag gauges from the cached watermarks; true when every assigned partition's position
/// is at its high watermark.
fn update_lag(
    watermarks: &Watermarks,
    positions: &Positions,
    assigned: &Mutex<BTreeSet<TopicPartition>>,
    metrics: &Metrics,
) -> bool {
    let assigned = assigned.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if assigned.is_empty() {
        return false;
    }
    let positions = positions.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let watermarks = watermarks.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut all = true;
    for key in assigned {
        match watermarks.get(&key) {
            Some(&(low, high)) => {
                let pos = positions.get(&key).copied().unwrap_or(low).max(low);
                let lag = (high - pos).max(0);
                metrics.set_lag(&key.topic, key.partition, lag);
                all &= lag == 0;
            }
            None => all = false,
        }
    }
    all
}

#[allow(clippy::too_many_arguments)] // The sequencer's shared state; one call site.
fn sequence(
    ledger: &mut Ledger,
    receivers: Vec<Receiver<Chunk<Decoded>>>,
    positions: &Positions,
    progress: &Progress,
    metrics: &Metrics,
    consumer: &BaseConsumer<IngestContext>,
    producer: Option<&BaseProducer>,
    dlq: Option<&str>,
    batch_max: usize,
    linger: Duration,
    stop: &AtomicBool,
    (assigned, assigned_epoch): (&Mutex<BTreeSet<TopicPartition>>, &AtomicU64),
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    // The next offset this ledger accepts per partition: its stored position, raised by every
    // message taken into a batch. Only this thread writes positions, so it keeps its own copy.
    let mut floors = PartitionMap::default();
    for (tp, next) in positions.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        floors.set(&tp.topic, tp.partition, *next);
    }
    let mut owned = PartitionMap::default();
    let mut owned_epoch = u64::MAX;
    let mut probes = PartitionMap::default();
    let mut sink = Sink {
        ledger,
        positions,
        progress,
        metrics,
        consumer,
        producer,
        dlq,
        summary,
        pending: None,
    };
    let mut next = 0usize;
    let mut batch: Vec<Decoded> = Vec::with_capacity(batch_max);
    let mut batch_started = Instant::now();
    let mut skipped_in_batch = 0u64;
    let mut open = receivers.len();
    let mut closed = vec![false; receivers.len()];
    loop {
        let wait = if batch.is_empty() && sink.pending.is_some() {
            // A batch is being written and nothing waits to join the next: look briefly, then
            // make it durable rather than leave it unacknowledged.
            Duration::from_millis(1)
        } else if batch.is_empty() {
            Duration::from_millis(50)
        } else {
            linger.saturating_sub(batch_started.elapsed())
        };
        let received = if closed[next] {
            Err(RecvTimeoutError::Disconnected)
        } else {
            receivers[next].recv_timeout(wait.max(Duration::from_millis(1)))
        };
        match received {
            Ok(chunk) => {
                next = (next + 1) % receivers.len();
                sink.summary.first_received.get_or_insert_with(Instant::now);
                let epoch = assigned_epoch.load(SeqCst);
                if epoch != owned_epoch {
                    owned_epoch = epoch;
                    owned = PartitionMap::default();
                    for tp in assigned.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                        owned.set(&tp.topic, tp.partition, 0);
                    }
                }
                for d in chunk {
                    if owned.get(&d.topic, d.partition).is_none() {
                        // Revoked while in flight: the next owner reads it from the group offset.
                        skipped_in_batch += 1;
                        continue;
                    }
                    let expected = floors.get(&d.topic, d.partition);
                    if let Some(position) = expected
                        && d.offset < position
                    {
                        ensure_partition_reaches(
                            consumer,
                            &mut probes,
                            &d.topic,
                            d.partition,
                            position,
                        )?;
                        // Already in the ledger (a re-delivery after a seek or rebalance).
                        metrics.skipped_below_position.fetch_add(1, Relaxed);
                        sink.summary.skipped_below_position += 1;
                        skipped_in_batch += 1;
                        continue;
                    }
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    if let Some(expected) = expected
                        && d.offset > expected
                        && let Some(gap) = gone_from_broker(
                            consumer,
                            &mut probes,
                            &d.topic,
                            d.partition,
                            expected,
                            d.offset,
                        )
                    {
                        batch.push(gap);
                    }
                    floors.set(&d.topic, d.partition, d.offset + 1);
                    batch.push(d);
                    if batch.len() >= batch_max {
                        sink.submit(&mut batch, skipped_in_batch)?;
                        skipped_in_batch = 0;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if batch.is_empty() {
                    sink.finish()?;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if !closed[next] {
                    closed[next] = true;
                    open -= 1;
                }
                next = (next + 1) % receivers.len();
                if open == 0 {
                    sink.submit(&mut batch, skipped_in_batch)?;
                    sink.finish()?;
                    if let Some(p) = producer {
                        let _ = p.flush(Duration::from_secs(10));
                    }
                    return Ok(());
                }
            }
        }
        let flush = progress.flush_requested.swap(false, SeqCst);
        if (!batch.is_empty() && batch_started.elapsed() >= linger)
            || flush
            || (stop.load(SeqCst) && open == 0)
        {
            sink.submit(&mut batch, skipped_in_batch)?;
            skipped_in_batch = 0;
            if flush || stop.load(SeqCst) {
                // Someone waits for everything to be durable (a revocation, or shutdown).
                sink.finish()?;
            }
        } else if batch.is_empty() && skipped_in_batch > 0 {
            progress.add(skipped_in_batch);
            skipped_in_batch = 0;
        }
    }
}

/// The shortest time between two watermark requests to the broker for one partition.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// A partition's (log start, end) on the broker, when they can settle `decided`: from the
/// statistics if those already do, else from a watermark request, made at most once per
/// `PROBE_INTERVAL` for each partition (`probes` keeps when, on `probe_clock`). `None` when
/// neither is available: the caller then decides nothing.
fn settled_watermarks(
    consumer: &BaseConsumer<IngestContext>,
    probes: &mut PartitionMap,
    topic: &Arc<str>,
    partition: i32,
    decided: impl Fn(i64, i64) -> bool,
) -> Option<(i64, i64)> {
    let cached = consumer
        .context()
        .watermarks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&TopicPartition::new(&**topic, partition))
        .copied();
    if let Some((low, high)) = cached
        && decided(low, high)
    {
        return cached;
    }
    let now = probe_clock();
    if probes
        .get(topic, partition)
        .is_some_and(|last| now - last < PROBE_INTERVAL.as_millis() as i64)
    {
        return None;
    }
    probes.set(topic, partition, now);
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(5))
        .inspect_err(|e| {
            warn!(topic = %topic, partition, error = %e,
                "cannot ask the broker for a partition's watermarks");
        })
        .ok()
}

/// Offsets `expected..offset` of a partition were skipped by the consumer: the entry recording
/// the part of them the broker no longer holds (its log starts past `expected`: retention or a
/// records deletion removed them before ingest read them), or `None` when it still holds them
/// all (transaction markers, aborted or compacted records take offsets no message is delivered
/// for), or cannot say. The statistics can only understate where the log starts, so a log
/// start past `expected` there is final.
fn gone_from_broker(
    consumer: &BaseConsumer<IngestContext>,
    probes: &mut PartitionMap,
    topic: &Arc<str>,
    partition: i32,
    expected: i64,
    offset: i64,
) -> Option<Decoded> {
    let log_start = settled_watermarks(consumer, probes, topic, partition, |low, _| low > expected)
        .map_or(i64::MIN, |(low, _)| low);
    let Some((first, end)) = unavailable_range(expected, offset, log_start) else {
        debug!(topic = %topic, partition, expected, offset,
            "offsets skipped that the broker still holds (transaction markers, aborted or compacted records)");
        return None;
    };
    warn!(topic = %topic, partition, first, end,
        "offsets gone from the broker before ingest read them; recording them as unavailable");
    Some(Decoded {
        topic: topic.clone(),
        partition,
        offset: end - 1,
        submission: Submission {
            origin: Origin::Ledger,
            item: Item::System(SystemRecord::OffsetsUnavailable {
                topic: topic.to_string(),
                partition,
                first,
                end,
            }),
        },
        dead_letter: None,
    })
}

/// For a message below the ledger's position on its partition: checks the broker's partition
/// reaches that position, so the message is a re-delivery of one the ledger holds (after a seek
/// or rebalance). A partition that ends before it was recreated, or these are other brokers:
/// its messages are not the ledger's, and skipping them as already present would lose them.
/// Only the broker's own answer stops ingest (statistics may lag behind a live partition).
fn ensure_partition_reaches(
    consumer: &BaseConsumer<IngestContext>,
    probes: &mut PartitionMap,
    topic: &Arc<str>,
    partition: i32,
    position: i64,
) -> Result<(), IngestError> {
    match settled_watermarks(consumer, probes, topic, partition, |_, high| {
        high >= position
    }) {
        Some((_, end)) if end < position => Err(IngestError::PartitionBehindLedger {
            topic: topic.to_string(),
            partition,
            end,
            position,
        }),
        _ => Ok(()),
    }
}

/// Of the offsets `expected..offset` a consumer skipped, the range `first..end` the broker no
/// longer holds when its log starts at `log_start`; `None` when it still holds them all.
fn unavailable_range(expected: i64, offset: i64, log_start: i64) -> Option<(i64, i64)> {
    (log_start > expected).then_some((expected, log_start.min(offset)))
}

/// Milliseconds on a monotonic clock, for spacing watermark requests.
fn probe_clock() -> i64 {
    static PROBE_EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    PROBE_EPOCH.get_or_init(Instant::now).elapsed().as_millis() as i64
}

/// What one submission of a batch is, for accounting once it is durable.
enum Kind {
    Message,
    /// A quarantined message, with its reason's class.
    Rejected(&'static str),
    /// A record of this many offsets gone from the broker.
    Unavailable(u64),
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
struct Sink<'a> {
    ledger: &'a mut Ledger,
    positions: &'a Positions,
    progress: &'a Progress,
    metrics: &'a Metrics,
    consumer: &'a BaseConsumer<IngestContext>,
    producer: Option<&'a BaseProducer>,
    dlq: Option<&'a str>,
    summary: &'a mut IngestSummary,
    pending: Option<PendingBatch>,
}

impl Sink<'_> {
    /// Submits the batch (and accounts for messages skipped since the last one).
    fn submit(&mut self, batch: &mut Vec<Decoded>, skipped: u64) -> Result<(), IngestError> {
        if batch.is_empty() {
            self.progress.add(skipped);
            return Ok(());
        }
        let mut next_offsets = PartitionMap::default();
        for d in batch.iter() {
            let next = next_offsets.get(&d.topic, d.partition).unwrap_or(i64::MIN);
            next_offsets.set(&d.topic, d.partition, next.max(d.offset + 1));
        }
        let mut submissions = Vec::with_capacity(batch.len());
        let mut dead = Vec::with_capacity(batch.len());
        for d in batch.drain(..) {
            if let Origin::Kafka(k) = &d.submission.origin
                && let MessageKey::Redacted { total_len, .. } = k.key
            {
                self.metrics.keys_redacted.fetch_add(1, Relaxed);
                warn!(
                    topic = %d.topic,
                    partition = d.partition,
                    offset = d.offset,
                    key_len = total_len,
                    "message key carries secret material: only its hash is kept"
                );
            }
            dead.push(
                d.dead_letter
                    .map(|raw| (d.topic.clone(), d.partition, d.offset, raw)),
            );
            submissions.push(d.submission);
        }
        let kinds: Vec<Kind> = submissions
            .iter()
            .map(|s| match &s.item {
                Item::Rejected(r) => Kind::Rejected(r.reason.class()),
                Item::System(SystemRecord::OffsetsUnavailable { first, end, .. }) => {
                    Kind::Unavailable((end - first).max(0) as u64)
                }
                _ => Kind::Message,
            })
            .collect();
        let positions: Vec<Position> = next_offsets
            .0
            .iter()
            .flat_map(|(topic, parts)| {
                parts.iter().map(|(partition, next)| Position {
                    topic: topic.clone(),
                    partition: *partition,
                    next_offset: *next,
                })
            })
            .collect();
        let this = PendingBatch {
            n: kinds
                .iter()
                .filter(|k| !matches!(k, Kind::Unavailable(_)))
                .count() as u64,
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
    fn finish(&mut self) -> Result<(), IngestError> {
        if let Some(report) = self.ledger.finish()?
            && let Some(done) = self.pending.take()
        {
            self.durable(done, report);
        }
        Ok(())
    }

    fn durable(&mut self, batch: PendingBatch, report: AppendReport) {
        let metrics = self.metrics;
        metrics.observe_batch(batch.n, batch.submitted.elapsed().as_secs_f64());
        metrics.tree_size.store(report.size.0, Relaxed);
        metrics.last_checkpoint_unix_ms.store(
            idledger_proto::Timestamp::now().0.max(0) as u64 / 1_000_000,
            Relaxed,
        );
        let mut dead = batch.dead;
        for (i, outcome) in report.outcomes.iter().enumerate() {
            match outcome {
                Outcome::Appended(_) => {
                    if let Some(Kind::Unavailable(n)) = batch.kinds.get(i) {
                        metrics.offsets_unavailable.fetch_add(*n, Relaxed);
                        self.summary.offsets_unavailable += n;
                    } else {
                        metrics.appended.fetch_add(1, Relaxed);
                        self.summary.appended += 1;
                    }
                }
                Outcome::Quarantined(seq) => {
                    let class = match batch.kinds.get(i) {
                        Some(Kind::Rejected(class)) => class,
                        _ => "conflicting_duplicate",
                    };
                    metrics.count_quarantine(class);
                    self.summary.quarantined += 1;
                    if let (Some(p), Some(topic), Some((src_topic, partition, offset, raw))) =
                        (self.producer, self.dlq, dead[i].take())
                    {
                        let index = seq.0.to_string();
                        let headers = OwnedHeaders::new()
                            .insert(Header {
                                key: "idledger-reason",
                                value: Some(class),
                            })
                            .insert(Header {
                                key: "idledger-index",
                                value: Some(index.as_str()),
                            });
                        let key = format!("{src_topic}/{partition}/{offset}");
                        match p.send(
                            BaseRecord::to(topic)
                                .payload(&raw)
                                .key(&key)
                                .headers(headers),
                        ) {
                            Ok(()) => {
                                metrics.dead_lettered.fetch_add(1, Relaxed);
                            }
                            Err((e, _)) => {
                                warn!(error = %e, "dead-letter produce failed (the entry is in the ledger)")
                            }
                        }
                    }
                }
                Outcome::Duplicate(_) => {
                    metrics.deduplicated.fetch_add(1, Relaxed);
                    self.summary.deduplicated += 1;
                }
            }
        }
        if let Some(p) = self.producer {
            p.poll(Duration::ZERO);
        }
        self.summary.batches += 1;
        self.summary.last_durable = Some(Instant::now());
        {
            let mut stored = self.positions.lock().unwrap_or_else(|e| e.into_inner());
            for p in &batch.positions {
                stored.insert(
                    TopicPartition::new(p.topic.clone(), p.partition),
                    p.next_offset,
                );
            }
        }
        self.progress.add(batch.n + batch.skipped);
        // The ledger is the truth for this ledger; the group offset shows lag in ordinary
        // tooling and tells the next owner of a partition where this ledger stopped. It is
        // committed asynchronously after every batch (the pipeline does not wait a broker round
        // trip per batch), and synchronously when partitions are revoked and at shutdown.
        let mut tpl = TopicPartitionList::new();
        for p in &batch.positions {
            let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.next_offset));
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            debug!(error = %e, "offset commit to the group failed (the ledger holds the positions)");
        }
        debug!(
            size = report.size.0,
            entries = batch.n,
            prepare_ms = report.elapsed.as_millis() as u64,
            "batch appended"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{RawChunk, SPARE_CHUNK_MAX_BYTES, decode_chunk, placed, unavailable_range};
    use idledger_ledger::Item;
    use idledger_proto::entry::{MessageKey, Origin};
    use std::sync::Arc;

    /// (key, payload) of messages polled one after another.
    type Polled<'a> = [(Option<&'a [u8]>, Option<&'a [u8]>)];

    fn fill(chunk: &mut RawChunk, messages: &Polled<'_>) {
        let topic: Arc<str> = Arc::from("t");
        for (i, (key, payload)) in messages.iter().enumerate() {
            chunk.push(topic.clone(), 3, 100 + i as i64, Some(7), *key, *payload);
        }
    }

    #[test]
    fn a_chunk_buffer_gives_back_each_key_and_payload_as_polled_also_when_reused() {
        // No key and an empty key, a tombstone (no payload) and an empty payload must stay
        // apart: they are quarantined for different reasons.
        let first: &Polled<'_> = &[
            (Some(b"k1"), Some(b"{\"a\":1}")),
            (None, None),
            (Some(b""), Some(b"")),
            (Some(b"key-two"), None),
        ];
        let second: &Polled<'_> = &[(None, Some(b"xyz")), (Some(b"k"), Some(b""))];
        let mut chunk = RawChunk::default();
        for messages in [first, second] {
            fill(&mut chunk, messages);
            let got: Vec<_> = chunk
                .messages
                .iter()
                .map(|m| {
                    (
                        placed(&chunk.bytes, &m.key),
                        placed(&chunk.bytes, &m.payload),
                    )
                })
                .collect();
            let want: Vec<_> = messages.iter().map(|(k, p)| (*k, *p)).collect();
            assert_eq!(got, want);
            chunk = chunk
                .into_spare()
                .expect("a small buffer is kept for reuse");
            assert!(chunk.messages.is_empty() && chunk.bytes.is_empty());
        }
    }

    #[test]
    fn an_oversized_chunk_buffer_is_not_kept() {
        let big = vec![b'x'; SPARE_CHUNK_MAX_BYTES + 1];
        let mut chunk = RawChunk::default();
        fill(&mut chunk, &[(None, Some(&big))]);
        assert!(chunk.into_spare().is_none());
    }

    const SECRET_KEY: &[u8] = br#"{"user":"svc","password":"hunter2"}"#;

    #[test]
    fn decoding_a_chunk_keeps_each_messages_provenance_and_outcome() {
        let mut chunk = RawChunk::default();
        fill(
            &mut chunk,
            &[
                (Some(b"k1"), None),
                (None, Some(b"")),
                (None, Some(b"not json")),
                (Some(SECRET_KEY), Some(b"not json")),
            ],
        );
        let (decoded, emptied) = decode_chunk(chunk, true);
        assert_eq!(emptied.messages.len(), 0, "the messages were taken");
        assert!(
            emptied.messages.capacity() >= 3,
            "the list of messages is kept for reuse"
        );
        // (offset, kept key, rejection class, dead letter kept)
        let got: Vec<_> = decoded
            .iter()
            .map(|d| {
                let Origin::Kafka(o) = &d.submission.origin else {
                    panic!("a Kafka origin")
                };
                let class = match &d.submission.item {
                    Item::Rejected(r) => Some(r.reason.class()),
                    _ => None,
                };
                (o.offset, o.key.clone(), class, d.dead_letter.clone())
            })
            .collect();
        let want = vec![
            (
                100,
                MessageKey::Kept(b"k1".to_vec()),
                Some("tombstone"),
                None,
            ),
            (
                101,
                MessageKey::Absent,
                Some("empty_payload"),
                Some(Vec::new()),
            ),
            (
                102,
                MessageKey::Absent,
                Some("not_json"),
                Some(b"not json".to_vec()),
            ),
            // A key that carries a secret is kept only as its length and hash.
            (
                103,
                MessageKey::Redacted {
                    total_len: SECRET_KEY.len() as u64,
                    sha256: idledger_proto::hash::sha256(SECRET_KEY).0,
                },
                Some("not_json"),
                Some(b"not json".to_vec()),
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn only_offsets_before_the_brokers_log_start_are_unavailable() {
        // (next offset expected, offset received, broker's log start, unavailable range)
        let cases = [
            (100, 4338, 4338, Some((100, 4338))), // retention removed everything skipped
            (10, 50, 30, Some((10, 30))),         // removed up to 30; 30..50 held but not delivered
            (10, 50, 80, Some((10, 50))),         // the log start moved on again since
            (10, 11, 0, None),                    // a transaction marker at 10
            (10, 50, 10, None),                   // the log starts exactly where expected
            (10, 50, 5, None),                    // compacted or aborted records, all still held
        ];
        for (expected, offset, log_start, range) in cases {
            assert_eq!(
                unavailable_range(expected, offset, log_start),
                range,
                "expected {expected}, got {offset}, log start {log_start}"
            );
        }
    }
}
