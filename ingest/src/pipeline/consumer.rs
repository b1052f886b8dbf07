//! The Kafka consumer: the librdkafka settings ingest runs with, and a handle that closes the
//! consumer within a bounded time however the broker behaves (docs/DURABILITY.md item 4).

use super::context::IngestContext;
use super::{IngestError, Shared};
use crate::config::IngestConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

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

/// A consumer with ingest's callbacks, subscribed to the configured topics.
pub(super) fn subscribe(
    config: &IngestConfig,
    shared: Arc<Shared>,
) -> Result<ClosingConsumer, IngestError> {
    let consumer = ClosingConsumer(Some(Arc::new(
        client_config(config)
            .create_with_context(IngestContext::new(shared, config.oauth_token.clone()))
            .map_err(IngestError::Config)?,
    )));
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|source| IngestError::Subscribe {
            topics: config.topics.clone(),
            source,
        })?;
    Ok(consumer)
}

/// How long stopping waits for the consumer group to acknowledge this consumer leaving.
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);

/// The consumer, closed within `CLOSE_DEADLINE` when dropped. rdkafka's own drop polls until the
/// group coordinator acknowledges the consumer leaving, which never happens once the broker is
/// gone (an ingest process asked to stop then never exits). Positions live in the ledger, so a
/// consumer that cannot leave in time is abandoned, its memory not reclaimed, instead.
pub(super) struct ClosingConsumer(Option<Arc<BaseConsumer<IngestContext>>>);

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
