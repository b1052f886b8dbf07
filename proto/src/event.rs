//! The canonical identity lifecycle event: the validated form of every event type, for human and
//! non-human identities, as it is encoded into ledger entries and printed as JSON.

use crate::time::Timestamp;
use bincode::{Decode, Encode};
use serde::{Serialize, Serializer};
use std::fmt;

/// Every event type of native JSON version 1. The bincode variant index of each is part of the
/// leaf format (docs/FORMAT.md): new types are only ever appended at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub enum EventType {
    IdentityCreated,
    IdentityUpdated,
    IdentityOwnerChanged,
    IdentityDisabled,
    IdentityEnabled,
    IdentityDeleted,
    AccessRequested,
    AccessApproved,
    AccessDenied,
    AccessGranted,
    AccessRevoked,
    AccessExpired,
    AccessReviewed,
    CredentialIssued,
    CredentialRotated,
    CredentialRevoked,
    CredentialExpired,
    IdentityAuthenticated,
    CredentialUsed,
}

/// The three families of event types; each has its own required fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Identity,
    Access,
    Credential,
}

impl EventType {
    pub const ALL: [EventType; 19] = [
        EventType::IdentityCreated,
        EventType::IdentityUpdated,
        EventType::IdentityOwnerChanged,
        EventType::IdentityDisabled,
        EventType::IdentityEnabled,
        EventType::IdentityDeleted,
        EventType::AccessRequested,
        EventType::AccessApproved,
        EventType::AccessDenied,
        EventType::AccessGranted,
        EventType::AccessRevoked,
        EventType::AccessExpired,
        EventType::AccessReviewed,
        EventType::CredentialIssued,
        EventType::CredentialRotated,
        EventType::CredentialRevoked,
        EventType::CredentialExpired,
        EventType::IdentityAuthenticated,
        EventType::CredentialUsed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::IdentityCreated => "identity.created",
            EventType::IdentityUpdated => "identity.updated",
            EventType::IdentityOwnerChanged => "identity.owner_changed",
            EventType::IdentityDisabled => "identity.disabled",
            EventType::IdentityEnabled => "identity.enabled",
            EventType::IdentityDeleted => "identity.deleted",
            EventType::AccessRequested => "access.requested",
            EventType::AccessApproved => "access.approved",
            EventType::AccessDenied => "access.denied",
            EventType::AccessGranted => "access.granted",
            EventType::AccessRevoked => "access.revoked",
            EventType::AccessExpired => "access.expired",
            EventType::AccessReviewed => "access.reviewed",
            EventType::CredentialIssued => "credential.issued",
            EventType::CredentialRotated => "credential.rotated",
            EventType::CredentialRevoked => "credential.revoked",
            EventType::CredentialExpired => "credential.expired",
            EventType::IdentityAuthenticated => "identity.authenticated",
            EventType::CredentialUsed => "credential.used",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn family(self) -> Family {
        match self {
            EventType::IdentityCreated
            | EventType::IdentityUpdated
            | EventType::IdentityOwnerChanged
            | EventType::IdentityDisabled
            | EventType::IdentityEnabled
            | EventType::IdentityDeleted
            | EventType::IdentityAuthenticated => Family::Identity,
            EventType::AccessRequested
            | EventType::AccessApproved
            | EventType::AccessDenied
            | EventType::AccessGranted
            | EventType::AccessRevoked
            | EventType::AccessExpired
            | EventType::AccessReviewed => Family::Access,
            EventType::CredentialIssued
            | EventType::CredentialRotated
            | EventType::CredentialRevoked
            | EventType::CredentialExpired
            | EventType::CredentialUsed => Family::Credential,
        }
    }

    /// Use events: an identity authenticating, a credential presented. They are evidence of use
    /// and change no lifecycle state (docs/EVENTS.md).
    pub fn is_use(self) -> bool {
        matches!(
            self,
            EventType::IdentityAuthenticated | EventType::CredentialUsed
        )
    }

    /// Expiries may come from a system with no acting principal.
    pub fn actor_optional(self) -> bool {
        matches!(
            self,
            EventType::AccessExpired | EventType::CredentialExpired
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// Who performed an action.
    ActorKind { Human => "human", Service => "service", System => "system" }
);
string_enum!(
    /// What kind of identity an event is about.
    SubjectKind {
        Human => "human",
        ServiceAccount => "service_account",
        ApiKey => "api_key",
        Workload => "workload",
        Bot => "bot",
        Machine => "machine",
    }
);
string_enum!(
    /// The outcome of an access review.
    Decision { Keep => "keep", Revoke => "revoke" }
);
string_enum!(
    /// What kind of credential an event is about.
    CredentialKind {
        ApiKey => "api_key",
        Secret => "secret",
        Certificate => "certificate",
        Token => "token",
        SshKey => "ssh_key",
        Password => "password",
        MfaFactor => "mfa_factor",
    }
);
string_enum!(
    /// Whether the source reports the operation as done. A failed operation is kept as evidence
    /// and changes no projection.
    Outcome { Succeeded => "succeeded", Failed => "failed" }
);
string_enum!(
    /// What an access grant is membership in, when it is one: the grant's `resource` names the
    /// group, directory role or team.
    MembershipKind { Group => "group", Role => "role", Team => "team" }
);

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct Actor {
    pub id: String,
    pub kind: ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct Subject {
    pub id: String,
    pub kind: SubjectKind,
}

impl SubjectKind {
    pub fn is_human(self) -> bool {
        self == SubjectKind::Human
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct Policy {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A credential is recorded by id, kind and, when the source gives one, the SHA-256 fingerprint
/// of its value, never the value. Passwords, MFA factors and certificates known by serial or
/// thumbprint have none (leaf version 2; in version 1 every credential had one). Decoded by
/// `leaf_version`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Serialize)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_fingerprint"
    )]
    pub fingerprint: Option<[u8; 32]>,
}

pub(crate) fn serialize_fingerprint<S: Serializer>(
    f: &Option<[u8; 32]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => crate::hash::serialize_sha256_hex(f, s),
        None => s.serialize_none(),
    }
}

/// A value in `attributes`: JSON strings, integers, other numbers and booleans. A `Number` is
/// always finite (JSON has no NaN or infinity): the decoders refuse any other, so `Eq` holds.
#[derive(Clone, Debug, PartialEq, Encode, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl Eq for AttrValue {}

/// The variant indexes of `AttrValue` (and of the borrowed `AttrValueView`), as encoded.
pub(crate) const ATTR_VARIANTS: bincode::error::AllowedEnumVariants =
    bincode::error::AllowedEnumVariants::Range { min: 0, max: 3 };

/// Decodes an attribute number, refusing NaN and the infinities, which no event can hold.
pub(crate) fn decode_finite<D: bincode::de::Decoder>(
    d: &mut D,
) -> Result<f64, bincode::error::DecodeError> {
    let n = f64::decode(d)?;
    if n.is_finite() {
        Ok(n)
    } else {
        Err(bincode::error::DecodeError::OtherString(format!(
            "attribute number {n} is not finite"
        )))
    }
}

impl<Context> Decode<Context> for AttrValue {
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        d: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        match u32::decode(d)? {
            0 => Ok(AttrValue::Text(String::decode(d)?)),
            1 => Ok(AttrValue::Integer(i64::decode(d)?)),
            2 => Ok(AttrValue::Number(decode_finite(d)?)),
            3 => Ok(AttrValue::Bool(bool::decode(d)?)),
            found => Err(bincode::error::DecodeError::UnexpectedVariant {
                type_name: "AttrValue",
                allowed: &ATTR_VARIANTS,
                found,
            }),
        }
    }
}
bincode::impl_borrow_decode!(AttrValue);

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Text(t) => f.write_str(t),
            AttrValue::Integer(i) => i.fmt(f),
            AttrValue::Number(n) => n.fmt(f),
            AttrValue::Bool(b) => b.fmt(f),
        }
    }
}

/// A validated identity lifecycle event. Field order is the encoding order (docs/FORMAT.md);
/// `outcome` and `membership` are in leaf version 2 only (`leaf_version` decodes both).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Serialize)]
pub struct Event {
    pub source: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    pub subject: Subject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exception: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Sorted by key, keys unique.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_attributes"
    )]
    pub attributes: Vec<(String, AttrValue)>,
    /// Whether the source reports the operation done; a failed one changes no projection.
    #[serde(skip_serializing_if = "Outcome::is_success")]
    pub outcome: Outcome,
    /// What an access grant is membership in, if it is one (`resource` names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipKind>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        *self == Outcome::Succeeded
    }
}

fn serialize_attributes<S: Serializer>(
    attrs: &[(String, AttrValue)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(attrs.len()))?;
    for (k, v) in attrs {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl Event {
    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.attributes[i].1)
    }
}
