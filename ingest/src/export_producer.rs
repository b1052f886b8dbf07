//! The Kafka end of `idledger export --to-kafka`: an idempotent producer that writes one stream
//! of records, in order, to partition 0 of one topic, and reads back the key of the last record
//! that topic holds, so that an export can resume after it. It handles keys and values as bytes:
//! what they mean is the exporter's business (the binary's `commands/export_kafka.rs`).
//!
//! Why the topic then holds every record once, in order, whatever kills the process: records go
//! to one partition from one idempotent producer that never gives up on a record by itself
//! (`message.timeout.ms=0`) and treats any gap as fatal (`enable.gapless.guarantee`), so the
//! broker holds a prefix of what was sent; a restart resumes after the last record of that
//! prefix. A record another producer wrote in between shows as a delivery at an offset other
//! than the one expected, and stops the export with an error naming both.

use crate::secrets::{printable_properties, printable_value};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The partition every record goes to: a stream's order is its meaning, and Kafka keeps order
/// only within a partition.
pub const EXPORT_PARTITION: i32 = 0;

/// Where an export goes: the cluster, the topic, and librdkafka properties (TLS, SASL, ...)
/// resolved as ingest resolves its own. Printed with `Debug`, secret properties show as `***`.
#[derive(Clone)]
pub struct ExportTarget {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    pub topic: String,
    /// Any librdkafka property; those the export's guarantees rest on are refused
    /// (`ExportProducerError::Overridden`) unless given the value the export sets.
    pub properties: Vec<(String, String)>,
    /// How long to wait for the cluster: its metadata, the last record, a flush, room in a
    /// full queue.
    pub timeout: Duration,
}

impl ExportTarget {
    pub fn new(brokers: &str, topic: &str, properties: Vec<(String, String)>) -> ExportTarget {
        ExportTarget {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            properties,
            timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for ExportTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties = printable_properties(&self.properties);
        f.debug_struct("ExportTarget")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("properties", &properties)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Producer settings the export's guarantees rest on: the keys that set each (aliases
/// included), the value the export sets, the values that mean the same, and why.
const FIXED: [(&[&str], &str, &[&str], &str); 4] = [
    (
        &["enable.idempotence"],
        "true",
        &["true"],
        "retries must never write a record twice or out of order",
    ),
    (
        &["acks", "request.required.acks"],
        "all",
        &["all", "-1"],
        "a record counts as written once every in-sync replica holds it",
    ),
    (
        &["enable.gapless.guarantee"],
        "true",
        &["true"],
        "a record that fails must stop the stream, never leave a gap",
    ),
    (
        &["message.timeout.ms", "delivery.timeout.ms"],
        "0",
        &["0"],
        "a record is retried until the export gives up as a whole, never dropped alone",
    ),
];

/// Why the export's producer cannot go on.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ExportProducerError {
    #[error("kafka client configuration: {0}")]
    Config(Box<KafkaError>),
    #[error("-X {key}={value}: the export sets {key}={required} itself ({why})")]
    Overridden {
        key: String,
        value: String,
        required: &'static str,
        why: &'static str,
    },
    #[error(
        "cannot read the cluster's metadata from {brokers} within {seconds} s: {cause}; check \
         brokers, TLS and SASL settings"
    )]
    Unreachable {
        brokers: String,
        seconds: u64,
        cause: String,
    },
    #[error(
        "topic {0} does not exist on the cluster (or this client may not describe it): create it \
         with one partition"
    )]
    NoSuchTopic(String),
    #[error(
        "topic {topic} has {partitions} partitions: an export stream is ordered, and Kafka keeps \
         order only within a partition, so the topic must have exactly one"
    )]
    NotOnePartition { topic: String, partitions: usize },
    #[error("cannot read the offsets of {topic}/0: {source}")]
    Watermarks {
        topic: String,
        source: Box<KafkaError>,
    },
    #[error(
        "{topic}/0 has held {high} records but the broker keeps none of them (retention deleted \
         them): the last record, which says where the export resumes, is gone"
    )]
    TailDeleted { topic: String, high: i64 },
    #[error(
        "cannot read the last record of {topic}/0 (offset {offset}) within {seconds} s: {cause}"
    )]
    LastRecord {
        topic: String,
        offset: i64,
        seconds: u64,
        cause: String,
    },
    #[error("cannot produce record {key} to {topic}: {source}")]
    Send {
        topic: String,
        key: String,
        source: Box<KafkaError>,
    },
    #[error(
        "the producer's queue stayed full for {seconds} s while producing record {key} to \
         {topic}: the cluster takes no records{cause}"
    )]
    QueueFull {
        topic: String,
        key: String,
        seconds: u64,
        cause: String,
    },
    #[error("record {key} was not delivered to {topic}: {cause}")]
    NotDelivered {
        topic: String,
        key: String,
        cause: String,
    },
    #[error(
        "record {key} landed at offset {found} of {topic}/0, where offset {expected} was \
         expected: another producer wrote to the topic while this export ran, so it may now hold \
         a record twice; one export at a time may write a topic"
    )]
    Interleaved {
        topic: String,
        key: String,
        expected: i64,
        found: i64,
    },
    #[error(
        "{pending} records were not acknowledged by {topic} within {seconds} s ({source}){cause}"
    )]
    Flush {
        topic: String,
        pending: i32,
        seconds: u64,
        source: Box<KafkaError>,
        cause: String,
    },
    #[error("the producer of {topic} failed: {cause}")]
    Fatal { topic: String, cause: String },
}

/// The last record a topic holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRecord {
    pub offset: i64,
    /// Its key, if it has one.
    pub key: Option<Vec<u8>>,
}

/// Records given to the producer and records the cluster acknowledged, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProducedCounts {
    pub sent: u64,
    pub delivered: u64,
}

/// What the delivery reports and client errors have said so far.
#[derive(Debug, Default)]
struct DeliveryState {
    delivered: u64,
    /// The offset the next acknowledged record must have, once known.
    next_offset: Option<i64>,
    /// The first failure; every later send and flush returns it.
    failure: Option<ExportProducerError>,
    /// The latest error librdkafka reported about the cluster (a broker down, a failed TLS
    /// handshake), which explains a flush that timed out.
    client_error: Option<String>,
}

/// The producer's context: checks each delivery report against the offset expected.
#[derive(Debug)]
struct Deliveries {
    topic: String,
    state: Mutex<DeliveryState>,
}

impl Deliveries {
    fn state(&self) -> std::sync::MutexGuard<'_, DeliveryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Configuration warnings that say nothing an operator should act on: the export sets
/// `enable.gapless.guarantee` on purpose (see `FIXED`), and the tail reader is given the
/// producer's properties as they are. Warned about on every run, they would teach operators to
/// skip warnings.
const EXPECTED_WARNINGS: [&str; 2] = [
    "enable.gapless.guarantee is experimental",
    "is a producer property and will be ignored by this consumer instance",
];

/// librdkafka's log lines, as its default context logs them, but for `EXPECTED_WARNINGS`.
fn forward_log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    if fac == "CONFWARN" && EXPECTED_WARNINGS.iter().any(|w| message.contains(w)) {
        tracing::debug!(target: "librdkafka", "librdkafka: {fac} {message}");
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
    }
}

fn key_text(key: Option<&[u8]>) -> String {
    key.map_or_else(
        || "(no key)".to_owned(),
        |k| String::from_utf8_lossy(k).into_owned(),
    )
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let fatal = error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal);
        let text = format!("{error}: {reason}");
        tracing::warn!(topic = %self.topic, error = %text, fatal, "kafka client error");
        let mut state = self.state();
        if fatal && state.failure.is_none() {
            state.failure = Some(ExportProducerError::Fatal {
                topic: self.topic.clone(),
                cause: text.clone(),
            });
        }
        state.client_error = Some(text);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut state = self.state();
        match result {
            Ok(message) => {
                let found = message.offset();
                if let Some(expected) = state.next_offset
                    && expected != found
                    && state.failure.is_none()
                {
                    state.failure = Some(ExportProducerError::Interleaved {
                        topic: self.topic.clone(),
                        key: key_text(message.key()),
                        expected,
                        found,
                    });
                }
                state.next_offset = Some(found + 1);
                state.delivered += 1;
            }
            Err((error, message)) => {
                if state.failure.is_none() {
                    state.failure = Some(ExportProducerError::NotDelivered {
                        topic: self.topic.clone(),
                        key: key_text(message.key()),
                        cause: error.to_string(),
                    });
                }
            }
        }
    }
}

/// The metadata and tail reader's context: remembers the first error librdkafka reports (an
/// authentication failure, a TLS handshake that failed), which says more than a request that
/// timed out.
#[derive(Debug, Default)]
struct FirstError(Mutex<Option<String>>);

impl FirstError {
    fn or(&self, fallback: &KafkaError) -> String {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| fallback.to_string())
    }
}

impl ClientContext for FirstError {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let mut first = self.0.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(|| format!("{error}: {reason}"));
    }
}

impl ConsumerContext for FirstError {}

/// An idempotent producer to partition 0 of one single-partition topic, and a reader of that
/// partition's last record.
pub struct ExportProducer {
    topic: String,
    brokers: String,
    timeout: Duration,
    producer: BaseProducer<Deliveries>,
    reader: BaseConsumer<FirstError>,
    sent: u64,
}

impl fmt::Debug for ExportProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportProducer")
            .field("topic", &self.topic)
            .field("brokers", &self.brokers)
            .field("counts", &self.counts())
            .finish()
    }
}

/// Refuses a property that would undo one of the settings in `FIXED`.
fn check_properties(properties: &[(String, String)]) -> Result<(), ExportProducerError> {
    for (key, value) in properties {
        let key = key.trim().to_ascii_lowercase();
        for (keys, required, same, why) in FIXED {
            if keys.contains(&key.as_str())
                && !same.iter().any(|s| s.eq_ignore_ascii_case(value.trim()))
            {
                return Err(ExportProducerError::Overridden {
                    key,
                    value: printable_value(keys[0], value).to_owned(),
                    required,
                    why,
                });
            }
        }
    }
    Ok(())
}

impl ExportProducer {
    /// Connects to the target's cluster: checks that its topic exists with exactly one
    /// partition, and creates the producer. Reads no record.
    pub fn connect(target: &ExportTarget) -> Result<ExportProducer, ExportProducerError> {
        check_properties(&target.properties)?;
        let mut reader_config = ClientConfig::new();
        reader_config
            .set("bootstrap.servers", &target.brokers)
            // librdkafka assigns partitions only to a consumer with a group; this one never
            // joins it or commits to it.
            .set("group.id", "idledger-export-tail-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        let mut producer_config = ClientConfig::new();
        producer_config.set("bootstrap.servers", &target.brokers);
        for (k, v) in &target.properties {
            reader_config.set(k, v);
            producer_config.set(k, v);
        }
        for (keys, required, _, _) in FIXED {
            producer_config.set(keys[0], required);
        }
        let reader: BaseConsumer<FirstError> = reader_config
            .create_with_context(FirstError::default())
            .map_err(|e| ExportProducerError::Config(Box::new(e)))?;
        check_topic(&reader, target)?;
        let producer: BaseProducer<Deliveries> = producer_config
            .create_with_context(Deliveries {
                topic: target.topic.clone(),
                state: Mutex::new(DeliveryState::default()),
            })
            .map_err(|e| ExportProducerError::Config(Box::new(e)))?;
        Ok(ExportProducer {
            topic: target.topic.clone(),
            brokers: target.brokers.clone(),
            timeout: target.timeout,
            producer,
            reader,
            sent: 0,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The last record of partition 0 (the one before its high watermark), or `None` when the
    /// partition has never held one. The next record produced is expected right after it: a
    /// delivery anywhere else is an error (`Interleaved`).
    pub fn last_key(&mut self) -> Result<Option<LastRecord>, ExportProducerError> {
        let (low, high) = self
            .reader
            .fetch_watermarks(&self.topic, EXPORT_PARTITION, self.timeout)
            .map_err(|source| ExportProducerError::Watermarks {
                topic: self.topic.clone(),
                source: Box::new(source),
            })?;
        self.producer.context().state().next_offset = Some(high);
        if high <= 0 {
            return Ok(None);
        }
        if low >= high {
            return Err(ExportProducerError::TailDeleted {
                topic: self.topic.clone(),
                high,
            });
        }
        let offset = high - 1;
        let failed = |cause: String| ExportProducerError::LastRecord {
            topic: self.topic.clone(),
            offset,
            seconds: self.timeout.as_secs(),
            cause,
        };
        let mut at = TopicPartitionList::new();
        at.add_partition_offset(&self.topic, EXPORT_PARTITION, Offset::Offset(offset))
            .map_err(|e| failed(e.to_string()))?;
        self.reader.assign(&at).map_err(|e| failed(e.to_string()))?;
        let deadline = Instant::now() + self.timeout;
        let record = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(failed(
                    self.reader.context().or(&KafkaError::NoMessageReceived),
                ));
            }
            match self.reader.poll(left.min(Duration::from_millis(200))) {
                Some(Ok(message)) if message.offset() == offset => {
                    break Ok(LastRecord {
                        offset,
                        key: message.key().map(<[u8]>::to_vec),
                    });
                }
                Some(Ok(_)) | None => {}
                Some(Err(e)) => break Err(failed(e.to_string())),
            }
        };
        // The reader holds the partition no longer than it needs to; an error here changes
        // nothing about the record read.
        let _ = self.reader.unassign();
        record.map(Some)
    }

    /// Gives one record to the producer, for partition 0; returns once it is queued (not yet
    /// acknowledged: `flush` waits for that). Fails with the first delivery failure so far.
    pub fn send(&mut self, key: &[u8], value: &[u8]) -> Result<(), ExportProducerError> {
        self.failed()?;
        let mut record = BaseRecord::<[u8], [u8]>::to(&self.topic)
            .partition(EXPORT_PARTITION)
            .key(key)
            .payload(value);
        let mut full_since: Option<Instant> = None;
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((e, back)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    let since = *full_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.timeout {
                        return Err(ExportProducerError::QueueFull {
                            topic: self.topic.clone(),
                            key: key_text(Some(key)),
                            seconds: self.timeout.as_secs(),
                            cause: self.client_error(),
                        });
                    }
                    self.producer.poll(Duration::from_millis(10));
                    self.failed()?;
                    record = back;
                }
                Err((source, _)) => {
                    return Err(ExportProducerError::Send {
                        topic: self.topic.clone(),
                        key: key_text(Some(key)),
                        source: Box::new(source),
                    });
                }
            }
        }
        self.sent += 1;
        // Delivery reports are served by polling; often enough that a failure stops the export
        // soon, rarely enough to cost nothing.
        if self.sent.is_multiple_of(256) {
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Waits until every record sent is acknowledged by the cluster (at most the target's
    /// timeout); fails if one was not, or landed where it should not have.
    pub fn flush(&mut self) -> Result<(), ExportProducerError> {
        if let Err(source) = self.producer.flush(self.timeout) {
            self.failed()?;
            return Err(ExportProducerError::Flush {
                topic: self.topic.clone(),
                pending: self.producer.in_flight_count(),
                seconds: self.timeout.as_secs(),
                source: Box::new(source),
                cause: self.client_error(),
            });
        }
        self.failed()?;
        let delivered = self.producer.context().state().delivered;
        if delivered != self.sent {
            return Err(ExportProducerError::NotDelivered {
                topic: self.topic.clone(),
                key: "(unknown)".to_owned(),
                cause: format!(
                    "{} records were sent but {delivered} acknowledged",
                    self.sent
                ),
            });
        }
        Ok(())
    }

    pub fn counts(&self) -> ProducedCounts {
        ProducedCounts {
            sent: self.sent,
            delivered: self.producer.context().state().delivered,
        }
    }

    fn failed(&self) -> Result<(), ExportProducerError> {
        match &self.producer.context().state().failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// `: <the latest client error>`, or nothing.
    fn client_error(&self) -> String {
        self.producer
            .context()
            .state()
            .client_error
            .as_ref()
            .map(|e| format!("; the client last reported: {e}"))
            .unwrap_or_default()
    }
}

/// Checks that the target's topic exists and has exactly one partition.
fn check_topic(
    reader: &BaseConsumer<FirstError>,
    target: &ExportTarget,
) -> Result<(), ExportProducerError> {
    let metadata = reader
        .fetch_metadata(Some(&target.topic), target.timeout)
        .map_err(|e| ExportProducerError::Unreachable {
            brokers: target.brokers.clone(),
            seconds: target.timeout.as_secs(),
            cause: reader.context().or(&e),
        })?;
    let topic = metadata
        .topics()
        .iter()
        .find(|t| t.name() == target.topic)
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| ExportProducerError::NoSuchTopic(target.topic.clone()))?;
    match topic.partitions() {
        [only] if only.id() == EXPORT_PARTITION => Ok(()),
        partitions => Err(ExportProducerError::NotOnePartition {
            topic: target.topic.clone(),
            partitions: partitions.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_that_would_undo_a_guarantee_are_refused() {
        let cases: [(&str, &str, Option<&str>); 10] = [
            ("enable.idempotence", "true", None),
            (
                "enable.idempotence",
                "false",
                Some("enable.idempotence=true"),
            ),
            ("acks", "all", None),
            ("acks", "-1", None),
            ("ACKS", "1", Some("acks=all")),
            (
                "request.required.acks",
                "0",
                Some("request.required.acks=all"),
            ),
            ("message.timeout.ms", "0", None),
            (
                "delivery.timeout.ms",
                "30000",
                Some("delivery.timeout.ms=0"),
            ),
            (
                "enable.gapless.guarantee",
                "false",
                Some("gapless.guarantee=true"),
            ),
            ("compression.type", "lz4", None),
        ];
        for (key, value, refused) in cases {
            let got = check_properties(&[(key.to_owned(), value.to_owned())]);
            match refused {
                None => assert!(got.is_ok(), "{key}={value}: {got:?}"),
                Some(says) => {
                    let e = got.expect_err(key).to_string();
                    assert!(e.contains(says), "{key}={value}: {e}");
                }
            }
        }
    }

    #[test]
    fn debug_never_prints_a_secret_property() {
        let target = ExportTarget::new(
            "b:9092",
            "t",
            vec![
                ("sasl.username".into(), "idledger".into()),
                ("sasl.password".into(), "hunter2-pw".into()),
            ],
        );
        let text = format!("{target:?}");
        assert!(text.contains("idledger"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
