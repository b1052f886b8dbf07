//! The dead-letter topic: the raw bytes of every quarantined message that is safe to copy
//! (not secret-bearing), produced once its quarantined entry is durable.

use crate::config::IngestConfig;
use crate::metrics::Metrics;
use crate::oauth::TokenContext;
use idledger_proto::Seq;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tracing::warn;

/// A quarantined message to produce to the dead-letter topic.
pub(super) struct DeadLetter {
    pub(super) topic: Arc<str>,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) raw: Vec<u8>,
}

/// A producer to the dead-letter topic.
pub(super) struct DeadLetters {
    producer: BaseProducer<TokenContext>,
    topic: String,
}

impl DeadLetters {
    /// A producer for the configured dead-letter topic, with the consumer's librdkafka
    /// properties except the consumer-group ones; `None` when there is no such topic.
    pub(super) fn connect(config: &IngestConfig) -> Result<Option<DeadLetters>, KafkaError> {
        let Some(topic) = &config.dead_letter_topic else {
            return Ok(None);
        };
        let mut pc = ClientConfig::new();
        pc.set("bootstrap.servers", &config.brokers);
        for (k, v) in &config.properties {
            if !k.starts_with("group.") && !k.starts_with("enable.auto") {
                pc.set(k, v);
            }
        }
        Ok(Some(DeadLetters {
            producer: pc.create_with_context(TokenContext {
                source: config.oauth_token.clone(),
            })?,
            topic: topic.clone(),
        }))
    }

    /// Produces a quarantined message (entry `seq`, reason `class`) with its provenance as the
    /// key. A failure is logged, not returned: the entry is in the ledger either way.
    pub(super) fn send(&self, letter: DeadLetter, class: &str, seq: Seq, metrics: &Metrics) {
        let DeadLetter {
            topic: src_topic,
            partition,
            offset,
            raw,
        } = letter;
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
        match self.producer.send(
            BaseRecord::to(&self.topic)
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

    /// Serves delivery reports without waiting.
    pub(super) fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    /// Waits (up to 10 s) for what was produced to be delivered.
    pub(super) fn flush(&self) {
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}
