//! The ledger entry: the exact bytes that are stored, hashed (RFC 6962 leaf) and chained. Layout
//! version 1 is documented byte by byte in docs/FORMAT.md.

use crate::event::Event;
use crate::hash::{Hash, leaf_hash};
use crate::leaf_version::LeafVersion;
use crate::rejection::Rejection;
use crate::source_record::SourceRecord;
use crate::time::Timestamp;
use crate::tree_size::Seq;
use bincode::{Decode, Encode};
use serde::Serialize;

/// The leaf format version this code writes. It reads this one and every earlier one
/// (`leaf_version`).
pub const FORMAT_VERSION: u8 = 2;
/// Largest leaf the decoder accepts (a 64 KiB payload plus its framing fits with room to spare).
pub const MAX_LEAF_BYTES: usize = 1024 * 1024;
/// The longest leaf a c2sp.org/tlog-tiles entry bundle can hold (its entries are framed by a
/// 16-bit length). Kept originals are left out of a leaf that would be longer (docs/FORMAT.md).
pub const MAX_TILED_LEAF_BYTES: usize = u16::MAX as usize;
/// Room in a tiled leaf for everything but the event and its source record: the entry's header
/// (index, chain link, time, back-links) and its origin (a Kafka topic of at most 249 bytes and
/// a kept key's hash, or a local file's label).
pub const LEAF_ALLOWANCE_BYTES: usize = 5 * 1024;
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
    /// The message key: its first `MAX_KEPT_KEY_BYTES`, or only its hash when it carried
    /// secret material.
    pub key: MessageKey,
    /// Whether the key was longer than `MAX_KEPT_KEY_BYTES` and was cut (never for a redacted
    /// key, whose length and hash are of the whole key).
    pub key_truncated: bool,
}

/// A Kafka message key as provenance keeps it. Encoded as an `Option<Vec<u8>>` with a third
/// tag: `00` no key, `01` the kept bytes, `02` redacted (docs/FORMAT.md), so leaves written
/// before keys could be redacted read the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKey {
    /// The message had no key.
    Absent,
    /// The key's bytes (its first `MAX_KEPT_KEY_BYTES`).
    Kept(Vec<u8>),
    /// The key may not be kept verbatim by the rule for kept bytes, as a payload (secret material,
    /// or bytes that could not be proven free of it; `secret::secret_in_key`): only the length
    /// and SHA-256 of all of it are kept.
    Redacted { total_len: u64, sha256: [u8; 32] },
}

pub(crate) const KEY_ABSENT: u8 = 0;
pub(crate) const KEY_KEPT: u8 = 1;
pub(crate) const KEY_REDACTED: u8 = 2;
const KEY_TAGS: bincode::error::AllowedEnumVariants =
    bincode::error::AllowedEnumVariants::Range { min: 0, max: 2 };

/// The error for a key tag other than the three above.
pub(crate) fn unknown_key_tag(found: u8) -> bincode::error::DecodeError {
    bincode::error::DecodeError::UnexpectedVariant {
        type_name: "MessageKey",
        allowed: &KEY_TAGS,
        found: u32::from(found),
    }
}

impl MessageKey {
    /// What provenance keeps of a message key: nothing secret.
    pub fn of(key: Option<&[u8]>) -> MessageKey {
        match key {
            None => MessageKey::Absent,
            Some(k) if crate::secret::secret_in_key(k).is_some() => MessageKey::Redacted {
                total_len: k.len() as u64,
                sha256: crate::hash::sha256(k).0,
            },
            Some(k) => MessageKey::Kept(k[..k.len().min(MAX_KEPT_KEY_BYTES)].to_vec()),
        }
    }
}

impl Encode for MessageKey {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        e: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        match self {
            MessageKey::Absent => KEY_ABSENT.encode(e),
            MessageKey::Kept(bytes) => {
                KEY_KEPT.encode(e)?;
                bytes.encode(e)
            }
            MessageKey::Redacted { total_len, sha256 } => {
                KEY_REDACTED.encode(e)?;
                total_len.encode(e)?;
                sha256.encode(e)
            }
        }
    }
}

impl<Context> Decode<Context> for MessageKey {
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        match u8::decode(d)? {
            KEY_ABSENT => Ok(MessageKey::Absent),
            KEY_KEPT => Ok(MessageKey::Kept(Vec::decode(d)?)),
            KEY_REDACTED => Ok(MessageKey::Redacted {
                total_len: u64::decode(d)?,
                sha256: <[u8; 32]>::decode(d)?,
            }),
            other => Err(unknown_key_tag(other)),
        }
    }
}
bincode::impl_borrow_decode!(MessageKey);

/// JSON: `null`, the kept bytes as text (invalid UTF-8 replaced), or
/// `{"redacted":true,"total_len":…,"sha256":"…"}`.
impl Serialize for MessageKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        match self {
            MessageKey::Absent => s.serialize_none(),
            MessageKey::Kept(k) => s.serialize_some(&String::from_utf8_lossy(k)),
            MessageKey::Redacted { total_len, sha256 } => {
                let mut st = s.serialize_struct("RedactedKey", 3)?;
                st.serialize_field("redacted", &true)?;
                st.serialize_field("total_len", total_len)?;
                st.serialize_field("sha256", Hash(*sha256).hex().as_str())?;
                st.end()
            }
        }
    }
}

impl KafkaOrigin {
    /// Provenance of a message; a key that carries secret material is kept only as its hash.
    pub fn new(
        topic: &str,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
    ) -> KafkaOrigin {
        let kept = MessageKey::of(key);
        let key_truncated = matches!(kept, MessageKey::Kept(_))
            && key.is_some_and(|k| k.len() > MAX_KEPT_KEY_BYTES);
        KafkaOrigin {
            topic: topic.to_owned(),
            partition,
            offset,
            timestamp_ms,
            key: kept,
            key_truncated,
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

/// An event and its back-links, and (from leaf version 2) the record it was mapped from, when it
/// came in a source format (decoded by `leaf_version`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Serialize)]
pub struct EventEntry {
    pub links: BackLinks,
    pub event: Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<SourceRecord>,
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
    /// Records of a batch that were well-formed but outside idledger's scope (docs/FORMATS.md):
    /// `offsets` are the messages of this partition in which every record was (ranges
    /// `first..end`, end exclusive; no entry holds them), `counts` how many records of each
    /// `format:kind` the batch held, those inside messages that also held events included.
    OutOfScope {
        topic: String,
        partition: i32,
        offsets: Vec<(i64, i64)>,
        counts: Vec<(String, u64)>,
    },
}

/// What an entry records.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[bincode(decode_context = "LeafVersion")]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Event(Box<EventEntry>),
    Quarantined(Box<Rejection>),
    System(SystemRecord),
}

/// One ledger entry. Field order is the encoding order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
#[bincode(decode_context = "LeafVersion")]
pub struct Entry {
    pub version: u8,
    pub seq: u64,
    #[serde(serialize_with = "crate::hash::serialize_hex")]
    pub prev_leaf_hash: [u8; 32],
    pub received_at: Timestamp,
    pub origin: Origin,
    pub body: Body,
}

/// Why bytes are not a version-1 leaf.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeafError {
    #[error("leaf is {found} bytes; the limit is {limit}")]
    TooLarge { found: usize, limit: usize },
    #[error("leaf format version {found}; this build reads versions 1 to {expected}")]
    UnknownVersion { found: u8, expected: u8 },
    #[error("leaf does not decode: {0}")]
    Malformed(String),
    #[error("leaf has {0} bytes after its end")]
    TrailingBytes(usize),
    #[error(
        "event attribute {index} is not after the one before it: attributes must be sorted by key, each key once"
    )]
    UnsortedAttributes { index: usize },
}

/// Checks that an event's attribute keys strictly increase (sorted by bytes, no key twice), as
/// validation writes them and docs/FORMAT.md promises: `Event::attribute` and the report code
/// search them by bisection, and a duplicate key would let two values stand behind one name.
pub(crate) fn check_attribute_order<'k>(
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<(), LeafError> {
    let mut before: Option<&str> = None;
    for (index, key) in keys.into_iter().enumerate() {
        if before.is_some_and(|b| b >= key) {
            return Err(LeafError::UnsortedAttributes { index });
        }
        before = Some(key);
    }
    Ok(())
}

/// `check_attribute_order` for every event an entry holds: its event, or the event a
/// quarantined entry kept.
fn check_entry_attributes(entry: &Entry) -> Result<(), LeafError> {
    let event = match &entry.body {
        Body::Event(e) => &e.event,
        Body::Quarantined(r) => match &r.payload {
            crate::rejection::KeptPayload::Event(e) => e,
            _ => return Ok(()),
        },
        Body::System(_) => return Ok(()),
    };
    check_attribute_order(event.attributes.iter().map(|(k, _)| k.as_str()))
}

/// What every leaf decoder checks before decoding: the size limit and the format version, which
/// it returns.
pub(crate) fn check_preamble(leaf: &[u8]) -> Result<LeafVersion, LeafError> {
    if leaf.len() > MAX_LEAF_BYTES {
        return Err(LeafError::TooLarge {
            found: leaf.len(),
            limit: MAX_LEAF_BYTES,
        });
    }
    match leaf.first() {
        Some(&v) if (1..=FORMAT_VERSION).contains(&v) => Ok(LeafVersion(v)),
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

    /// Decodes leaf bytes strictly: right version, nothing left over, every value well-formed,
    /// event attributes sorted by key with no key twice.
    pub fn decode(leaf: &[u8]) -> Result<Entry, LeafError> {
        let version = check_preamble(leaf)?;
        let (entry, used): (Entry, usize) =
            bincode::decode_from_slice_with_context(leaf, config(), version)
                .map_err(|e| LeafError::Malformed(e.to_string()))?;
        if used != leaf.len() {
            return Err(LeafError::TrailingBytes(leaf.len() - used));
        }
        check_entry_attributes(&entry)?;
        Ok(entry)
    }

    /// Reads only the fixed-position header: version, seq and previous leaf hash.
    pub fn decode_header(leaf: &[u8]) -> Result<(Seq, Hash), LeafError> {
        match leaf.first() {
            Some(&v) if (1..=FORMAT_VERSION).contains(&v) && leaf.len() >= 41 => {}
            Some(&v) if !(1..=FORMAT_VERSION).contains(&v) => {
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
    put(&mut out, &e.outcome);
    put(&mut out, &e.membership);
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
    event: &crate::decode::ValidatedEvent,
) {
    let (event_bytes, record_bytes) = (event.encoded(), event.encoded_record());
    out.clear();
    out.reserve(128 + event_bytes.len() + record_bytes.len());
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
    if record_bytes.is_empty() {
        // `None`: the event came in native JSON.
        out.push(0);
    } else {
        out.extend_from_slice(record_bytes);
    }
}

/// The canonical encoding of an event entry's source record (`Some`), as it follows the event in
/// the leaf.
pub fn encode_source_record(record: &SourceRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    bincode::encode_into_std_write(Some(record), &mut out, config())
        .expect("encoding to a Vec cannot fail and records stay under the size limit");
    out
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

    /// What provenance keeps of a message key, by key: (key, kept, cut).
    #[test]
    fn message_keys_are_kept_cut_or_redacted_as_stated() {
        let long = vec![b'k'; MAX_KEPT_KEY_BYTES + 476];
        let mut secret_late = vec![b'k'; 1200];
        secret_late.extend(br#""client_secret": "s3""#);
        let pem = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----";
        let redacted = |k: &[u8]| MessageKey::Redacted {
            total_len: k.len() as u64,
            sha256: crate::hash::sha256(k).0,
        };
        let cases: Vec<(Option<&[u8]>, MessageKey, bool)> = vec![
            (None, MessageKey::Absent, false),
            (Some(b""), MessageKey::Kept(Vec::new()), false),
            (Some(b"alice"), MessageKey::Kept(b"alice".to_vec()), false),
            (
                Some(&long),
                MessageKey::Kept(long[..MAX_KEPT_KEY_BYTES].to_vec()),
                true,
            ),
            // Secret material by the payload rules: a secret-named member, a PEM key block.
            (
                Some(br#"{"password":"x"}"#),
                redacted(br#"{"password":"x"}"#),
                false,
            ),
            (Some(pem), redacted(pem), false),
            // Searched over the whole key, not only the part that would be kept.
            (Some(&secret_late), redacted(&secret_late), false),
            // A name is secret only as a member name (followed by `:`).
            (
                Some(b"password-reset-42"),
                MessageKey::Kept(b"password-reset-42".to_vec()),
                false,
            ),
        ];
        for (key, kept, cut) in cases {
            let o = KafkaOrigin::new("t", 0, 7, None, key);
            assert_eq!((&o.key, o.key_truncated), (&kept, cut), "key {key:?}");
        }
    }

    /// A redacted key's bytes as docs/FORMAT.md gives them, and its JSON.
    #[test]
    fn a_redacted_key_is_encoded_as_documented() {
        let key = MessageKey::Redacted {
            total_len: 9,
            sha256: [0xAB; 32],
        };
        let mut want = vec![2];
        want.extend(9u64.to_be_bytes());
        want.extend([0xAB; 32]);
        assert_eq!(
            bincode::encode_to_vec(&key, config()).expect("encodes"),
            want
        );
        assert_eq!(
            serde_json::to_value(&key).expect("json"),
            serde_json::json!({"redacted": true, "total_len": 9, "sha256": "ab".repeat(32)})
        );
    }

    fn message_key() -> impl Strategy<Value = MessageKey> {
        prop_oneof![
            Just(MessageKey::Absent),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(MessageKey::Kept),
            (any::<u64>(), any::<[u8; 32]>())
                .prop_map(|(total_len, sha256)| MessageKey::Redacted { total_len, sha256 }),
        ]
    }

    proptest! {
        /// Absent and kept keys are encoded exactly as the `Option<Vec<u8>>` they replaced, so
        /// earlier leaves read the same; every key decodes owned and viewed to what was encoded,
        /// and a tag past 2 is refused by both decoders.
        #[test]
        fn message_keys_round_trip_and_keep_the_option_encoding(
            key in message_key(),
            tag in 3u8..,
            rest in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let bytes = bincode::encode_to_vec(&key, config()).expect("encodes");
            let as_option = match &key {
                MessageKey::Absent => Some(None),
                MessageKey::Kept(k) => Some(Some(k.clone())),
                MessageKey::Redacted { .. } => None,
            };
            if let Some(option) = as_option {
                prop_assert_eq!(&bytes, &bincode::encode_to_vec(&option, config()).expect("encodes"));
            }
            let (owned, used): (MessageKey, usize) =
                bincode::decode_from_slice(&bytes, config()).expect("decodes");
            prop_assert_eq!((&owned, used), (&key, bytes.len()));
            let (view, used): (crate::view::MessageKeyView<'_>, usize) =
                bincode::borrow_decode_from_slice(&bytes, config()).expect("views");
            prop_assert_eq!((view.to_owned_key(), used), (key, bytes.len()));
            let mut bad = vec![tag];
            bad.extend(rest);
            prop_assert!(bincode::decode_from_slice::<MessageKey, _>(&bad, config()).is_err());
            prop_assert!(
                bincode::borrow_decode_from_slice::<crate::view::MessageKeyView<'_>, _>(&bad, config()).is_err()
            );
        }
    }
}
