//! The ledger entry: the exact bytes that are stored, hashed (RFC 6962 leaf) and chained. Layout
//! version 1 is documented byte by byte in docs/FORMAT.md.

use crate::event::Event;
use crate::hash::{Hash, leaf_hash};
use crate::rejection::Rejection;
use crate::time::Timestamp;
use crate::tree_size::Seq;
use bincode::{Decode, Encode};
use serde::Serialize;

/// The leaf format version this code writes and the only one it reads.
pub const FORMAT_VERSION: u8 = 1;
/// Largest leaf the decoder accepts (a 64 KiB payload plus its framing fits with room to spare).
pub const MAX_LEAF_BYTES: usize = 1024 * 1024;
/// Longest Kafka message key kept in provenance; longer keys are cut (the cut is flagged).
pub const MAX_KEPT_KEY_BYTES: usize = 1024;

/// The bincode configuration of every leaf: big-endian fixed-width integers (see docs/FORMAT.md).
fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_LEAF_BYTES>()
}

/// Where an entry came from.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Origin {
    /// A Kafka message.
    Kafka(KafkaOrigin),
    /// `idledger append` or another local writer; `label` names the input (e.g. a file name).
    Local { label: String, line: u64 },
    /// The ledger itself (system records).
    Ledger,
}

/// Kafka provenance of an entry.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct KafkaOrigin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The message timestamp in milliseconds since the epoch, when the broker gave one.
    pub timestamp_ms: Option<i64>,
    /// The message key (at most `MAX_KEPT_KEY_BYTES`).
    #[serde(serialize_with = "serialize_key")]
    pub key: Option<Vec<u8>>,
    /// Whether the key was longer than `MAX_KEPT_KEY_BYTES` and was cut.
    pub key_truncated: bool,
}

fn serialize_key<S: serde::Serializer>(k: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.serialize_some(&String::from_utf8_lossy(k)),
        None => s.serialize_none(),
    }
}

impl KafkaOrigin {
    pub fn new(
        topic: &str,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
    ) -> KafkaOrigin {
        KafkaOrigin {
            topic: topic.to_owned(),
            partition,
            offset,
            timestamp_ms,
            key: key.map(|k| k[..k.len().min(MAX_KEPT_KEY_BYTES)].to_vec()),
            key_truncated: key.is_some_and(|k| k.len() > MAX_KEPT_KEY_BYTES),
        }
    }
}

/// Indexes of earlier entries about the same subject, grant and credential. They are inside the
/// hashed bytes, so a history cannot skip an entry without breaking a signed back-link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct BackLinks {
    pub prev_subject: Option<u64>,
    pub prev_grant: Option<u64>,
    pub prev_credential: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct EventEntry {
    pub links: BackLinks,
    pub event: Event,
}

/// Records the ledger writes about itself.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum SystemRecord {
    /// Entry 0 of every ledger: the checkpoint origin and the first signing key.
    Genesis {
        origin: String,
        verifier_key: String,
    },
    /// A new signing key, announced under the current one. From this entry on, checkpoints carry
    /// both signatures until the old key is retired.
    KeyAdded { verifier_key: String },
    /// A key that signs no checkpoint beyond this entry.
    KeyRetired { verifier_key: String },
    /// Offsets `first..end` (end exclusive) of a Kafka partition came next for this ledger, but
    /// the broker no longer held them when ingest asked (retention or a records deletion had
    /// removed them): they will never be in this ledger, and this entry says so where they
    /// would have been.
    OffsetsUnavailable {
        topic: String,
        partition: i32,
        first: i64,
        end: i64,
    },
}

/// What an entry records.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Event(Box<EventEntry>),
    Quarantined(Box<Rejection>),
    System(SystemRecord),
}

/// One ledger entry. Field order is the encoding order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct Entry {
    pub version: u8,
    pub seq: u64,
    #[serde(serialize_with = "serialize_hash")]
    pub prev_leaf_hash: [u8; 32],
    pub received_at: Timestamp,
    pub origin: Origin,
    pub body: Body,
}

fn serialize_hash<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&Hash(*h).to_hex())
}

/// Why bytes are not a version-1 leaf.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeafError {
    #[error("leaf is {found} bytes; the limit is {limit}")]
    TooLarge { found: usize, limit: usize },
    #[error("leaf format version {found}; this build reads version {expected}")]
    UnknownVersion { found: u8, expected: u8 },
    #[error("leaf does not decode: {0}")]
    Malformed(String),
    #[error("leaf has {0} bytes after its end")]
    TrailingBytes(usize),
}

/// What every leaf decoder checks before decoding: the size limit and the format version.
pub(crate) fn check_preamble(leaf: &[u8]) -> Result<(), LeafError> {
    if leaf.len() > MAX_LEAF_BYTES {
        return Err(LeafError::TooLarge {
            found: leaf.len(),
            limit: MAX_LEAF_BYTES,
        });
    }
    match leaf.first() {
        Some(&FORMAT_VERSION) => Ok(()),
        Some(&v) => Err(LeafError::UnknownVersion {
            found: v,
            expected: FORMAT_VERSION,
        }),
        None => Err(LeafError::Malformed("empty".into())),
    }
}

impl Entry {
    pub fn seq(&self) -> Seq {
        Seq(self.seq)
    }

    pub fn prev_leaf_hash(&self) -> Hash {
        Hash(self.prev_leaf_hash)
    }

    /// The canonical leaf bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(768);
        bincode::encode_into_std_write(self, &mut out, config())
            .expect("encoding to a Vec cannot fail and leaves stay under the size limit");
        out
    }

    /// Decodes leaf bytes strictly: right version, nothing left over, every value well-formed.
    pub fn decode(leaf: &[u8]) -> Result<Entry, LeafError> {
        check_preamble(leaf)?;
        let (entry, used): (Entry, usize) = bincode::decode_from_slice(leaf, config())
            .map_err(|e| LeafError::Malformed(e.to_string()))?;
        if used != leaf.len() {
            return Err(LeafError::TrailingBytes(leaf.len() - used));
        }
        Ok(entry)
    }

    /// Reads only the fixed-position header: version, seq and previous leaf hash.
    pub fn decode_header(leaf: &[u8]) -> Result<(Seq, Hash), LeafError> {
        match leaf.first() {
            Some(&FORMAT_VERSION) if leaf.len() >= 41 => {}
            Some(&v) if v != FORMAT_VERSION => {
                return Err(LeafError::UnknownVersion {
                    found: v,
                    expected: FORMAT_VERSION,
                });
            }
            _ => {
                return Err(LeafError::Malformed(
                    "shorter than the 41-byte header".into(),
                ));
            }
        }
        let seq = u64::from_be_bytes(leaf[1..9].try_into().expect("8 bytes"));
        let prev = Hash(leaf[9..41].try_into().expect("32 bytes"));
        Ok((Seq(seq), prev))
    }

    /// The event, if this entry records one.
    pub fn event(&self) -> Option<&Event> {
        match &self.body {
            Body::Event(e) => Some(&e.event),
            _ => None,
        }
    }
}

/// The canonical encoding of an event alone (the same bytes it has inside a leaf).
pub fn encode_event(event: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    bincode::encode_into_std_write(event, &mut out, config())
        .expect("encoding to a Vec cannot fail and events stay under the size limit");
    out
}

/// Where an event's indexed ids begin inside its canonical encoding (byte offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdOffsets {
    pub source: usize,
    pub id: usize,
    pub subject: usize,
    pub grant: Option<usize>,
    pub resource: Option<usize>,
    pub credential: Option<usize>,
}

/// `encode_event` of a view's event (a view encodes as its owned event), field by field in
/// declaration order (the order the derived `Encode` writes), noting where the indexed ids' bytes
/// begin: a string is its 8-byte length then its bytes, and an `Option` adds a 1-byte tag before
/// it. The caller checks the bytes at each offset against the field, so a change to `Event` (and
/// so to `EventView`) that this function missed cannot go unnoticed; a property test holds the
/// bytes equal to `encode_event` of the owned event.
pub(crate) fn encode_event_locating_ids(e: &crate::view::EventView<'_>) -> (Vec<u8>, IdOffsets) {
    fn put<T: Encode>(out: &mut Vec<u8>, value: &T) -> usize {
        let at = out.len();
        bincode::encode_into_std_write(value, out, config())
            .expect("encoding to a Vec cannot fail and events stay under the size limit");
        at
    }
    const STR: usize = 8;
    const SOME_STR: usize = 1 + 8;
    let mut out = Vec::with_capacity(512);
    let source = put(&mut out, &e.source) + STR;
    let id = put(&mut out, &e.id) + STR;
    put(&mut out, &e.kind);
    put(&mut out, &e.time);
    put(&mut out, &e.actor);
    let subject = put(&mut out, &e.subject) + STR;
    let grant = put(&mut out, &e.grant_id) + SOME_STR;
    put(&mut out, &e.request_id);
    let resource = put(&mut out, &e.resource) + SOME_STR;
    put(&mut out, &e.reason);
    put(&mut out, &e.ticket);
    put(&mut out, &e.policy);
    put(&mut out, &e.decision);
    put(&mut out, &e.expires_at);
    put(&mut out, &e.exception);
    let credential = put(&mut out, &e.credential) + SOME_STR;
    put(&mut out, &e.owner);
    put(&mut out, &e.attributes);
    let offsets = IdOffsets {
        source,
        id,
        subject,
        grant: e.grant_id.is_some().then_some(grant),
        resource: e.resource.is_some().then_some(resource),
        credential: e.credential.is_some().then_some(credential),
    };
    (out, offsets)
}

/// The leaf bytes of an event entry assembled from the event's canonical encoding (as
/// `ValidatedEvent::encoded` holds it), into `out` (cleared first; a writer reuses one buffer for
/// thousands of leaves): byte for byte what `Entry::encode` gives for the same entry with
/// `Body::Event`, without encoding the event again (a property test holds the two together).
/// Layout: docs/FORMAT.md.
pub fn encode_event_leaf_into(
    out: &mut Vec<u8>,
    seq: u64,
    prev_leaf_hash: &Hash,
    received_at: Timestamp,
    origin: &Origin,
    links: &BackLinks,
    event_bytes: &[u8],
) {
    out.clear();
    out.reserve(128 + event_bytes.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&prev_leaf_hash.0);
    (|| {
        bincode::encode_into_std_write(received_at, &mut *out, config())?;
        bincode::encode_into_std_write(origin, &mut *out, config())?;
        // `Body::Event` is variant 0, a u32 in this configuration.
        bincode::encode_into_std_write(0u32, &mut *out, config())?;
        bincode::encode_into_std_write(links, &mut *out, config())
    })()
    .expect("encoding to a Vec cannot fail");
    out.extend_from_slice(event_bytes);
}

/// The RFC 6962 leaf hash of an entry's bytes.
pub fn entry_leaf_hash(leaf: &[u8]) -> Hash {
    leaf_hash(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::EntryView;
    use proptest::prelude::*;

    fn system_entry(record: SystemRecord, seq: u64, prev_leaf_hash: [u8; 32]) -> Entry {
        Entry {
            version: FORMAT_VERSION,
            seq,
            prev_leaf_hash,
            received_at: Timestamp(1_767_225_600_000_000_000),
            origin: Origin::Ledger,
            body: Body::System(record),
        }
    }

    fn system_record() -> impl Strategy<Value = SystemRecord> {
        prop_oneof![
            ("\\PC{0,20}", "\\PC{0,40}").prop_map(|(origin, verifier_key)| {
                SystemRecord::Genesis {
                    origin,
                    verifier_key,
                }
            }),
            "\\PC{0,40}".prop_map(|verifier_key| SystemRecord::KeyAdded { verifier_key }),
            "\\PC{0,40}".prop_map(|verifier_key| SystemRecord::KeyRetired { verifier_key }),
            ("\\PC{0,20}", any::<i32>(), any::<i64>(), any::<i64>()).prop_map(
                |(topic, partition, first, end)| SystemRecord::OffsetsUnavailable {
                    topic,
                    partition,
                    first,
                    end,
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn system_entries_decode_to_what_was_encoded_owned_and_viewed(
            record in system_record(),
            seq in any::<u64>(),
            prev in any::<[u8; 32]>(),
        ) {
            let entry = system_entry(record, seq, prev);
            let leaf = entry.encode();
            prop_assert_eq!(&Entry::decode(&leaf).expect("decodes"), &entry);
            prop_assert_eq!(EntryView::decode(&leaf).expect("views").to_entry(), entry);
        }
    }

    /// The bytes docs/FORMAT.md gives for an `OffsetsUnavailable` entry's origin and body.
    #[test]
    fn offsets_unavailable_is_encoded_as_documented() {
        let leaf = system_entry(
            SystemRecord::OffsetsUnavailable {
                topic: "ev".into(),
                partition: 3,
                first: 100,
                end: 4338,
            },
            101,
            [0; 32],
        )
        .encode();
        let mut tail = vec![0, 0, 0, 2]; // Origin::Ledger
        tail.extend([0, 0, 0, 2]); // Body::System
        tail.extend([0, 0, 0, 3]); // SystemRecord::OffsetsUnavailable
        tail.extend(2u64.to_be_bytes());
        tail.extend(b"ev");
        tail.extend(3i32.to_be_bytes());
        tail.extend(100i64.to_be_bytes());
        tail.extend(4338i64.to_be_bytes());
        // version, seq, prev_leaf_hash and received_at come first.
        assert_eq!(leaf.len(), 1 + 8 + 32 + 8 + tail.len());
        assert!(leaf.ends_with(&tail), "{}", hex::encode(&leaf));
    }
}
