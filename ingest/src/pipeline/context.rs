//! The consumer's callbacks, run by librdkafka inside `poll` on the polling thread: watermarks
//! from statistics, fatal errors, and rebalances (start assigned partitions at the ledger's
//! positions; drain and commit before giving partitions away).

use super::partition::TopicPartition;
use super::{Shared, locked};
use crate::oauth::TokenSource;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use std::sync::Arc;
use std::sync::atomic::{
    AtomicBool,
    Ordering::{Relaxed, SeqCst},
};
use std::time::Duration;
use tracing::{debug, error, info, warn};

/// Consumer callbacks: seek to the ledger's positions on assignment, drain and commit on
/// revocation, record fatal errors.
pub(super) struct IngestContext {
    shared: Arc<Shared>,
    /// Where OAUTHBEARER tokens come from, if anywhere.
    oauth_token: Option<TokenSource>,
    /// Set once the pipeline has stopped and the consumer is leaving the group.
    pub(super) closing: AtomicBool,
}

impl IngestContext {
    pub(super) fn new(shared: Arc<Shared>, oauth_token: Option<TokenSource>) -> IngestContext {
        IngestContext {
            shared,
            oauth_token,
            closing: AtomicBool::new(false),
        }
    }
}

impl ClientContext for IngestContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        crate::oauth::refresh(self.oauth_token.as_ref())
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut w = locked(&self.shared.watermarks);
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
        self.shared.metrics.broker_errors.fetch_add(1, Relaxed);
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
                    // A certificate that does not verify, or a TLS handshake refused, does not
                    // mend itself by retrying.
                    | RDKafkaErrorCode::SSL
            )
        );
        if fatal {
            error!(error = %error, reason, "fatal kafka error");
            *locked(&self.shared.fatal) = Some(format!("{error}: {reason}"));
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

/// The partitions of a rebalance's list.
fn partitions(tpl: &TopicPartitionList) -> impl Iterator<Item = TopicPartition> + '_ {
    tpl.elements()
        .into_iter()
        .map(|el| TopicPartition::new(el.topic(), el.partition()))
}

impl IngestContext {
    /// Starts each partition at the ledger's stored position, or at the group's committed offset
    /// if another member (with its own ledger) got further, or at the beginning.
    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(10))
            .ok();
        let positions = locked(&self.shared.positions).clone();
        let mut starts = Vec::new();
        for tp in partitions(tpl) {
            let stored = positions.get(&tp).copied();
            let group = committed.as_ref().and_then(|c| {
                match c.find_partition(&tp.topic, tp.partition)?.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                }
            });
            let start = match (stored, group) {
                (Some(s), Some(g)) if g > s => {
                    // Another member, with its own ledger, consumed past this ledger's position.
                    warn!(
                        topic = tp.topic,
                        partition = tp.partition,
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
            info!(topic = tp.topic, partition = tp.partition, start = ?start, "partition assigned");
            starts.push((tp, start));
        }
        let mut assigned = locked(&self.shared.assigned);
        for (tp, start) in starts {
            if let Err(e) = tpl.set_partition_offset(&tp.topic, tp.partition, start) {
                warn!(topic = tp.topic, partition = tp.partition, error = %e, "cannot set start offset");
            }
            assigned.insert(tp);
        }
        self.shared.assigned_epoch.fetch_add(1, SeqCst);
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
            let mut assigned = locked(&self.shared.assigned);
            for tp in partitions(tpl) {
                assigned.remove(&tp);
            }
            self.shared.assigned_epoch.fetch_add(1, SeqCst);
        }
        let closing = self.closing.load(SeqCst);
        if closing || consumer.assignment_lost() {
            for tp in partitions(tpl) {
                info!(
                    topic = tp.topic,
                    partition = tp.partition,
                    closing,
                    "partition revoked without a commit"
                );
            }
            if let Err(e) = consumer.unassign() {
                warn!(error = %e, "unassign failed");
            }
            return;
        }
        self.drain();
        self.commit_positions(consumer, tpl);
        for tp in partitions(tpl) {
            info!(
                topic = tp.topic,
                partition = tp.partition,
                "partition revoked"
            );
        }
        if let Err(e) = consumer.unassign() {
            warn!(error = %e, "unassign failed");
        }
    }

    /// Waits until everything polled so far is durable or dropped.
    fn drain(&self) {
        let target = {
            let mut d = locked(&self.shared.dispatch);
            d.flush();
            d.sent
        };
        self.shared.progress.flush_requested.store(true, SeqCst);
        if !self
            .shared
            .progress
            .wait_for(target, Duration::from_secs(120))
        {
            error!("revocation: pipeline did not drain in time");
        }
    }

    /// Commits the ledger's positions of the revoked partitions to the group, synchronously.
    fn commit_positions(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let positions = locked(&self.shared.positions).clone();
        let mut commit = TopicPartitionList::new();
        for tp in partitions(tpl) {
            if let Some(next) = positions.get(&tp) {
                let _ = commit.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*next));
            }
        }
        if commit.count() > 0 {
            // Usually already committed after the last batch; a broker in mid-rebalance may
            // refuse this one, which is harmless then.
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                debug!(error = %e, "commit on revocation not accepted");
            }
        }
    }
}
