//! The polling loop (on the caller's thread): polls the consumer, which also runs the rebalance
//! callbacks, fills chunks for the decode workers, keeps the lag gauges, and decides when a
//! caught-up ingest stops by itself.

use super::chunks::Polled;
use super::context::IngestContext;
use super::{IngestError, Sequenced, Shared, Shutdown, locked};
use crate::config::IngestConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use std::ops::ControlFlow::{self, Break, Continue};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// How often the lag gauges are updated (and a caught-up ingest may stop).
const LAG_INTERVAL: Duration = Duration::from_millis(500);

/// The polling loop's state.
pub(super) struct Poller<'a, 'scope> {
    consumer: &'a BaseConsumer<IngestContext>,
    shared: &'a Shared,
    config: &'a IngestConfig,
    shutdown: &'a Shutdown,
    sequencer: &'a ScopedJoinHandle<'scope, Sequenced>,
    chunk_size: usize,
    /// Every topic's name once, shared by its messages.
    topic_names: Vec<Arc<str>>,
    last_message: Instant,
    last_lag_check: Instant,
    backoff: Duration,
}

impl<'a, 'scope> Poller<'a, 'scope> {
    pub(super) fn new(
        consumer: &'a BaseConsumer<IngestContext>,
        shared: &'a Shared,
        config: &'a IngestConfig,
        shutdown: &'a Shutdown,
        sequencer: &'a ScopedJoinHandle<'scope, Sequenced>,
    ) -> Poller<'a, 'scope> {
        Poller {
            consumer,
            shared,
            config,
            shutdown,
            sequencer,
            chunk_size: config.chunk.max(1),
            topic_names: Vec::new(),
            last_message: Instant::now(),
            last_lag_check: Instant::now(),
            backoff: Duration::from_millis(100),
        }
    }

    /// Polls until shutdown is requested, the sequencer or the workers have stopped, a fatal
    /// client error was reported, or (with `stop_when_caught_up`) everything assigned is in the
    /// ledger.
    pub(super) fn run(mut self) -> Result<(), IngestError> {
        while !self.shutdown.requested() {
            if let Some(f) = locked(&self.shared.fatal).clone() {
                return Err(IngestError::Fatal(f));
            }
            if self.sequencer.is_finished() {
                // The sequencer only stops early on a ledger error; its result carries it.
                return Ok(());
            }
            let step = match self.consumer.poll(Duration::from_millis(50)) {
                Some(Ok(m)) => self.take(&m),
                Some(Err(e)) => {
                    self.shared.metrics.broker_errors.fetch_add(1, Relaxed);
                    if unconsumable(&e) {
                        error!(error = %e, "a message cannot be consumed; stopping");
                        return Err(IngestError::Unconsumable {
                            source: e,
                            behind: String::new(),
                        });
                    }
                    warn!(error = %e, backoff_ms = self.backoff.as_millis() as u64, "poll error, retrying");
                    std::thread::sleep(self.backoff);
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                    Continue(())
                }
                None => self.flush(),
            };
            if step.is_break() {
                return Ok(());
            }
            if self.last_lag_check.elapsed() >= LAG_INTERVAL {
                self.last_lag_check = Instant::now();
                if self.check_lag().is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Copies a message into the pending chunk, handing the chunk on when full; breaks once the
    /// workers are gone.
    fn take(&mut self, m: &BorrowedMessage<'_>) -> ControlFlow<()> {
        self.shared.metrics.polled.fetch_add(1, Relaxed);
        self.backoff = Duration::from_millis(100);
        self.last_message = Instant::now();
        let topic = match self.topic_names.iter().find(|t| t.as_ref() == m.topic()) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(m.topic());
                self.topic_names.push(t.clone());
                t
            }
        };
        let headers = cloudevents_headers(m);
        let mut d = locked(&self.shared.dispatch);
        d.pending.push(Polled {
            topic,
            partition: m.partition(),
            offset: m.offset(),
            timestamp_ms: m.timestamp().to_millis(),
            key: m.key(),
            payload: m.payload(),
            headers: &headers,
        });
        if d.pending.len() >= self.chunk_size && !d.flush() {
            return Break(());
        }
        Continue(())
    }

    /// Nothing arrived: hands on what the pending chunk holds; breaks once the workers are gone.
    fn flush(&self) -> ControlFlow<()> {
        if locked(&self.shared.dispatch).flush() {
            Continue(())
        } else {
            Break(())
        }
    }

    /// Updates the lag gauges; breaks when ingest should stop because it has caught up.
    fn check_lag(&self) -> ControlFlow<()> {
        let idle = self
            .config
            .stop_when_caught_up
            .is_some_and(|idle| self.last_message.elapsed() >= idle);
        if idle {
            // Statistics only report a partition's watermark once it was fetched; when idle
            // and about to decide whether to stop, ask the broker for any still unknown.
            self.fill_missing_watermarks();
        }
        let caught_up = self.update_lag();
        if let Some(idle) = self.config.stop_when_caught_up {
            let sent = locked(&self.shared.dispatch).sent;
            let processed = *locked(&self.shared.progress.processed);
            if caught_up && processed >= sent && self.last_message.elapsed() >= idle {
                info!("caught up with every assigned partition, stopping");
                return Break(());
            }
        }
        Continue(())
    }

    fn fill_missing_watermarks(&self) {
        let assigned = locked(&self.shared.assigned).clone();
        let known = locked(&self.shared.watermarks).clone();
        for tp in assigned {
            if !known.contains_key(&tp)
                && let Ok((low, high)) =
                    self.consumer
                        .fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(2))
            {
                locked(&self.shared.watermarks).insert(tp, (low, high));
            }
        }
    }

    /// Updates lag gauges from the cached watermarks; true when every assigned partition's
    /// position is at its high watermark.
    fn update_lag(&self) -> bool {
        let assigned = locked(&self.shared.assigned).clone();
        if assigned.is_empty() {
            return false;
        }
        let positions = locked(&self.shared.positions).clone();
        let watermarks = locked(&self.shared.watermarks).clone();
        let mut all = true;
        for tp in assigned {
            match watermarks.get(&tp) {
                Some(&(low, high)) => {
                    let pos = positions.get(&tp).copied().unwrap_or(low).max(low);
                    let lag = (high - pos).max(0);
                    self.shared.metrics.set_lag(&tp.topic, tp.partition, lag);
                    all &= lag == 0;
                }
                None => all = false,
            }
        }
        all
    }
}

/// Whether a poll error is about a message that can never be consumed as it is: a corrupt
/// record or batch, a compression codec this build cannot read, a record too large. librdkafka
/// would fetch the same offset again forever, and the partition's later messages would never
/// land, so ingest stops (docs/DURABILITY.md item 8). Every other poll error (a broker down, a
/// timeout, a topic not yet created) concerns no offset and is retried.
pub(super) fn unconsumable(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::MessageConsumption(code) | KafkaError::MessageConsumptionFatal(code)
            if matches!(
                code,
                RDKafkaErrorCode::BadMessage
                    | RDKafkaErrorCode::BadCompression
                    | RDKafkaErrorCode::NotImplemented
                    | RDKafkaErrorCode::InvalidMessage
                    | RDKafkaErrorCode::InvalidMessageSize
                    | RDKafkaErrorCode::MessageSizeTooLarge
                    | RDKafkaErrorCode::UnsupportedCompressionType
                    | RDKafkaErrorCode::UnsupportedForMessageFormat
                    | RDKafkaErrorCode::InvalidRecord
            )
    ) || matches!(e, KafkaError::MessageConsumptionFatal(_))
}

/// The headers a CloudEvents binary-mode message carries its envelope in (`ce_*` and
/// `content-type`); no other header is kept. Empty (no allocation) for a message without.
fn cloudevents_headers<'m>(
    m: &'m rdkafka::message::BorrowedMessage<'_>,
) -> Vec<(&'m str, &'m [u8])> {
    use rdkafka::message::{Headers, Message as _};
    let Some(headers) = m.headers() else {
        return Vec::new();
    };
    headers
        .iter()
        .filter(|h| {
            h.key.len() > 3 && h.key[..3].eq_ignore_ascii_case("ce_")
                || h.key.eq_ignore_ascii_case("content-type")
        })
        .map(|h| (h.key, h.value.unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_errors_stop_and_others_are_retried() {
        let cases = [
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::BadCompression),
                true,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::NotImplemented),
                true,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::BadMessage),
                true,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::InvalidMessage),
                true,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::MessageSizeTooLarge),
                true,
            ),
            (
                KafkaError::MessageConsumptionFatal(RDKafkaErrorCode::Fatal),
                true,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure),
                false,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown),
                false,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition),
                false,
            ),
            (
                KafkaError::MessageConsumption(RDKafkaErrorCode::RequestTimedOut),
                false,
            ),
        ];
        for (e, stops) in cases {
            assert_eq!(unconsumable(&e), stops, "{e}");
        }
    }
}
