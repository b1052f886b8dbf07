//! A local Kafka-protocol broker for trying and testing: librdkafka's mock cluster, listening on
//! 127.0.0.1 only; and producing a workload to it as feeds do (lz4 batches), checking that it
//! holds every message (it keeps about 5 MiB of batches per partition and drops older ones).

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

#[derive(Debug, thiserror::Error)]
pub enum DevBrokerError {
    #[error("cannot start the mock cluster: {0}")]
    Start(rdkafka::error::KafkaError),
    #[error("cannot create topic {topic}: {source}")]
    Topic {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("broker {id}: {source}")]
    Broker {
        id: i32,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot produce to {topic}: {source}")]
    Produce {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error(
        "the dev broker dropped the first {low} messages of {topic}/{partition} (it keeps 5 MiB of batches per partition); use more partitions"
    )]
    Dropped {
        topic: String,
        partition: i32,
        low: i64,
    },
}

/// One message to produce.
#[derive(Clone, Copy, Debug)]
pub struct DevMessage<'a> {
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// A partition, or none to let the key decide.
    pub partition: Option<i32>,
}

/// Produces `messages` to `topic` as a busy feed does (lz4-compressed batches of up to 10,000,
/// 50 ms linger), waiting while the local queue is full, and waits until every one is
/// acknowledged; `progress` sees the count every 1000 messages. Returns how many it sent.
pub fn produce<'a>(
    bootstrap: &str,
    topic: &str,
    messages: impl IntoIterator<Item = DevMessage<'a>>,
    mut progress: impl FnMut(usize),
) -> Result<usize, DevBrokerError> {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    use std::time::Duration;
    let fail = |source| DevBrokerError::Produce {
        topic: topic.to_owned(),
        source,
    };
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "50")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "2000000")
        .create()
        .map_err(fail)?;
    let mut sent = 0usize;
    for m in messages {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(k) = m.key {
            record = record.key(k);
        }
        if let Some(p) = m.payload {
            record = record.payload(p);
        }
        if let Some(p) = m.partition {
            record = record.partition(p);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    producer.poll(Duration::from_millis(5));
                    record = back;
                }
                Err((e, _)) => return Err(fail(e)),
            }
        }
        sent += 1;
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
            progress(sent);
        }
    }
    producer.flush(Duration::from_secs(300)).map_err(fail)?;
    Ok(sent)
}

/// The messages a dev-broker topic holds, once it is known to hold every one produced to it:
/// fails if the broker already dropped the start of a partition, since whatever reads the topic
/// would then miss them.
pub fn messages_held_whole(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<i64, DevBrokerError> {
    use rdkafka::consumer::Consumer as _;
    let fail = |source| DevBrokerError::Produce {
        topic: topic.to_owned(),
        source,
    };
    let probe: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(fail)?;
    let mut held = 0;
    for partition in 0..partitions {
        let (low, high) = probe
            .fetch_watermarks(topic, partition, std::time::Duration::from_secs(10))
            .map_err(fail)?;
        if low != 0 {
            return Err(DevBrokerError::Dropped {
                topic: topic.to_owned(),
                partition,
                low,
            });
        }
        held += high;
    }
    Ok(held)
}

/// A running mock cluster. It stops when dropped; it must stay on the thread that made it.
pub struct DevBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for DevBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevBroker")
            .field("bootstrap", &self.bootstrap_servers())
            .finish()
    }
}

impl DevBroker {
    /// Starts `brokers` brokers and creates each topic with its partition count.
    pub fn start(brokers: i32, topics: &[(String, i32)]) -> Result<DevBroker, DevBrokerError> {
        let cluster = MockCluster::new(brokers).map_err(DevBrokerError::Start)?;
        for (topic, partitions) in topics {
            cluster
                .create_topic(topic, *partitions, 1)
                .map_err(|source| DevBrokerError::Topic {
                    topic: topic.clone(),
                    source,
                })?;
        }
        Ok(DevBroker { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    pub fn broker_down(&self, id: i32) -> Result<(), DevBrokerError> {
        self.cluster
            .broker_down(id)
            .map_err(|source| DevBrokerError::Broker { id, source })
    }

    pub fn broker_up(&self, id: i32) -> Result<(), DevBrokerError> {
        self.cluster
            .broker_up(id)
            .map_err(|source| DevBrokerError::Broker { id, source })
    }
}
