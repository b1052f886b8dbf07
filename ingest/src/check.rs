//! `idledger ingest --check`: a dry run an operator can make before starting the service. It
//! connects with ingest's own client settings (TLS, SASL, every `-X`), which authenticates,
//! reads each topic's partitions and the broker's offsets, and says where ingest would start in
//! each: after the ledger's stored position, or at the earliest offset the broker holds. It
//! joins no consumer group and reads no message.

use crate::config::IngestConfig;
use crate::oauth::TokenSource;
use crate::pipeline::client_config;
use idledger_ledger::Position;
use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// What ingest would do with one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPlan {
    pub topic: String,
    pub partition: i32,
    /// The broker's earliest offset and the offset after its last message.
    pub low: i64,
    pub high: i64,
    /// The offset ingest would read first.
    pub start: i64,
    /// Where that comes from.
    pub start_from: StartFrom,
}

/// Why ingest would start a partition where it would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// After what the ledger already holds.
    LedgerPosition,
    /// The ledger holds nothing of it: the broker's earliest offset.
    Earliest,
}

impl PartitionPlan {
    /// Messages ingest would read to catch up.
    pub fn backlog(&self) -> i64 {
        (self.high - self.start).max(0)
    }
}

/// Why the dry run failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("kafka client configuration: {0}")]
    Config(KafkaError),
    #[error(
        "cannot read the cluster's metadata from {brokers} within {seconds} s: {cause}; check \
         brokers, TLS and SASL settings"
    )]
    Unreachable {
        brokers: String,
        seconds: u64,
        cause: String,
    },
    #[error("topic {0} does not exist on the cluster (or this client may not describe it)")]
    NoSuchTopic(String),
    #[error("cannot read the offsets of {topic}/{partition}: {source}")]
    Watermarks {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error(
        "{topic}/{partition} ends at offset {high} on the broker, but the ledger holds it up to \
         offset {position}: these are not the brokers or the topic this ledger read"
    )]
    PartitionBehindLedger {
        topic: String,
        partition: i32,
        high: i64,
        position: i64,
    },
}

/// Remembers the first error librdkafka reports (an authentication failure, a TLS handshake
/// that failed), which says more than a metadata request that timed out.
struct FirstError(Mutex<Option<String>>, Option<TokenSource>);

impl ClientContext for FirstError {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        let mut first = self.0.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(|| format!("{error}: {reason}"));
    }

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        crate::oauth::refresh(self.1.as_ref())
    }
}

impl rdkafka::consumer::ConsumerContext for FirstError {}

/// Connects as ingest would and plans each partition of the configured topics against the
/// ledger's stored `positions`.
pub fn check(
    config: &IngestConfig,
    positions: &[Position],
    timeout: Duration,
) -> Result<Vec<PartitionPlan>, CheckError> {
    let consumer: BaseConsumer<FirstError> = client_config(config)
        .create_with_context(FirstError(Mutex::new(None), config.oauth_token.clone()))
        .map_err(CheckError::Config)?;
    let stored: BTreeMap<(&str, i32), i64> = positions
        .iter()
        .map(|p| ((p.topic.as_str(), p.partition), p.next_offset))
        .collect();
    let mut plans = Vec::new();
    for topic in &config.topics {
        let metadata =
            consumer
                .fetch_metadata(Some(topic), timeout)
                .map_err(|e| CheckError::Unreachable {
                    brokers: config.brokers.clone(),
                    seconds: timeout.as_secs(),
                    cause: consumer
                        .context()
                        .0
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone()
                        .unwrap_or_else(|| e.to_string()),
                })?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(CheckError::NoSuchTopic(topic.clone()));
        };
        if t.error().is_some() || t.partitions().is_empty() {
            return Err(CheckError::NoSuchTopic(topic.clone()));
        }
        let mut partitions: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        partitions.sort_unstable();
        for partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .map_err(|source| CheckError::Watermarks {
                    topic: topic.clone(),
                    partition,
                    source,
                })?;
            plans.push(plan(
                topic,
                partition,
                low,
                high,
                stored.get(&(topic.as_str(), partition)),
            )?);
        }
    }
    Ok(plans)
}

/// Where ingest starts a partition whose broker offsets are `low..high`, given the ledger's
/// stored position (mirrors the pipeline's rebalance: the stored position when the ledger has
/// one, the earliest offset otherwise; a broker behind the ledger is refused as ingest refuses
/// it).
fn plan(
    topic: &str,
    partition: i32,
    low: i64,
    high: i64,
    stored: Option<&i64>,
) -> Result<PartitionPlan, CheckError> {
    let (start, start_from) = match stored {
        Some(&position) if position > high => {
            return Err(CheckError::PartitionBehindLedger {
                topic: topic.to_owned(),
                partition,
                high,
                position,
            });
        }
        Some(&position) => (position, StartFrom::LedgerPosition),
        None => (low, StartFrom::Earliest),
    };
    Ok(PartitionPlan {
        topic: topic.to_owned(),
        partition,
        low,
        high,
        start,
        start_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_starts_at_the_ledger_position_or_the_earliest_offset() {
        let p = plan("t", 0, 5, 100, Some(&40)).expect("plan");
        assert_eq!(
            (p.start, p.start_from, p.backlog()),
            (40, StartFrom::LedgerPosition, 60)
        );
        let p = plan("t", 1, 5, 100, None).expect("plan");
        assert_eq!(
            (p.start, p.start_from, p.backlog()),
            (5, StartFrom::Earliest, 95)
        );
        let p = plan("t", 2, 0, 100, Some(&100)).expect("plan");
        assert_eq!(p.backlog(), 0);
        let e = plan("t", 3, 0, 10, Some(&11)).expect_err("behind");
        assert!(e.to_string().starts_with("t/3 ends at offset 10"), "{e}");
    }
}
