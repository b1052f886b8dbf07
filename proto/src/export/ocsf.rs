//! OCSF export records: each entry as one OCSF 1.9.0-dev event of the IAM class it corresponds
//! to, its integrity in the schema's `record_integrity` profile (`attestation_list`), and what
//! OCSF has no attribute for under `unmapped.idledger` (docs/EXPORT.md, "OCSF records").
//!
//! The record is written straight into the caller's buffer from small structs that borrow the
//! entry, its integrity members by hand (`integrity`): no JSON value is built, no schema is
//! looked up, so a writer keeps up with a scan.

pub(crate) mod classes;
mod integrity;

use super::describe::{self, Severity, SystemDetail, SystemEntityName};
use super::{EntryRecord, LineProof, OCSF_VERSION, PRODUCER_VERSION};
use crate::entry::{Body, Entry, Origin, SystemRecord};
use crate::event::{
    ActorKind, AttrValue, Credential, Decision, Event, Family, MembershipKind, Policy, SubjectKind,
};
use crate::hash::Hash;
use crate::rejection::{KeptPayload, RejectReason, Rejection};
use crate::time::Timestamp;
use classes::{Activity, Shape};
use serde::{Serialize, Serializer};
use std::fmt;

/// The profile whose attributes carry the integrity (`attestation_list`).
pub const RECORD_INTEGRITY_PROFILE: &str = "record_integrity";

/// `attestation.fingerprint.serialization`: the bytes whose SHA-256 is the fingerprint.
pub const LEAF_SERIALIZATION: &str = "RFC 6962 leaf: 0x00 || idledger leaf bytes (docs/FORMAT.md)";

/// Writes the OCSF record of an entry (one JSON object, no newline) to `buf`.
pub fn write_ocsf_entry(buf: &mut Vec<u8>, record: &EntryRecord<'_>, entry: &Entry) {
    write_ocsf_entry_as(buf, record, entry, PRODUCER_VERSION);
}

/// `write_ocsf_entry` as the idledger version `producer` writes it (`metadata.product.version`):
/// the verifier re-renders a record with the version the record names.
pub(crate) fn write_ocsf_entry_as(
    buf: &mut Vec<u8>,
    record: &EntryRecord<'_>,
    entry: &Entry,
    producer: &str,
) {
    let ocsf = Record::new(record, entry, producer);
    serde_json::to_writer(&mut *buf, &ocsf)
        .expect("writing JSON to a Vec cannot fail: every map key is a string");
    // The integrity members close the record, written by hand: they are most of its bytes,
    // and nearly all constant text and base64, which JSON carries as it is.
    let closing = buf.pop();
    debug_assert_eq!(closing, Some(b'}'));
    integrity::write_attestation_list(buf, record, entry.prev_leaf_hash());
    integrity::write_unmapped(buf, record, &ocsf.idledger);
    buf.push(b'}');
}

/// One OCSF event. Class attributes a record does not fill are left out.
#[derive(Serialize)]
struct Record<'a> {
    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    activity_id: u32,
    activity_name: &'static str,
    type_uid: u32,
    type_name: Text<TypeName>,
    severity_id: u8,
    severity: &'static str,
    status_id: u8,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_detail: Option<Text<Detail<'a>>>,
    time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<Actor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iam_roles: Option<[Named<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privileges: Option<[&'a str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_factors: Option<[AuthFactor; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<Entity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_data: Option<Lossy<'a>>,
    /// `unmapped.idledger` but its index and leaf (`integrity::write_unmapped`).
    #[serde(skip)]
    idledger: Idledger<'a>,
}

impl<'a> Record<'a> {
    fn new(record: &EntryRecord<'a>, entry: &'a Entry, producer: &'a str) -> Record<'a> {
        let (severity_id, severity) = Severity::of(entry).ocsf();
        let (status_id, status) = if describe::failed(entry) {
            (2, "Failure")
        } else {
            (1, "Success")
        };
        let received = describe::millis(entry.received_at);
        let uid = EventUid {
            origin: record.origin,
            index: record.index,
        };
        let mut ocsf = Record {
            class_uid: 0,
            class_name: "",
            category_uid: classes::IAM_CATEGORY.0,
            category_name: classes::IAM_CATEGORY.1,
            activity_id: 0,
            activity_name: "",
            type_uid: 0,
            type_name: Text(TypeName(classes::QUARANTINED_INPUT)),
            severity_id,
            severity,
            status_id,
            status,
            status_code: None,
            status_detail: None,
            time: received,
            message: None,
            metadata: Metadata {
                version: OCSF_VERSION,
                profiles: [RECORD_INTEGRITY_PROFILE],
                product: Product {
                    name: "idledger",
                    vendor_name: "idledger",
                    version: producer,
                },
                uid: Text(uid),
                sequence: record.index,
                logged_time: received,
                event_code: describe::code(entry),
                original_event_uid: None,
                log_provider: None,
                correlation_uid: None,
            },
            actor: None,
            user: None,
            group: None,
            iam_roles: None,
            privileges: None,
            auth_factors: None,
            service: None,
            is_mfa: None,
            entity: None,
            raw_data: None,
            idledger: Idledger {
                proof: record.proof,
                provenance: &entry.origin,
                event: None,
                rejection: None,
                payload: None,
            },
        };
        match &entry.body {
            Body::Event(e) => ocsf.event(&e.event),
            Body::Quarantined(rejection) => ocsf.quarantined(rejection),
            Body::System(system) => ocsf.system(system),
        }
        ocsf
    }

    fn set_activity(&mut self, activity: Activity) {
        self.class_uid = activity.class.uid;
        self.class_name = activity.class.name;
        self.activity_id = activity.id;
        self.activity_name = activity.name;
        self.type_uid = activity.type_uid();
        self.type_name = Text(TypeName(activity));
    }

    /// An event: its class and activity, subject, actor and the class's own attributes.
    fn event(&mut self, event: &'a Event) {
        let (activity, shape) = classes::event_activity(event);
        self.set_activity(activity);
        self.time = describe::millis(event.time);
        self.message = event.reason.as_deref();
        self.metadata.original_event_uid = Some(&event.id);
        self.metadata.log_provider = Some(&event.source);
        self.metadata.correlation_uid = event.grant_id.as_deref();
        self.actor = event.actor.as_ref().map(|a| Actor {
            user: User::of(&a.id, actor_type(a.kind)),
        });
        let mut user = User::of(&event.subject.id, subject_type(event.subject.kind));
        if event.kind.family() == Family::Credential {
            user.credential_uid = event.credential.as_ref().map(|c| c.id.as_str());
        }
        // What a grant is of: the resource, which validation requires of every access event.
        let target = || {
            event
                .resource
                .as_deref()
                .or(event.grant_id.as_deref())
                .unwrap_or_default()
        };
        match shape {
            Shape::User => {}
            Shape::Authentication => {
                self.service = Some(Named {
                    name: event.resource.as_deref().unwrap_or(&event.source),
                });
                self.is_mfa = event.actor.as_ref().and_then(|a| a.mfa);
            }
            Shape::Group => self.group = Some(Named { name: target() }),
            Shape::Roles => self.iam_roles = Some([Named { name: target() }]),
            Shape::Privileges => self.privileges = Some([target()]),
            Shape::MfaFactors => {
                self.auth_factors = Some([AuthFactor {
                    factor_type_id: 0,
                    factor_type: "Unknown",
                }]);
            }
            Shape::ProgrammaticCredential => {
                user.programmatic_credentials = event.credential.as_ref().map(|c| {
                    [ProgrammaticCredential {
                        uid: &c.id,
                        kind: c.kind.as_str(),
                    }]
                });
            }
        }
        self.user = Some(user);
        self.idledger.event = Some(EventExtras::of(event));
    }

    /// A quarantined input: the class of the event it kept, else Entity Management with the
    /// input as the entity; an Other activity either way, status Failure with the reason.
    fn quarantined(&mut self, rejection: &'a Rejection) {
        let payload = match &rejection.payload {
            KeptPayload::Event(event) => {
                self.event(event);
                let activity = classes::event_activity(event).0.other(classes::QUARANTINED);
                self.set_activity(activity);
                None
            }
            KeptPayload::Raw {
                bytes,
                total_len,
                sha256,
            } => {
                self.raw_data = Some(Lossy(bytes));
                Some(Payload::new("raw", Some(*total_len), Some(sha256)))
            }
            KeptPayload::Redacted { total_len, sha256 } => {
                Some(Payload::new("redacted", Some(*total_len), Some(sha256)))
            }
            KeptPayload::Nothing => Some(Payload::new("nothing", None, None)),
        };
        if let Some(payload) = payload {
            self.set_activity(classes::QUARANTINED_INPUT);
            self.entity = Some(Entity {
                name: Text(SystemEntityName::Text("quarantined input")),
                kind: "Input",
                uid: payload.hash.map(|h| Text(Sha256Id(*h))),
                data: None,
            });
            self.idledger.payload = Some(payload);
        }
        self.status_id = 2;
        self.status = "Failure";
        self.status_code = Some(rejection.reason.class());
        self.status_detail = Some(Text(Detail::Rejection(&rejection.reason)));
        self.idledger.rejection = Some(&rejection.reason);
    }

    /// A system record: Entity Management of the log, a key, or a Kafka partition.
    fn system(&mut self, system: &'a SystemRecord) {
        self.set_activity(classes::system_activity(system));
        let (kind, name) = describe::system_entity(system);
        self.entity = Some(Entity {
            name: Text(name),
            kind,
            uid: None,
            data: Some(system),
        });
        self.status_detail = Some(Text(Detail::System(SystemDetail(system))));
    }
}

fn subject_type(kind: SubjectKind) -> (u8, &'static str) {
    match kind {
        SubjectKind::Human => (1, "User"),
        SubjectKind::ServiceAccount => (4, "Service"),
        // Other (99): the type is the source's own word, idledger's subject kind.
        other => (99, other.as_str()),
    }
}

fn actor_type(kind: ActorKind) -> (u8, &'static str) {
    match kind {
        ActorKind::Human => (1, "User"),
        ActorKind::Service => (4, "Service"),
        ActorKind::System => (3, "System"),
    }
}

/// Any `Display` value as a JSON string, formatted straight into the output.
struct Text<T>(T);

impl<T: fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Bytes as text, invalid UTF-8 replaced (as the native entry JSON shows kept inputs).
struct Lossy<'a>(&'a [u8]);

impl Serialize for Lossy<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(self.0))
    }
}

/// `type_name`: `<class caption>: <activity caption>`.
struct TypeName(Activity);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.class.name, self.0.caption())
    }
}

/// `metadata.uid` of the record of entry `index` of the log `origin`: `<origin>#<index>`.
#[derive(Clone, Copy)]
struct EventUid<'a> {
    origin: &'a str,
    index: u64,
}

impl fmt::Display for EventUid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.origin, self.index)
    }
}

/// `sha256:<hex>`, as idledger writes content hashes.
struct Sha256Id([u8; 32]);

impl fmt::Display for Sha256Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", Hash(self.0))
    }
}

/// `status_detail`: a rejection's reason or a system record's sentence.
enum Detail<'a> {
    Rejection(&'a RejectReason),
    System(SystemDetail<'a>),
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Rejection(reason) => reason.fmt(f),
            Detail::System(detail) => detail.fmt(f),
        }
    }
}

#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    profiles: [&'static str; 1],
    product: Product<'a>,
    uid: Text<EventUid<'a>>,
    sequence: u64,
    logged_time: i64,
    event_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_event_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_uid: Option<&'a str>,
}

#[derive(Serialize)]
struct Product<'a> {
    name: &'static str,
    vendor_name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Actor<'a> {
    user: User<'a>,
}

#[derive(Serialize)]
struct User<'a> {
    uid: &'a str,
    type_id: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programmatic_credentials: Option<[ProgrammaticCredential<'a>; 1]>,
}

impl<'a> User<'a> {
    fn of(uid: &'a str, (type_id, kind): (u8, &'static str)) -> User<'a> {
        User {
            uid,
            type_id,
            kind,
            credential_uid: None,
            programmatic_credentials: None,
        }
    }
}

#[derive(Serialize)]
struct ProgrammaticCredential<'a> {
    uid: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A group, role or service, by name.
#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct AuthFactor {
    factor_type_id: u8,
    factor_type: &'static str,
}

#[derive(Serialize)]
struct Entity<'a> {
    name: Text<SystemEntityName<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<Text<Sha256Id>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a SystemRecord>,
}

/// `unmapped.idledger` after its index and leaf: what OCSF has no attribute for.
#[derive(Serialize)]
pub(super) struct Idledger<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<&'a LineProof>,
    provenance: &'a Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<EventExtras<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<&'a RejectReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Payload<'a>>,
}

/// The members of an event that no OCSF attribute of its record holds.
#[derive(Serialize)]
struct EventExtras<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    exception: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<&'a Credential>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    membership: Option<MembershipKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_mfa: Option<bool>,
    #[serde(skip_serializing_if = "Attributes::is_empty")]
    attributes: Attributes<'a>,
}

impl<'a> EventExtras<'a> {
    fn of(event: &'a Event) -> EventExtras<'a> {
        EventExtras {
            request_id: event.request_id.as_deref(),
            resource: event.resource.as_deref(),
            ticket: event.ticket.as_deref(),
            policy: event.policy.as_ref(),
            decision: event.decision,
            expires_at: event.expires_at,
            exception: event.exception,
            credential: event.credential.as_ref(),
            owner: event.owner.as_deref(),
            membership: event.membership,
            actor_mfa: event.actor.as_ref().and_then(|a| a.mfa),
            attributes: Attributes(&event.attributes),
        }
    }
}

/// An event's attributes as a JSON object.
struct Attributes<'a>(&'a [(String, AttrValue)]);

impl Attributes<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// What a quarantined entry kept of an input that was not an event.
#[derive(Serialize)]
struct Payload<'a> {
    kept: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_len: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<Text<Hash>>,
    #[serde(skip)]
    hash: Option<&'a [u8; 32]>,
}

impl<'a> Payload<'a> {
    fn new(kept: &'static str, total_len: Option<u64>, sha256: Option<&'a [u8; 32]>) -> Self {
        Payload {
            kept,
            total_len,
            sha256: sha256.map(|h| Text(Hash(*h))),
            hash: sha256,
        }
    }
}
