//! The parallel half of verification: workers read chunks of entries, hash each leaf and pull
//! out what the sequential checks need (index, chain link, Kafka offset, back-links, key
//! records, keyed fingerprints of the ids the indexes hold), borrowing nothing from the bytes.

use crate::reader::ChunkCursor;
use crate::store::be_u64;
use idledger_proto::Hash;
use idledger_proto::entry::{BackLinks, SystemRecord};
use idledger_proto::hash::leaf_hash;
use idledger_proto::rejection::{KeptPayload, RejectReason};
use idledger_proto::view::{BodyView, EntryView, OriginView};
use std::collections::HashMap;

/// Keyed 64-bit fingerprints of ids and index records. The key is random per run, so nobody can
/// make two different records collide on purpose; indexes are compared as multisets of
/// fingerprints, and any disagreement is then located exactly by a slower second pass.
pub(super) struct Fingerprints {
    pub(super) state: std::hash::RandomState,
}

impl Fingerprints {
    pub(super) fn of(&self, bytes: &[u8]) -> u64 {
        self.of_parts(&[bytes])
    }
    /// The fingerprint of the parts' concatenation.
    pub(super) fn of_parts(&self, parts: &[&[u8]]) -> u64 {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = self.state.build_hasher();
        for p in parts {
            h.write(p);
        }
        h.finish()
    }
}

/// A `HashMap` hasher for keys that are already keyed fingerprints.
#[derive(Default)]
pub(super) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(super) type FingerprintMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<PassThrough>>;

/// What one stored entry says, extracted by a worker: its hash and, for events, fingerprints of
/// the ids the sequential checks need. Nothing here borrows the entry's bytes.
pub(super) struct Walked {
    pub(super) key: u64,
    pub(super) leaf: Hash,
    pub(super) len: u32,
    pub(super) facts: Result<Facts, String>,
}

pub(super) struct Facts {
    pub(super) seq: u64,
    pub(super) prev: Hash,
    /// Topic fingerprint, partition, offset.
    pub(super) kafka: Option<(u64, i32, i64)>,
    pub(super) body: BodyFacts,
    /// Where the entry holds secret material, if it does.
    pub(super) secret: Option<String>,
}

pub(super) enum BodyFacts {
    Event {
        links: BackLinks,
        subject: u64,
        grant: Option<u64>,
        credential: Option<u64>,
        /// Fingerprint of the `resources` record this entry makes if it is its grant's first.
        resource: Option<u64>,
        /// Fingerprint of the `dedupe` record that must point at this entry.
        dedupe: u64,
    },
    System(SystemRecord),
    /// A quarantined entry; for a conflicting duplicate, what it claims (checked after the walk
    /// against the entry it names: they are rare).
    Quarantined(Option<Box<Conflict>>),
}

/// A quarantined conflicting duplicate: entry `first` is said to be an earlier event with the
/// same source and id and other content than the kept `event` (canonical bytes).
#[derive(Clone)]
pub(super) struct Conflict {
    pub(super) first: u64,
    pub(super) source: String,
    pub(super) id: String,
    pub(super) event: Vec<u8>,
}

/// One chunk's results, in key order, and the names behind its topic fingerprints.
pub(super) struct ChunkOut {
    pub(super) walked: Vec<Walked>,
    pub(super) topics: Vec<(u64, String)>,
}

/// Hashes and parses one chunk of entries.
pub(super) fn walk_chunk(cursor: &mut ChunkCursor<'_>, fp: &Fingerprints) -> ChunkOut {
    let mut out = ChunkOut {
        walked: Vec::new(),
        topics: Vec::new(),
    };
    while let Some((k, v)) = cursor.next() {
        let key = be_u64(k).filter(|_| k.len() == 8).unwrap_or(u64::MAX);
        out.walked.push(walk_entry(key, v, fp, &mut out.topics));
    }
    out
}

pub(super) fn walk_entry(
    key: u64,
    bytes: &[u8],
    fp: &Fingerprints,
    topics: &mut Vec<(u64, String)>,
) -> Walked {
    let print = |parts: &[&[u8]]| fp.of_parts(parts);
    let facts = EntryView::decode(bytes)
        .map_err(|e| e.to_string())
        .map(|view| {
            // The highest offset of a partition this entry accounts for: its message's, or the
            // last of a range recorded as unavailable.
            let mut kafka_offset = |topic: &str, partition: i32, offset: i64| {
                let t = print(&[topic.as_bytes()]);
                if !topics.iter().any(|(f, _)| *f == t) {
                    topics.push((t, topic.to_owned()));
                }
                Some((t, partition, offset))
            };
            let kafka = match (&view.origin, &view.body) {
                (OriginView::Kafka(k), _) => kafka_offset(k.topic, k.partition, k.offset),
                (
                    _,
                    BodyView::System(SystemRecord::OffsetsUnavailable {
                        topic,
                        partition,
                        end,
                        ..
                    }),
                ) => kafka_offset(topic, *partition, end.saturating_sub(1)),
                (
                    _,
                    BodyView::System(SystemRecord::OutOfScope {
                        topic,
                        partition,
                        offsets,
                        ..
                    }),
                ) => offsets
                    .iter()
                    .map(|(_, end)| *end)
                    .max()
                    .and_then(|end| kafka_offset(topic, *partition, end.saturating_sub(1))),
                _ => None,
            };
            let secret = idledger_proto::decode::secret_in_entry(bytes, &view);
            let body = match view.body {
                BodyView::Event(e) => {
                    let ev = &e.event;
                    let seq = key.to_be_bytes();
                    let source_len = (ev.source.len() as u16).to_be_bytes();
                    BodyFacts::Event {
                        subject: print(&[b"s", ev.subject.id.as_bytes()]),
                        grant: ev.grant_id.map(|g| print(&[b"g", g.as_bytes()])),
                        credential: ev
                            .credential
                            .as_ref()
                            .map(|c| print(&[b"c", c.id.as_bytes()])),
                        resource: match (ev.resource, ev.grant_id) {
                            (Some(r), Some(g)) => {
                                Some(print(&[r.as_bytes(), &[0], g.as_bytes(), &seq]))
                            }
                            _ => None,
                        },
                        dedupe: print(&[&source_len, ev.source.as_bytes(), ev.id.as_bytes(), &seq]),
                        links: e.links,
                    }
                }
                BodyView::System(record) => BodyFacts::System(record),
                BodyView::Quarantined(r) => BodyFacts::Quarantined(match (&r.reason, &r.payload) {
                    (
                        RejectReason::ConflictingDuplicate { first_index },
                        KeptPayload::Event(event),
                    ) => Some(Box::new(Conflict {
                        first: *first_index,
                        source: event.source.clone(),
                        id: event.id.clone(),
                        event: idledger_proto::entry::encode_event(event),
                    })),
                    _ => None,
                }),
            };
            Facts {
                seq: view.seq,
                prev: Hash(view.prev_leaf_hash),
                kafka,
                body,
                secret,
            }
        });
    Walked {
        key,
        leaf: leaf_hash(bytes),
        len: bytes.len() as u32,
        facts,
    }
}
