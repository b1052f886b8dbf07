//! What both SIEM record formats (OCSF and CEF) say about an entry in words and numbers: its
//! code and title, its severity, whether it reports a failure, and the sentence for a system
//! record, so the two formats cannot drift apart on them.

use crate::entry::{Body, Entry, SystemRecord};
use crate::event::{EventType, Outcome};
use crate::time::Timestamp;
use std::fmt;

/// How urgent an entry is, on the scale both formats share (OCSF `severity_id`, CEF severity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Severity {
    /// An event as it should be, a system record about keys or scope.
    Informational,
    /// The source reports the operation failed.
    Low,
    /// Access granted outside the standard path (`exception`), or an input quarantined.
    Medium,
    /// Kafka offsets that will never be in the ledger.
    High,
}

impl Severity {
    pub(super) fn of(entry: &Entry) -> Severity {
        match &entry.body {
            Body::Event(e) if e.event.exception => Severity::Medium,
            Body::Event(e) if e.event.outcome == Outcome::Failed => Severity::Low,
            Body::Event(_) => Severity::Informational,
            Body::Quarantined(_) => Severity::Medium,
            Body::System(SystemRecord::OffsetsUnavailable { .. }) => Severity::High,
            Body::System(_) => Severity::Informational,
        }
    }

    /// OCSF `severity_id` and its caption.
    pub(super) fn ocsf(self) -> (u8, &'static str) {
        match self {
            Severity::Informational => (1, "Informational"),
            Severity::Low => (2, "Low"),
            Severity::Medium => (3, "Medium"),
            Severity::High => (4, "High"),
        }
    }

    /// CEF severity, 0 to 10 (Low 0-3, Medium 4-6, High 7-8).
    pub(super) fn cef(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 3,
            Severity::Medium => 5,
            Severity::High => 7,
        }
    }
}

/// The entry's code: its event type (`access.granted`), `quarantined`, or `system.<record>`.
/// OCSF `metadata.event_code`, CEF Device Event Class ID.
pub(super) fn code(entry: &Entry) -> &'static str {
    match &entry.body {
        Body::Event(e) => e.event.kind.as_str(),
        Body::Quarantined(_) => "quarantined",
        Body::System(record) => match record {
            SystemRecord::Genesis { .. } => "system.genesis",
            SystemRecord::KeyAdded { .. } => "system.key_added",
            SystemRecord::KeyRetired { .. } => "system.key_retired",
            SystemRecord::OffsetsUnavailable { .. } => "system.offsets_unavailable",
            SystemRecord::OutOfScope { .. } => "system.out_of_scope",
        },
    }
}

/// An event type as a title (OCSF `activity_name` of an Other activity, CEF Name).
pub(super) fn title(kind: EventType) -> &'static str {
    match kind {
        EventType::IdentityCreated => "Identity Created",
        EventType::IdentityUpdated => "Identity Updated",
        EventType::IdentityOwnerChanged => "Identity Owner Changed",
        EventType::IdentityDisabled => "Identity Disabled",
        EventType::IdentityEnabled => "Identity Enabled",
        EventType::IdentityDeleted => "Identity Deleted",
        EventType::AccessRequested => "Access Requested",
        EventType::AccessApproved => "Access Approved",
        EventType::AccessDenied => "Access Denied",
        EventType::AccessGranted => "Access Granted",
        EventType::AccessRevoked => "Access Revoked",
        EventType::AccessExpired => "Access Expired",
        EventType::AccessReviewed => "Access Reviewed",
        EventType::CredentialIssued => "Credential Issued",
        EventType::CredentialRotated => "Credential Rotated",
        EventType::CredentialRevoked => "Credential Revoked",
        EventType::CredentialExpired => "Credential Expired",
        EventType::IdentityAuthenticated => "Identity Authenticated",
        EventType::CredentialUsed => "Credential Used",
    }
}

/// The title of an entry that is not an event.
pub(super) const QUARANTINED_TITLE: &str = "Input Quarantined";

/// A system record as a title.
pub(super) fn system_title(record: &SystemRecord) -> &'static str {
    match record {
        SystemRecord::Genesis { .. } => "Log Started",
        SystemRecord::KeyAdded { .. } => "Signing Key Added",
        SystemRecord::KeyRetired { .. } => "Signing Key Retired",
        SystemRecord::OffsetsUnavailable { .. } => "Offsets Unavailable",
        SystemRecord::OutOfScope { .. } => "Records Out Of Scope",
    }
}

/// Whether an entry reports something that did not succeed: a failed operation, a quarantined
/// input, offsets lost to the broker.
pub(super) fn failed(entry: &Entry) -> bool {
    match &entry.body {
        Body::Event(e) => e.event.outcome == Outcome::Failed,
        Body::Quarantined(_) => true,
        Body::System(record) => matches!(record, SystemRecord::OffsetsUnavailable { .. }),
    }
}

/// Milliseconds since the epoch (OCSF `timestamp_t`, CEF times), rounded down.
pub(super) fn millis(time: Timestamp) -> i64 {
    time.0.div_euclid(1_000_000)
}

/// What a system record says, as one sentence (OCSF `status_detail`, CEF `msg`).
#[derive(Clone, Copy, Debug)]
pub(super) struct SystemDetail<'a>(pub &'a SystemRecord);

impl fmt::Display for SystemDetail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SystemRecord::Genesis { origin, .. } => {
                write!(f, "the log {origin} starts with its first signing key")
            }
            SystemRecord::KeyAdded { .. } => {
                f.write_str("a new signing key, announced under the current one")
            }
            SystemRecord::KeyRetired { .. } => {
                f.write_str("a key that signs no checkpoint beyond this entry")
            }
            SystemRecord::OffsetsUnavailable {
                topic,
                partition,
                first,
                end,
            } => write!(
                f,
                "offsets {first} to {end} (exclusive) of {topic} partition {partition} were gone from the broker when ingest asked: they will never be in this ledger"
            ),
            SystemRecord::OutOfScope {
                topic,
                partition,
                offsets,
                counts,
            } => {
                // Counts come from the leaf: summed without overflow, whatever a leaf holds.
                let records = counts
                    .iter()
                    .fold(0u64, |sum, (_, n)| sum.saturating_add(*n));
                write!(
                    f,
                    "{records} records of {topic} partition {partition} were outside idledger's scope ({} offset ranges hold nothing else)",
                    offsets.len()
                )
            }
        }
    }
}

/// The entity a system record is about: (OCSF `entity.type`, its name).
pub(super) fn system_entity(record: &SystemRecord) -> (&'static str, SystemEntityName<'_>) {
    match record {
        SystemRecord::Genesis { origin, .. } => ("Log", SystemEntityName::Text(origin)),
        SystemRecord::KeyAdded { verifier_key } | SystemRecord::KeyRetired { verifier_key } => {
            ("Verifier Key", SystemEntityName::Text(verifier_key))
        }
        SystemRecord::OffsetsUnavailable {
            topic, partition, ..
        }
        | SystemRecord::OutOfScope {
            topic, partition, ..
        } => (
            "Kafka Partition",
            SystemEntityName::Partition(topic, *partition),
        ),
    }
}

/// The name of the entity a system record is about: a text it holds, or `<topic>/<partition>`.
#[derive(Clone, Copy, Debug)]
pub(super) enum SystemEntityName<'a> {
    Text(&'a str),
    Partition(&'a str, i32),
}

impl fmt::Display for SystemEntityName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SystemEntityName::Text(text) => f.write_str(text),
            SystemEntityName::Partition(topic, partition) => write!(f, "{topic}/{partition}"),
        }
    }
}
