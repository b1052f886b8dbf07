//! Projections rebuilt by replaying the log (event sourcing): identities, grants and credentials
//! as of the last applied entry, kept current by applying new entries as the log grows.

use crate::answers::QueryError;
use crate::episode::{Episode, IdentityChange};
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::event::{CredentialKind, EventType, Family, SubjectKind};
use idledger_proto::view::{BodyView, EntryView, EventView};
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

/// Entries per unit of parallel reading during replay.
const REPLAY_CHUNK: u64 = 4096;

/// Everything the reports need, as of `size` entries.
#[derive(Debug, Default)]
pub struct Projections {
    pub size: u64,
    pub events: u64,
    /// By identity id (`identities_sorted` gives them in id order).
    pub identities: HashMap<String, Identity>,
    /// By credential id (`credentials_sorted` gives them in id order).
    pub credentials: HashMap<String, CredentialState>,
    pub quarantined: BTreeMap<&'static str, u64>,
    /// The indexes of each grant's access entries, in order. Episodes are told from the leaves,
    /// read back when asked for: the projections reference the log rather than copy it, so
    /// their memory stays small whatever the log's size.
    grants: HashMap<String, Vec<u64>>,
    identity_changes: HashMap<String, Vec<IdentityChange>>,
}

/// One chunk of leaves read by a replay worker: the bytes back to back, and where each ends.
struct LeafChunk {
    bytes: Vec<u8>,
    leaves: Vec<(u64, usize)>,
}

impl Projections {
    /// Replays the whole log.
    pub fn replay(reader: &LedgerReader<'_>) -> Result<Projections, QueryError> {
        let mut p = Projections::default();
        p.catch_up(reader)?;
        Ok(p)
    }

    /// Applies the entries appended since the last call. Two threads read the leaves
    /// in chunks while this one applies them in order.
    pub fn catch_up(&mut self, reader: &LedgerReader<'_>) -> Result<(), QueryError> {
        let size = reader.size()?.0;
        let mut expected = self.size;
        reader.par_chunks(
            self.size,
            Some(size),
            2,
            REPLAY_CHUNK,
            |cursor| -> Result<LeafChunk, QueryError> {
                let mut chunk = LeafChunk {
                    bytes: Vec::with_capacity(REPLAY_CHUNK as usize * 700),
                    leaves: Vec::with_capacity(REPLAY_CHUNK as usize),
                };
                while let Some((k, v)) = cursor.next() {
                    let index = be_key(k)?;
                    chunk.bytes.extend_from_slice(v);
                    chunk.leaves.push((index, chunk.bytes.len()));
                }
                Ok(chunk)
            },
            |chunk| {
                let mut start = 0;
                for (index, end) in chunk.leaves {
                    if index != expected {
                        return Err(ReadError::NoEntry(expected).into());
                    }
                    let leaf = &chunk.bytes[start..end];
                    start = end;
                    let view = EntryView::decode(leaf)
                        .map_err(|source| ReadError::BadEntry { index, source })?;
                    self.apply(&view);
                    expected += 1;
                }
                Ok(())
            },
        )?;
        if expected < size {
            return Err(ReadError::NoEntry(expected).into());
        }
        Ok(())
    }

    /// Applies one entry.
    fn apply(&mut self, entry: &EntryView<'_>) {
        self.size = entry.seq + 1;
        match &entry.body {
            BodyView::Event(e) => self.apply_event(entry.seq, &e.event),
            BodyView::Quarantined(r) => *self.quarantined.entry(r.reason.class()).or_default() += 1,
            BodyView::System(_) => {}
        }
    }

    fn apply_event(&mut self, index: u64, e: &EventView<'_>) {
        self.events += 1;
        if !self.identities.contains_key(e.subject.id) {
            self.identities.insert(
                e.subject.id.to_owned(),
                Identity {
                    id: e.subject.id.to_owned(),
                    kind: e.subject.kind,
                    owner: None,
                    status: IdentityStatus::Active,
                    changes: Vec::new(),
                    attributes: BTreeMap::new(),
                    events: 0,
                },
            );
        }
        let identity = self
            .identities
            .get_mut(e.subject.id)
            .expect("inserted above");
        identity.events += 1;
        match e.kind.family() {
            Family::Identity => {
                for (k, v) in &e.attributes {
                    identity.attributes.insert((*k).to_owned(), v.to_string());
                }
                if let Some(owner) = e.owner {
                    identity.owner = Some(owner.to_owned());
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
                    .entry(e.subject.id.to_owned())
                    .or_default()
                    .push(IdentityChange {
                        index,
                        time: e.time,
                        kind: e.kind,
                        actor: e.actor.as_ref().map(|a| a.id.to_owned()),
                        reason: e.reason.map(str::to_owned),
                    });
            }
            Family::Access => {
                if let Some(g) = e.grant_id {
                    match self.grants.get_mut(g) {
                        Some(indexes) => indexes.push(index),
                        None => {
                            self.grants.insert(g.to_owned(), vec![index]);
                        }
                    }
                }
            }
            Family::Credential => {
                if let Some(c) = &e.credential {
                    if !self.credentials.contains_key(c.id) {
                        self.credentials.insert(
                            c.id.to_owned(),
                            CredentialState {
                                id: c.id.to_owned(),
                                kind: c.kind,
                                subject: e.subject.id.to_owned(),
                                issued_at: None,
                                rotations: Vec::new(),
                                revoked_at: None,
                                expired_at: None,
                                expires_at: None,
                                last_index: index,
                            },
                        );
                    }
                    let state = self.credentials.get_mut(c.id).expect("inserted above");
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

    /// How many grants the log names.
    pub fn grant_count(&self) -> usize {
        self.grants.len()
    }

    /// Identities in id order.
    pub fn identities_sorted(&self) -> Vec<&Identity> {
        let mut v: Vec<&Identity> = self.identities.values().collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Credentials in id order.
    pub fn credentials_sorted(&self) -> Vec<&CredentialState> {
        let mut v: Vec<&CredentialState> = self.credentials.values().collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The episode of every grant, in grant id order, judged at `now`, told from the grants'
    /// entries read back from the log (a few thousand at a time, in batched reads).
    pub fn episodes(
        &self,
        reader: &LedgerReader<'_>,
        now: Timestamp,
    ) -> Result<Vec<Episode>, QueryError> {
        let mut ids: Vec<&String> = self.grants.keys().collect();
        ids.sort_unstable();
        // Two threads, each telling half of the episodes; the halves are joined in order.
        let half = ids.len().div_ceil(2);
        let (first, second) = ids.split_at(half);
        let (a, b) = std::thread::scope(|s| {
            let other = s.spawn(|| self.tell(reader, second, now));
            (self.tell(reader, first, now), other.join())
        });
        let mut out = a?;
        out.extend(b.map_err(|_| {
            QueryError::Read(ReadError::Damaged("an episode worker panicked".into()))
        })??);
        Ok(out)
    }

    /// The episodes of `ids`, in order.
    fn tell(
        &self,
        reader: &LedgerReader<'_>,
        ids: &[&String],
        now: Timestamp,
    ) -> Result<Vec<Episode>, QueryError> {
        let mut out = Vec::with_capacity(ids.len());
        for group in ids.chunks(1024) {
            let seqs: Vec<Seq> = group
                .iter()
                .flat_map(|id| self.grants[*id].iter().map(|&i| Seq(i)))
                .collect();
            let leaves = reader.leaves_sweeping(&seqs)?;
            let mut views = Vec::with_capacity(leaves.len());
            for (seq, leaf) in seqs.iter().zip(&leaves) {
                let view = EntryView::decode(leaf).map_err(|source| ReadError::BadEntry {
                    index: seq.0,
                    source,
                })?;
                views.push(view);
            }
            let mut next = views.into_iter();
            for id in group {
                let events: Vec<(u64, EventView<'_>)> = (&mut next)
                    .take(self.grants[*id].len())
                    .filter_map(|v| match v.body {
                        BodyView::Event(e) => Some((v.seq, e.event)),
                        _ => None,
                    })
                    .collect();
                let subject = events.first().map(|(_, e)| e.subject.id).unwrap_or("");
                let changes = self
                    .identity_changes
                    .get(subject)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                out.push(Episode::build(id, &events, changes, now));
            }
        }
        Ok(out)
    }
}

fn be_key(k: &[u8]) -> Result<u64, ReadError> {
    k.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| ReadError::Damaged("entry key is not 8 bytes".into()))
}
