//! Zero-copy views of leaf bytes: the same layout (versions 1 and 2) as `entry::Entry`, with every string
//! borrowed from the leaf instead of allocated. Verification and replay read millions of leaves;
//! a view decodes one without touching the allocator (except for an event's attribute list).
//!
//! A view accepts exactly the bytes `Entry::decode` accepts (the types mirror the owned ones
//! field for field; a property test holds them together), `to_entry` gives the same value, and
//! a view serializes as the owned entry does (the same serde attributes; the same property test
//! compares the JSON), so an export writes JSON straight from the leaf.

use crate::entry::{BackLinks, Body, Entry, EventEntry, MAX_LEAF_BYTES, Origin, check_preamble};
use crate::entry::{KEY_ABSENT, KEY_KEPT, KEY_REDACTED};
use crate::entry::{KafkaOrigin, LeafError, MessageKey, SystemRecord, check_attribute_order};
use crate::event::{
    Actor, ActorKind, AttrValue, Credential, CredentialKind, Decision, Event, EventType,
    MembershipKind, Outcome, Policy, Subject, SubjectKind,
};
use crate::leaf_version::LeafVersion;
use crate::rejection::{KeptPayload, Rejection};
use crate::source_record::SourceRecord;
use crate::time::Timestamp;
use bincode::{BorrowDecode, Encode};
use serde::{Serialize, Serializer};

mod json;
pub use json::{push_json_str, push_u64, write_entry_json};

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_LEAF_BYTES>()
}

/// Borrowed `entry::Entry`.
#[derive(Clone, Debug, PartialEq, BorrowDecode, Serialize)]
#[bincode(decode_context = "LeafVersion")]
pub struct EntryView<'a> {
    pub version: u8,
    pub seq: u64,
    #[serde(serialize_with = "crate::hash::serialize_hex")]
    pub prev_leaf_hash: [u8; 32],
    pub received_at: Timestamp,
    pub origin: OriginView<'a>,
    pub body: BodyView<'a>,
}

/// Borrowed `entry::Origin`.
#[derive(Clone, Debug, PartialEq, BorrowDecode, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum OriginView<'a> {
    Kafka(KafkaOriginView<'a>),
    Local { label: &'a str, line: u64 },
    Ledger,
}

/// Borrowed `entry::KafkaOrigin`.
#[derive(Clone, Debug, PartialEq, BorrowDecode, Serialize)]
pub struct KafkaOriginView<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: MessageKeyView<'a>,
    pub key_truncated: bool,
}

/// Borrowed `entry::MessageKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKeyView<'a> {
    Absent,
    Kept(&'a [u8]),
    Redacted { total_len: u64, sha256: [u8; 32] },
}

impl<'de: 'a, 'a, Context> BorrowDecode<'de, Context> for MessageKeyView<'a> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        use bincode::Decode as _;
        match u8::decode(d)? {
            KEY_ABSENT => Ok(MessageKeyView::Absent),
            KEY_KEPT => Ok(MessageKeyView::Kept(<&'de [u8]>::borrow_decode(d)?)),
            KEY_REDACTED => Ok(MessageKeyView::Redacted {
                total_len: u64::decode(d)?,
                sha256: <[u8; 32]>::decode(d)?,
            }),
            other => Err(crate::entry::unknown_key_tag(other)),
        }
    }
}

impl Serialize for MessageKeyView<'_> {
    /// As `MessageKey` serializes: none, the kept bytes as (lossy) text, or the redaction.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        match self {
            MessageKeyView::Absent => s.serialize_none(),
            MessageKeyView::Kept(k) => s.serialize_some(&String::from_utf8_lossy(k)),
            MessageKeyView::Redacted { total_len, sha256 } => {
                let mut st = s.serialize_struct("RedactedKey", 3)?;
                st.serialize_field("redacted", &true)?;
                st.serialize_field("total_len", total_len)?;
                st.serialize_field("sha256", crate::hash::Hash(*sha256).hex().as_str())?;
                st.end()
            }
        }
    }
}

impl MessageKeyView<'_> {
    /// The owned key with the same value.
    pub fn to_owned_key(&self) -> MessageKey {
        match *self {
            MessageKeyView::Absent => MessageKey::Absent,
            MessageKeyView::Kept(k) => MessageKey::Kept(k.to_vec()),
            MessageKeyView::Redacted { total_len, sha256 } => {
                MessageKey::Redacted { total_len, sha256 }
            }
        }
    }
}

/// Borrowed `entry::Body`. Quarantined and system entries are rare and decoded owned.
#[derive(Clone, Debug, PartialEq, BorrowDecode, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "the event view is the common case on every scan; boxing it allocates per leaf"
)]
#[bincode(decode_context = "LeafVersion")]
pub enum BodyView<'a> {
    Event(EventEntryView<'a>),
    Quarantined(Box<Rejection>),
    System(SystemRecord),
}

/// Borrowed `entry::EventEntry` (decoded by `leaf_version`). The source record is rare enough
/// on a scan (mapped formats only) to be decoded owned.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventEntryView<'a> {
    pub links: BackLinks,
    pub event: EventView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<SourceRecord>,
}

/// Borrowed `event::Event`, field for field (decoded by `leaf_version`).
#[derive(Clone, Debug, PartialEq, Encode, Serialize)]
pub struct EventView<'a> {
    pub source: &'a str,
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorView<'a>>,
    pub subject: SubjectView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exception: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'a str>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_attributes"
    )]
    pub attributes: Vec<(&'a str, AttrValueView<'a>)>,
    #[serde(skip_serializing_if = "Outcome::is_success")]
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipKind>,
}

/// As `event::Event` serializes its attributes: one JSON object, in key order.
fn serialize_attributes<S: Serializer>(
    attrs: &[(&str, AttrValueView<'_>)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(attrs.len()))?;
    for (k, v) in attrs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

#[derive(Clone, Debug, PartialEq, BorrowDecode, Encode, Serialize)]
pub struct ActorView<'a> {
    pub id: &'a str,
    pub kind: ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, BorrowDecode, Encode, Serialize)]
pub struct SubjectView<'a> {
    pub id: &'a str,
    pub kind: SubjectKind,
}

#[derive(Clone, Debug, PartialEq, BorrowDecode, Encode, Serialize)]
pub struct PolicyView<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<&'a str>,
}

/// Borrowed `event::Credential` (decoded by `leaf_version`).
#[derive(Clone, Debug, PartialEq, Encode, Serialize)]
pub struct CredentialView<'a> {
    pub id: &'a str,
    pub kind: CredentialKind,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::event::serialize_fingerprint"
    )]
    pub fingerprint: Option<[u8; 32]>,
}

/// An attribute value, borrowed; decoded by the same rules as `AttrValue` (a number is finite),
/// and encoded as it (the same derive over the same variants).
#[derive(Clone, Debug, PartialEq, Encode, Serialize)]
#[serde(untagged)]
pub enum AttrValueView<'a> {
    Text(&'a str),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl<'de, Context> BorrowDecode<'de, Context> for AttrValueView<'de> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        use bincode::Decode as _;
        match u32::decode(d)? {
            0 => Ok(AttrValueView::Text(<&'de str>::borrow_decode(d)?)),
            1 => Ok(AttrValueView::Integer(i64::decode(d)?)),
            2 => Ok(AttrValueView::Number(crate::event::decode_finite(d)?)),
            3 => Ok(AttrValueView::Bool(bool::decode(d)?)),
            found => Err(bincode::error::DecodeError::UnexpectedVariant {
                type_name: "AttrValueView",
                allowed: &crate::event::ATTR_VARIANTS,
                found,
            }),
        }
    }
}

/// Decodes a borrowed view from the whole of `bytes`: anything left over is an error.
fn decode_whole<'a, T: BorrowDecode<'a, LeafVersion>>(
    bytes: &'a [u8],
    version: LeafVersion,
) -> Result<T, LeafError> {
    let (view, used): (T, usize) =
        bincode::borrow_decode_from_slice_with_context(bytes, config(), version)
            .map_err(|e| LeafError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(LeafError::TrailingBytes(bytes.len() - used));
    }
    Ok(view)
}

impl<'a> EntryView<'a> {
    /// Decodes leaf bytes by the same rules as `Entry::decode`: right version, size limit,
    /// nothing left over, event attributes sorted by key with no key twice.
    pub fn decode(leaf: &'a [u8]) -> Result<EntryView<'a>, LeafError> {
        let version = check_preamble(leaf)?;
        let view: EntryView<'a> = decode_whole(leaf, version)?;
        match &view.body {
            BodyView::Event(e) => e.event.check_attribute_order()?,
            BodyView::Quarantined(r) => {
                if let KeptPayload::Event(e) = &r.payload {
                    check_attribute_order(e.attributes.iter().map(|(k, _)| k.as_str()))?;
                }
            }
            BodyView::System(_) => {}
        }
        Ok(view)
    }

    /// The event, if this entry records one.
    pub fn event(&self) -> Option<&EventView<'a>> {
        match &self.body {
            BodyView::Event(e) => Some(&e.event),
            _ => None,
        }
    }

    /// The owned entry with the same value.
    pub fn to_entry(&self) -> Entry {
        Entry {
            version: self.version,
            seq: self.seq,
            prev_leaf_hash: self.prev_leaf_hash,
            received_at: self.received_at,
            origin: match &self.origin {
                OriginView::Kafka(k) => Origin::Kafka(KafkaOrigin {
                    topic: k.topic.to_owned(),
                    partition: k.partition,
                    offset: k.offset,
                    timestamp_ms: k.timestamp_ms,
                    key: k.key.to_owned_key(),
                    key_truncated: k.key_truncated,
                }),
                OriginView::Local { label, line } => Origin::Local {
                    label: (*label).to_owned(),
                    line: *line,
                },
                OriginView::Ledger => Origin::Ledger,
            },
            body: match &self.body {
                BodyView::Event(e) => Body::Event(Box::new(EventEntry {
                    links: e.links.clone(),
                    event: e.event.to_event(),
                    record: e.record.clone(),
                })),
                BodyView::Quarantined(r) => Body::Quarantined(r.clone()),
                BodyView::System(s) => Body::System(s.clone()),
            },
        }
    }
}

impl<'a> EventView<'a> {
    /// Decodes an event's canonical encoding (as `ValidatedEvent::encoded` holds it): the whole
    /// of `bytes`, nothing left over, attributes sorted by key with no key twice.
    pub fn decode(bytes: &'a [u8]) -> Result<EventView<'a>, LeafError> {
        let view: EventView<'a> = decode_whole(bytes, LeafVersion::CURRENT)?;
        view.check_attribute_order()?;
        Ok(view)
    }

    /// Whether the attributes are sorted by key with no key twice, as every stored event's are.
    fn check_attribute_order(&self) -> Result<(), LeafError> {
        check_attribute_order(self.attributes.iter().map(|(k, _)| *k))
    }

    /// A view of an owned event (for code that serves owned and stored events alike).
    pub fn of(e: &'a Event) -> EventView<'a> {
        EventView {
            source: &e.source,
            id: &e.id,
            kind: e.kind,
            time: e.time,
            actor: e.actor.as_ref().map(|a| ActorView {
                id: &a.id,
                kind: a.kind,
                mfa: a.mfa,
            }),
            subject: SubjectView {
                id: &e.subject.id,
                kind: e.subject.kind,
            },
            grant_id: e.grant_id.as_deref(),
            request_id: e.request_id.as_deref(),
            resource: e.resource.as_deref(),
            reason: e.reason.as_deref(),
            ticket: e.ticket.as_deref(),
            policy: e.policy.as_ref().map(|p| PolicyView {
                id: &p.id,
                version: p.version.as_deref(),
                hash: p.hash.as_deref(),
            }),
            decision: e.decision,
            expires_at: e.expires_at,
            exception: e.exception,
            credential: e.credential.as_ref().map(|c| CredentialView {
                id: &c.id,
                kind: c.kind,
                fingerprint: c.fingerprint,
            }),
            owner: e.owner.as_deref(),
            attributes: e
                .attributes
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str(),
                        match v {
                            AttrValue::Text(t) => AttrValueView::Text(t),
                            AttrValue::Integer(i) => AttrValueView::Integer(*i),
                            AttrValue::Number(n) => AttrValueView::Number(*n),
                            AttrValue::Bool(b) => AttrValueView::Bool(*b),
                        },
                    )
                })
                .collect(),
            outcome: e.outcome,
            membership: e.membership,
        }
    }

    /// The owned event with the same value.
    pub fn to_event(&self) -> Event {
        let own = |s: &Option<&str>| s.map(str::to_owned);
        Event {
            source: self.source.to_owned(),
            id: self.id.to_owned(),
            kind: self.kind,
            time: self.time,
            actor: self.actor.as_ref().map(|a| Actor {
                id: a.id.to_owned(),
                kind: a.kind,
                mfa: a.mfa,
            }),
            subject: Subject {
                id: self.subject.id.to_owned(),
                kind: self.subject.kind,
            },
            grant_id: own(&self.grant_id),
            request_id: own(&self.request_id),
            resource: own(&self.resource),
            reason: own(&self.reason),
            ticket: own(&self.ticket),
            policy: self.policy.as_ref().map(|p| Policy {
                id: p.id.to_owned(),
                version: own(&p.version),
                hash: own(&p.hash),
            }),
            decision: self.decision,
            expires_at: self.expires_at,
            exception: self.exception,
            credential: self.credential.as_ref().map(|c| Credential {
                id: c.id.to_owned(),
                kind: c.kind,
                fingerprint: c.fingerprint,
            }),
            owner: own(&self.owner),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        match v {
                            AttrValueView::Text(t) => AttrValue::Text((*t).to_owned()),
                            AttrValueView::Integer(i) => AttrValue::Integer(*i),
                            AttrValueView::Number(n) => AttrValue::Number(*n),
                            AttrValueView::Bool(b) => AttrValue::Bool(*b),
                        },
                    )
                })
                .collect(),
            outcome: self.outcome,
            membership: self.membership,
        }
    }

    /// The subject, owned.
    pub fn subject(&self) -> Subject {
        Subject {
            id: self.subject.id.to_owned(),
            kind: self.subject.kind,
        }
    }

    /// The policy, owned.
    pub fn policy(&self) -> Option<Policy> {
        self.policy.as_ref().map(|p| Policy {
            id: p.id.to_owned(),
            version: p.version.map(str::to_owned),
            hash: p.hash.map(str::to_owned),
        })
    }

    /// An attribute by key (attributes are sorted by key).
    pub fn attribute(&self, key: &str) -> Option<&AttrValueView<'_>> {
        self.attributes
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| &self.attributes[i].1)
    }
}

impl std::fmt::Display for AttrValueView<'_> {
    /// As `AttrValue` displays the same value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValueView::Text(t) => f.write_str(t),
            AttrValueView::Integer(i) => i.fmt(f),
            AttrValueView::Number(n) => n.fmt(f),
            AttrValueView::Bool(b) => b.fmt(f),
        }
    }
}
