//! A local Kafka-protocol broker for trying and testing: librdkafka's mock cluster, listening on
//! 127.0.0.1 only.

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
