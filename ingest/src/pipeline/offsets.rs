//! The sequencer's checks of a partition's offsets against the broker's watermarks: a message
//! below the ledger's position is dropped only while the broker's partition reaches that
//! position (docs/DURABILITY.md item 5), and a jump past the next offset expected is recorded
//! when the broker no longer holds the offsets jumped over (item 7).

use super::chunks::Decoded;
use super::context::IngestContext;
use super::partition::{PartitionMap, TopicPartition};
use super::{IngestError, Shared, locked};
use idledger_ledger::{Item, Submission};
use idledger_proto::entry::{Origin, SystemRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// The shortest time between two watermark requests to the broker for one partition.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Asks about partitions' watermarks: the statistics' cached ones first, the broker at most once
/// per `PROBE_INTERVAL` per partition.
pub(super) struct OffsetChecks<'a> {
    consumer: &'a BaseConsumer<IngestContext>,
    shared: &'a Shared,
    /// When each partition's watermarks were last requested, on `probe_clock`.
    probes: PartitionMap,
}

impl<'a> OffsetChecks<'a> {
    pub(super) fn new(
        consumer: &'a BaseConsumer<IngestContext>,
        shared: &'a Shared,
    ) -> OffsetChecks<'a> {
        OffsetChecks {
            consumer,
            shared,
            probes: PartitionMap::default(),
        }
    }

    /// A partition's (log start, end) on the broker, when they can settle `decided`: from the
    /// statistics if those already do, else from a watermark request, made at most once per
    /// `PROBE_INTERVAL` for each partition (`probes` keeps when, on `probe_clock`). `None` when
    /// neither is available: the caller then decides nothing.
    fn settled_watermarks(
        &mut self,
        message: &Decoded,
        decided: impl Fn(i64, i64) -> bool,
    ) -> Option<(i64, i64)> {
        let (topic, partition) = (&message.topic, message.partition);
        let cached = locked(&self.shared.watermarks)
            .get(&TopicPartition::new(&**topic, partition))
            .copied();
        if let Some((low, high)) = cached
            && decided(low, high)
        {
            return cached;
        }
        let now = probe_clock();
        if self
            .probes
            .get(topic, partition)
            .is_some_and(|last| now - last < PROBE_INTERVAL.as_millis() as i64)
        {
            return None;
        }
        self.probes.set(topic, partition, now);
        self.consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .inspect_err(|e| {
                warn!(topic = %topic, partition, error = %e,
                    "cannot ask the broker for a partition's watermarks");
            })
            .ok()
    }

    /// Offsets `expected..message.offset` of a partition were skipped by the consumer: the
    /// entry recording the part of them the broker no longer holds (its log starts past
    /// `expected`: retention or a records deletion removed them before ingest read them), or
    /// `None` when it still holds them all (transaction markers, aborted or compacted records
    /// take offsets no message is delivered for), or cannot say. The statistics can only
    /// understate where the log starts, so a log start past `expected` there is final.
    pub(super) fn gone_from_broker(&mut self, message: &Decoded, expected: i64) -> Option<Decoded> {
        let (topic, partition, offset) = (&message.topic, message.partition, message.offset);
        let log_start = self
            .settled_watermarks(message, |low, _| low > expected)
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
            submissions: vec![Submission {
                origin: Origin::Ledger,
                item: Item::System(SystemRecord::OffsetsUnavailable {
                    topic: topic.to_string(),
                    partition,
                    first,
                    end,
                }),
            }],
            out_of_scope: Vec::new(),
            dead_letter: None,
        })
    }

    /// For a message below the ledger's position on its partition: checks the broker's
    /// partition reaches that position, so the message is a re-delivery of one the ledger holds
    /// (after a seek or rebalance). A partition that ends before it was recreated, or these are
    /// other brokers: its messages are not the ledger's, and skipping them as already present
    /// would lose them. Only the broker's own answer stops ingest (statistics may lag behind a
    /// live partition).
    pub(super) fn ensure_partition_reaches(
        &mut self,
        message: &Decoded,
        position: i64,
    ) -> Result<(), IngestError> {
        match self.settled_watermarks(message, |_, high| high >= position) {
            Some((_, end)) if end < position => Err(IngestError::PartitionBehindLedger {
                topic: message.topic.to_string(),
                partition: message.partition,
                end,
                position,
            }),
            _ => Ok(()),
        }
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

#[cfg(test)]
mod tests {
    use super::unavailable_range;

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
