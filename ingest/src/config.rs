//! Ingest settings: brokers, topics, group, librdkafka pass-through properties, batching and
//! queue bounds, and each topic's input format.

use crate::oauth::TokenSource;
use crate::secrets::printable_properties;
use crate::witnessing::WitnessingConfig;
use idledger_proto::formats::{FormatSettings, InputFormat};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Printed with `Debug`, secret properties show as `***` (`secrets::is_secret_property`).
#[derive(Clone)]
pub struct IngestConfig {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    pub topics: Vec<String>,
    pub group_id: String,
    /// Any librdkafka property (`-X key=value`), applied last so it can override ours. Values
    /// of secret properties are never printed.
    pub properties: Vec<(String, String)>,
    /// Most submissions in one ledger batch (one synced write, one checkpoint).
    pub batch_max: usize,
    /// Longest a partial batch waits for more messages before it is written.
    pub batch_linger: Duration,
    /// Decode and validate threads.
    pub workers: usize,
    /// Messages handed to a worker at a time.
    pub chunk: usize,
    /// Chunks that may wait for each worker; with `chunk`, this bounds memory in the pipeline.
    pub queue_chunks: usize,
    /// Produce the raw bytes of every quarantined message (except secret-bearing ones) here.
    pub dead_letter_topic: Option<String>,
    /// Stop by itself once every assigned partition's stored position reaches its high
    /// watermark and nothing arrived for this long (used by the demo and tests).
    pub stop_when_caught_up: Option<Duration>,
    /// Where OAUTHBEARER tokens come from (`sasl.mechanism=OAUTHBEARER`).
    pub oauth_token: Option<TokenSource>,
    /// The input format of each topic (docs/FORMATS.md); `native` unless set.
    pub formats: TopicFormats,
    /// Witnesses the checkpoints are submitted to (docs/WITNESS.md), and how often.
    pub witnessing: WitnessingConfig,
}

/// How one topic's messages are read.
#[derive(Clone, Debug)]
pub struct TopicFormat {
    pub format: InputFormat,
    pub settings: Arc<FormatSettings>,
}

impl Default for TopicFormat {
    fn default() -> TopicFormat {
        TopicFormat {
            format: InputFormat::Native,
            settings: Arc::new(FormatSettings::default()),
        }
    }
}

/// The input format of every topic: one per topic named, a default for the rest.
#[derive(Clone, Debug, Default)]
pub struct TopicFormats {
    pub default: TopicFormat,
    pub topics: Vec<(String, TopicFormat)>,
}

impl TopicFormats {
    /// How `topic`'s messages are read.
    pub fn of(&self, topic: &str) -> &TopicFormat {
        self.topics
            .iter()
            .find(|(t, _)| t == topic)
            .map_or(&self.default, |(_, f)| f)
    }
}

/// Decode threads by default: half the cores (at least one, at most four). Decoding costs a
/// fraction of appending, and on two cores a second decoder only takes time from the sequencer
/// and the write (measured: 74k events/s with two, 90-96k/s with one).
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() / 2)
        .clamp(1, 4)
}

impl IngestConfig {
    pub fn new(brokers: &str, topics: Vec<String>, group_id: &str) -> IngestConfig {
        IngestConfig {
            brokers: brokers.to_owned(),
            topics,
            group_id: group_id.to_owned(),
            properties: Vec::new(),
            batch_max: 2000,
            batch_linger: Duration::from_millis(20),
            workers: default_workers(),
            chunk: 256,
            // Deep enough for the decoder to run ahead by a batch and a half while the sequencer
            // prepares one (8-10 ms per 2000 events). With 4 the stages waited on each other and
            // the two cores idled 23 core-s per 5M events; with 12 they idle 16 (+3-6% events/s
            // in two pairs, for ~4 MB more in flight).
            queue_chunks: 12,
            dead_letter_topic: None,
            stop_when_caught_up: None,
            oauth_token: None,
            formats: TopicFormats::default(),
            witnessing: WitnessingConfig::default(),
        }
    }
}

impl fmt::Debug for IngestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties = printable_properties(&self.properties);
        f.debug_struct("IngestConfig")
            .field("brokers", &self.brokers)
            .field("topics", &self.topics)
            .field("group_id", &self.group_id)
            .field("properties", &properties)
            .field("batch_max", &self.batch_max)
            .field("batch_linger", &self.batch_linger)
            .field("workers", &self.workers)
            .field("chunk", &self.chunk)
            .field("queue_chunks", &self.queue_chunks)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("stop_when_caught_up", &self.stop_when_caught_up)
            .field("oauth_token", &self.oauth_token)
            .field("formats", &self.formats)
            .field("witnessing", &self.witnessing)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_secret_property() {
        let mut c = IngestConfig::new("b:9092", vec!["t".into()], "g");
        c.properties = vec![
            ("sasl.username".into(), "idledger".into()),
            ("sasl.password".into(), "hunter2-pw".into()),
            ("ssl.key.password".into(), "hunter3-pw".into()),
        ];
        let text = format!("{c:?}");
        assert!(text.contains("idledger"), "{text}");
        assert!(!text.contains("hunter"), "{text}");
    }
}
