//! Naming a Kafka partition: `TopicPartition` keys the maps the stages share, `PartitionMap`
//! is the sequencer's allocation-free lookup on its per-message path.

use std::collections::HashMap;
use std::fmt;

/// One partition of one topic. Ordered by topic, then partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct TopicPartition {
    pub(super) topic: String,
    pub(super) partition: i32,
}

impl TopicPartition {
    pub(super) fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A value per (topic, partition), looked up by `&str` without allocating.
#[derive(Default)]
pub(super) struct PartitionMap(HashMap<String, HashMap<i32, i64>>);

impl PartitionMap {
    pub(super) fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.0.get(topic)?.get(&partition).copied()
    }

    pub(super) fn set(&mut self, topic: &str, partition: i32, value: i64) {
        match self.0.get_mut(topic) {
            Some(m) => {
                m.insert(partition, value);
            }
            None => {
                self.0
                    .insert(topic.to_owned(), HashMap::from([(partition, value)]));
            }
        }
    }

    /// Every (topic, partition) with its value, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.0.iter().flat_map(|(topic, parts)| {
            parts
                .iter()
                .map(move |(partition, value)| (topic.as_str(), *partition, *value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{PartitionMap, TopicPartition};
    use std::collections::BTreeSet;

    #[test]
    fn partitions_order_by_topic_then_partition_and_print_as_topic_slash_partition() {
        let set: BTreeSet<TopicPartition> = [("b", 0), ("a", 10), ("a", 2)]
            .into_iter()
            .map(|(t, p)| TopicPartition::new(t, p))
            .collect();
        let printed: Vec<String> = set.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["a/2", "a/10", "b/0"]);
    }

    #[test]
    fn a_partition_map_keeps_one_value_per_topic_and_partition() {
        let mut m = PartitionMap::default();
        m.set("t", 0, 5);
        m.set("t", 1, 7);
        m.set("u", 0, 9);
        m.set("t", 0, 6);
        assert_eq!(
            (m.get("t", 0), m.get("t", 1), m.get("u", 0), m.get("u", 1)),
            (Some(6), Some(7), Some(9), None)
        );
        let mut all: Vec<_> = m.iter().collect();
        all.sort();
        assert_eq!(all, [("t", 0, 6), ("t", 1, 7), ("u", 0, 9)]);
    }
}
