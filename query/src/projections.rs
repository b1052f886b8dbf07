//! Projections rebuilt by replaying the log (event sourcing): identities, grants and credentials
//! as of the last applied entry, kept current by applying new entries as the log grows.

use crate::answers::QueryError;
use crate::episode::{Episode, IdentityChange};
use idledger_ledger::LedgerReader;
use idledger_proto::entry::{Body, Entry};
use idledger_proto::event::{CredentialKind, Event, EventType, Family, SubjectKind};
use idledger_proto::{Seq, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStatus {
    Active,
    Disabled,
    Deleted,
}

#[derive(Clone, Debug, Serialize)]
pub struct Identity {
    pub id: String,
    pub kind: SubjectKind,
    pub owner: Option<String>,
    pub status: IdentityStatus,
    /// Status over time: when each change happened and at which entry.
    pub changes: Vec<(Timestamp, IdentityStatus, u64)>,
    pub attributes: BTreeMap<String, String>,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CredentialState {
    pub id: String,
    pub kind: CredentialKind,
    pub subject: String,
    pub issued_at: Option<Timestamp>,
    pub rotations: Vec<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub expired_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub last_index: u64,
}

impl CredentialState {
    pub fn live(&self) -> bool {
        self.revoked_at.is_none() && self.expired_at.is_none()
    }
    /// When the current value was set: the last rotation, or issuance.
    pub fn current_since(&self) -> Option<Timestamp> {
        self.rotations.last().copied().or(self.issued_at)
    }
}

/// Everything the reports need, as of `size` entries.
#[derive(Debug, Default)]
pub struct Projections {
    pub size: u64,
    pub events: u64,
    pub identities: BTreeMap<String, Identity>,
    /// The access events of each grant, in order.
    pub grants: BTreeMap<String, Vec<(u64, Event)>>,
    pub credentials: BTreeMap<String, CredentialState>,
    pub quarantined: BTreeMap<&'static str, u64>,
    identity_changes: HashMap<String, Vec<IdentityChange>>,
}

impl Projections {
    /// Replays the whole log.
    pub fn replay(reader: &LedgerReader<'_>) -> Result<Projections, QueryError> {
        let mut p = Projections::default();
        p.catch_up(reader)?;
        Ok(p)
    }

    /// Applies the entries appended since the last call.
    pub fn catch_up(&mut self, reader: &LedgerReader<'_>) -> Result<(), QueryError> {
        reader.scan(Seq(self.size), |seq, bytes| -> Result<(), QueryError> {
            let entry =
                Entry::decode(bytes).map_err(|source| idledger_ledger::ReadError::BadEntry {
                    index: seq.0,
                    source,
                })?;
            self.apply(&entry);
            Ok(())
        })
    }

    pub fn apply(&mut self, entry: &Entry) {
        self.size = entry.seq + 1;
        match &entry.body {
            Body::Event(e) => self.apply_event(entry.seq, &e.event),
            Body::Quarantined(r) => *self.quarantined.entry(r.reason.class()).or_default() += 1,
            Body::System(_) => {}
        }
    }

    fn apply_event(&mut self, index: u64, e: &Event) {
        self.events += 1;
        let identity = self
            .identities
            .entry(e.subject.id.clone())
            .or_insert_with(|| Identity {
                id: e.subject.id.clone(),
                kind: e.subject.kind,
                owner: None,
                status: IdentityStatus::Active,
                changes: Vec::new(),
                attributes: BTreeMap::new(),
                events: 0,
            });
        identity.events += 1;
        match e.kind.family() {
            Family::Identity => {
                for (k, v) in &e.attributes {
                    identity.attributes.insert(k.clone(), v.to_string());
                }
                if e.owner.is_some() {
                    identity.owner = e.owner.clone();
                }
                let status = match e.kind {
                    EventType::IdentityDisabled => Some(IdentityStatus::Disabled),
                    EventType::IdentityDeleted => Some(IdentityStatus::Deleted),
                    EventType::IdentityEnabled | EventType::IdentityCreated => {
                        Some(IdentityStatus::Active)
                    }
                    _ => None,
                };
                if let Some(s) = status {
                    identity.status = s;
                    identity.changes.push((e.time, s, index));
                }
                self.identity_changes
                    .entry(e.subject.id.clone())
                    .or_default()
                    .push(IdentityChange {
                        index,
                        time: e.time,
                        kind: e.kind,
                        actor: e.actor.as_ref().map(|a| a.id.clone()),
                        reason: e.reason.clone(),
                    });
            }
            Family::Access => {
                if let Some(g) = &e.grant_id {
                    self.grants
                        .entry(g.clone())
                        .or_default()
                        .push((index, e.clone()));
                }
            }
            Family::Credential => {
                if let Some(c) = &e.credential {
                    let state =
                        self.credentials
                            .entry(c.id.clone())
                            .or_insert_with(|| CredentialState {
                                id: c.id.clone(),
                                kind: c.kind,
                                subject: e.subject.id.clone(),
                                issued_at: None,
                                rotations: Vec::new(),
                                revoked_at: None,
                                expired_at: None,
                                expires_at: None,
                                last_index: index,
                            });
                    state.last_index = index;
                    if e.expires_at.is_some() {
                        state.expires_at = e.expires_at;
                    }
                    match e.kind {
                        EventType::CredentialIssued => state.issued_at = Some(e.time),
                        EventType::CredentialRotated => state.rotations.push(e.time),
                        EventType::CredentialRevoked => state.revoked_at = Some(e.time),
                        EventType::CredentialExpired => state.expired_at = Some(e.time),
                        _ => {}
                    }
                }
            }
        }
    }

    /// The episode of every grant, judged at `now`.
    pub fn episodes(&self, now: Timestamp) -> Vec<Episode> {
        self.grants
            .iter()
            .map(|(id, events)| {
                let refs: Vec<(u64, &Event)> = events.iter().map(|(i, e)| (*i, e)).collect();
                let subject = events
                    .first()
                    .map(|(_, e)| e.subject.id.as_str())
                    .unwrap_or("");
                let changes = self
                    .identity_changes
                    .get(subject)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                Episode::build(id, &refs, changes, now)
            })
            .collect()
    }
}
