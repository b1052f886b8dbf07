//! Out-of-scope records of a batch, accounted for in one compact system record per partition:
//! the offsets of messages that produced no entry, and a count per `format:kind`, so every
//! offset of a topic is still accounted for in the ledger.

use super::chunks::Decoded;
use idledger_ledger::{Item, Submission};
use idledger_proto::entry::{Origin, SystemRecord};
use std::collections::BTreeMap;

/// Longest kind kept, in bytes (cut at a character boundary); source type names are short.
const MAX_KIND_BYTES: usize = 128;
/// Most distinct kinds in one record; the rest are counted under `OTHER_KINDS`.
const MAX_KINDS: usize = 256;
const OTHER_KINDS: &str = "other";

#[derive(Default)]
struct Partition {
    /// Offset ranges `first..end` of messages with no entry, in order.
    offsets: Vec<(i64, i64)>,
    counts: BTreeMap<String, u64>,
}

/// A batch's out-of-scope records, by partition.
#[derive(Default)]
pub(super) struct OutOfScope {
    partitions: BTreeMap<(String, i32), Partition>,
}

impl OutOfScope {
    /// Notes a message's out-of-scope records, and its offset if it produced no entry.
    pub(super) fn add(&mut self, d: &Decoded) {
        if d.out_of_scope.is_empty() {
            return;
        }
        let p = self
            .partitions
            .entry((d.topic.to_string(), d.partition))
            .or_default();
        if d.submissions.is_empty() {
            match p.offsets.last_mut() {
                Some((_, end)) if *end == d.offset => *end += 1,
                _ => p.offsets.push((d.offset, d.offset + 1)),
            }
        }
        for kind in &d.out_of_scope {
            let kind = if p.counts.len() >= MAX_KINDS && !p.counts.contains_key(kind) {
                OTHER_KINDS.to_owned()
            } else {
                cut(kind)
            };
            *p.counts.entry(kind).or_default() += 1;
        }
    }

    /// One system record per partition that had out-of-scope records.
    pub(super) fn records(self) -> impl Iterator<Item = Submission> {
        self.partitions
            .into_iter()
            .map(|((topic, partition), p)| Submission {
                origin: Origin::Ledger,
                item: Item::System(SystemRecord::OutOfScope {
                    topic,
                    partition,
                    offsets: p.offsets,
                    counts: p.counts.into_iter().collect(),
                }),
            })
    }
}

/// A kind cut to `MAX_KIND_BYTES` at a character boundary.
fn cut(kind: &str) -> String {
    let mut end = kind.len().min(MAX_KIND_BYTES);
    while !kind.is_char_boundary(end) {
        end -= 1;
    }
    kind[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn message(offset: i64, events: usize, kinds: &[&str]) -> Decoded {
        let event = || Submission {
            origin: Origin::Ledger,
            item: Item::System(SystemRecord::KeyAdded {
                verifier_key: String::new(),
            }),
        };
        Decoded {
            topic: Arc::from("t"),
            partition: 2,
            offset,
            submissions: (0..events).map(|_| event()).collect(),
            out_of_scope: kinds.iter().map(|k| (*k).to_owned()).collect(),
            dead_letter: None,
        }
    }

    #[test]
    fn messages_without_entries_are_ranges_and_every_record_is_counted() {
        let mut all = OutOfScope::default();
        for d in [
            message(10, 0, &["okta:policy.evaluate_sign_on"]),
            message(
                11,
                0,
                &["okta:policy.evaluate_sign_on", "okta:user.session.end"],
            ),
            message(12, 1, &["okta:user.session.end"]),
            message(13, 1, &[]),
            message(14, 0, &["okta:policy.evaluate_sign_on"]),
        ] {
            all.add(&d);
        }
        let records: Vec<_> = all.records().map(|s| s.item).collect();
        let [
            Item::System(SystemRecord::OutOfScope {
                topic,
                partition,
                offsets,
                counts,
            }),
        ] = records.as_slice()
        else {
            panic!("one record for the one partition, found {records:?}")
        };
        assert_eq!((topic.as_str(), *partition), ("t", 2));
        assert_eq!(offsets, &[(10, 12), (14, 15)]);
        assert_eq!(
            counts,
            &[
                ("okta:policy.evaluate_sign_on".to_owned(), 3),
                ("okta:user.session.end".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn a_batch_without_out_of_scope_records_adds_no_record() {
        let mut all = OutOfScope::default();
        all.add(&message(1, 1, &[]));
        assert_eq!(all.records().count(), 0);
    }

    #[test]
    fn kinds_are_cut_at_a_character_boundary_and_bounded_in_number() {
        assert_eq!(cut(&"é".repeat(100)).len(), 128);
        let mut all = OutOfScope::default();
        let kinds: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        let refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
        all.add(&message(1, 0, &refs));
        let Some(Item::System(SystemRecord::OutOfScope { counts, .. })) =
            all.records().next().map(|s| s.item)
        else {
            panic!("a record")
        };
        assert_eq!(counts.len(), MAX_KINDS + 1);
        assert_eq!(
            counts
                .iter()
                .find(|(k, _)| k == OTHER_KINDS)
                .map(|(_, n)| *n),
            Some(300 - MAX_KINDS as u64)
        );
    }
}
