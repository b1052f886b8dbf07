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

/// Grants per group an episode teller reads back and tells at once.
const EPISODE_GROUP: usize = 1024;

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

/// One chunk of leaves read by a replay worker: the bytes back to back, and what the worker
/// made of each.
struct LeafChunk {
    bytes: Vec<u8>,
    items: Vec<Prepared>,
}

/// A leaf as a replay worker hands it over. The worker has decoded (and so validated) every
/// leaf; access and credential events, nearly all of a log, arrive as the few fields applying
/// them needs, so the applying thread decodes nothing for them.
enum Prepared {
    Fact(Fact),
    /// Applied by decoding it again: identity events, quarantined and system entries.
    Leaf {
        seq: u64,
        start: usize,
        end: usize,
    },
}

impl Prepared {
    fn seq(&self) -> u64 {
        match self {
            Prepared::Fact(f) => f.seq,
            Prepared::Leaf { seq, .. } => *seq,
        }
    }
}

/// Where a string lies in a chunk's bytes.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Where `s` lies in `base`; `None` if it does not lie inside it (then the leaf is applied
    /// from its full view instead).
    fn of(base: &[u8], s: &str) -> Option<Span> {
        let start = (s.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
        if start.checked_add(s.len())? > base.len() {
            return None;
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(s.len()).ok()?,
        })
    }

    fn get(self, bytes: &[u8]) -> Result<&str, ReadError> {
        let start = self.start as usize;
        let end = start.checked_add(self.len as usize);
        end.and_then(|end| bytes.get(start..end))
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| ReadError::Damaged("a replay span is out of its chunk".into()))
    }
}

/// An access or credential event, as applying it needs it.
struct Fact {
    seq: u64,
    kind: EventType,
    time: Timestamp,
    subject: Span,
    subject_kind: SubjectKind,
    grant: Option<Span>,
    credential: Option<(Span, CredentialKind)>,
    expires_at: Option<Timestamp>,
}

impl Fact {
    /// The fact of an event, unless it is an identity event (applied from the full view).
    fn of(base: &[u8], seq: u64, e: &EventView<'_>) -> Option<Fact> {
        if e.kind.family() == Family::Identity {
            return None;
        }
        Some(Fact {
            seq,
            kind: e.kind,
            time: e.time,
            subject: Span::of(base, e.subject.id)?,
            subject_kind: e.subject.kind,
            grant: match e.grant_id {
                Some(g) => Some(Span::of(base, g)?),
                None => None,
            },
            credential: match &e.credential {
                Some(c) => Some((Span::of(base, c.id)?, c.kind)),
                None => None,
            },
            expires_at: e.expires_at,
        })
    }
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
                    items: Vec::with_capacity(REPLAY_CHUNK as usize),
                };
                while let Some((k, v)) = cursor.next() {
                    let index = be_key(k)?;
                    let start = chunk.bytes.len();
                    chunk.bytes.extend_from_slice(v);
                    let view = EntryView::decode(&chunk.bytes[start..])
                        .map_err(|source| ReadError::BadEntry { index, source })?;
                    let fact = match &view.body {
                        BodyView::Event(e) => Fact::of(&chunk.bytes, view.seq, &e.event),
                        _ => None,
                    };
                    chunk.items.push(match fact {
                        Some(f) => Prepared::Fact(f),
                        None => Prepared::Leaf {
                            seq: view.seq,
                            start,
                            end: chunk.bytes.len(),
                        },
                    });
                }
                Ok(chunk)
            },
            |chunk| {
                for item in &chunk.items {
                    if item.seq() != expected {
                        return Err(ReadError::NoEntry(expected).into());
                    }
                    match item {
                        Prepared::Fact(f) => self.apply_fact(f, &chunk.bytes)?,
                        Prepared::Leaf { seq, start, end } => {
                            let view = EntryView::decode(&chunk.bytes[*start..*end]).map_err(
                                |source| ReadError::BadEntry {
                                    index: *seq,
                                    source,
                                },
                            )?;
                            self.apply(&view)?;
                        }
                    }
                    expected = next_seq(expected)?;
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
    fn apply(&mut self, entry: &EntryView<'_>) -> Result<(), ReadError> {
        self.size = next_seq(entry.seq)?;
        match &entry.body {
            BodyView::Event(e) => self.apply_event(entry.seq, &e.event),
            BodyView::Quarantined(r) => {
                let n = self.quarantined.entry(r.reason.class()).or_default();
                *n = n.saturating_add(1);
            }
            BodyView::System(_) => {}
        }
        Ok(())
    }

    /// Applies an access or credential event handed over as a fact.
    fn apply_fact(&mut self, f: &Fact, bytes: &[u8]) -> Result<(), ReadError> {
        self.size = next_seq(f.seq)?;
        let subject = f.subject.get(bytes)?;
        self.touch_identity(subject, f.subject_kind);
        match f.kind.family() {
            Family::Access => {
                if let Some(g) = f.grant {
                    self.add_grant_entry(g.get(bytes)?, f.seq);
                }
            }
            Family::Credential => {
                if let Some((c, kind)) = f.credential {
                    self.apply_credential(
                        f.seq,
                        f.kind,
                        f.time,
                        subject,
                        c.get(bytes)?,
                        kind,
                        f.expires_at,
                    );
                }
            }
            Family::Identity => {
                return Err(ReadError::Damaged(
                    "an identity event was handed over as a fact".into(),
                ));
            }
        }
        Ok(())
    }

    fn apply_event(&mut self, index: u64, e: &EventView<'_>) {
        self.touch_identity(e.subject.id, e.subject.kind);
        match e.kind.family() {
            Family::Identity => {
                let identity = self
                    .identities
                    .get_mut(e.subject.id)
                    .expect("touched above");
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
                    self.add_grant_entry(g, index);
                }
            }
            Family::Credential => {
                if let Some(c) = &e.credential {
                    self.apply_credential(
                        index,
                        e.kind,
                        e.time,
                        e.subject.id,
                        c.id,
                        c.kind,
                        e.expires_at,
                    );
                }
            }
        }
    }

    /// Counts an event about `id`, first creating the identity if the log had not named it.
    fn touch_identity(&mut self, id: &str, kind: SubjectKind) {
        self.events = self.events.saturating_add(1);
        match self.identities.get_mut(id) {
            Some(identity) => identity.events = identity.events.saturating_add(1),
            None => {
                self.identities.insert(
                    id.to_owned(),
                    Identity {
                        id: id.to_owned(),
                        kind,
                        owner: None,
                        status: IdentityStatus::Active,
                        changes: Vec::new(),
                        attributes: BTreeMap::new(),
                        events: 1,
                    },
                );
            }
        }
    }

    fn add_grant_entry(&mut self, grant_id: &str, index: u64) {
        match self.grants.get_mut(grant_id) {
            Some(indexes) => indexes.push(index),
            None => {
                self.grants.insert(grant_id.to_owned(), vec![index]);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_credential(
        &mut self,
        index: u64,
        kind: EventType,
        time: Timestamp,
        subject: &str,
        credential_id: &str,
        credential_kind: CredentialKind,
        expires_at: Option<Timestamp>,
    ) {
        if !self.credentials.contains_key(credential_id) {
            self.credentials.insert(
                credential_id.to_owned(),
                CredentialState {
                    id: credential_id.to_owned(),
                    kind: credential_kind,
                    subject: subject.to_owned(),
                    issued_at: None,
                    rotations: Vec::new(),
                    revoked_at: None,
                    expired_at: None,
                    expires_at: None,
                    last_index: index,
                },
            );
        }
        let state = self
            .credentials
            .get_mut(credential_id)
            .expect("inserted above");
        state.last_index = index;
        if expires_at.is_some() {
            state.expires_at = expires_at;
        }
        match kind {
            EventType::CredentialIssued => state.issued_at = Some(time),
            EventType::CredentialRotated => state.rotations.push(time),
            EventType::CredentialRevoked => state.revoked_at = Some(time),
            EventType::CredentialExpired => state.expired_at = Some(time),
            _ => {}
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

    /// Tells the episode of every grant, in grant id order, judged at `now`, and hands each to
    /// `f` as it is told. Two threads tell alternate groups of grants from their entries, read
    /// back from the log in batched reads; only a few groups are held at a time, so memory
    /// stays bounded whatever the number of grants.
    pub fn for_each_episode<F>(
        &self,
        reader: &LedgerReader<'_>,
        now: Timestamp,
        mut f: F,
    ) -> Result<(), QueryError>
    where
        F: FnMut(&Episode) -> Result<(), QueryError>,
    {
        const TELLERS: usize = 2;
        let mut ids: Vec<&String> = self.grants.keys().collect();
        ids.sort_unstable();
        let groups: Vec<&[&String]> = ids.chunks(EPISODE_GROUP).collect();
        std::thread::scope(|s| {
            let receivers: Vec<_> = (0..TELLERS)
                .map(|w| {
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    let groups = &groups;
                    s.spawn(move || {
                        for group in groups.iter().skip(w).step_by(TELLERS) {
                            if tx.send(self.tell(reader, group, now)).is_err() {
                                break;
                            }
                        }
                    });
                    rx
                })
                .collect();
            for k in 0..groups.len() {
                let told = receivers[k % TELLERS].recv().map_err(|_| {
                    QueryError::Read(ReadError::Damaged("an episode worker panicked".into()))
                })??;
                for episode in &told {
                    f(episode)?;
                }
            }
            Ok(())
        })
    }

    /// The episodes of `ids`, in order.
    fn tell(
        &self,
        reader: &LedgerReader<'_>,
        ids: &[&String],
        now: Timestamp,
    ) -> Result<Vec<Episode>, QueryError> {
        let mut out = Vec::with_capacity(ids.len());
        for group in ids.chunks(EPISODE_GROUP) {
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

/// The index after `seq`: a leaf claiming the last index a `u64` holds has none, and is damage,
/// not a reason to panic.
fn next_seq(seq: u64) -> Result<u64, ReadError> {
    seq.checked_add(1)
        .ok_or_else(|| ReadError::Damaged(format!("entry {seq} claims the last possible index")))
}

fn be_key(k: &[u8]) -> Result<u64, ReadError> {
    k.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| ReadError::Damaged("entry key is not 8 bytes".into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use idledger_ledger::{Item, Ledger, ReadOnlyLedger, Submission};
    use idledger_proto::decode_event;
    use idledger_proto::entry::Origin;

    /// Events of every family (identity events with owners and attributes, access episodes,
    /// credentials), malformed input that is quarantined, over more than two replay chunks.
    pub(crate) fn mixed_events(n: usize) -> Vec<Vec<u8>> {
        let kinds = [
            "identity.created",
            "access.requested",
            "access.approved",
            "access.granted",
            "credential.issued",
            "credential.rotated",
            "identity.disabled",
            "access.revoked",
            "credential.revoked",
            "not-json",
        ];
        (0..n)
            .map(|i| {
                let kind = kinds[i % kinds.len()];
                let subject = format!("user{}@example.com", (i * 7) % 97);
                let grant = format!("grant-{}", i / 4);
                let credential = format!("key-{}", (i / 10) % 13);
                let body = match kind {
                    "not-json" => return format!("{{broken {i}").into_bytes(),
                    k if k.starts_with("identity.") => format!(
                        r#""subject":{{"id":"{subject}","kind":"service_account"}},"owner":"owner{i}@example.com","reason":"hr sync {i}","attributes":{{"application":"app{}","tier":{}}}"#,
                        i % 5,
                        i % 3
                    ),
                    k if k.starts_with("access.") => format!(
                        r#""subject":{{"id":"{subject}","kind":"human"}},"grant_id":"{grant}","resource":"db-{}:read","expires_at":"2026-03-0{}T17:00:00Z""#,
                        i % 4,
                        1 + i % 9
                    ),
                    _ => format!(
                        r#""subject":{{"id":"{subject}","kind":"api_key"}},"credential":{{"id":"{credential}","kind":"api_key","fingerprint":"sha256:{}"}},"expires_at":"2027-01-01T00:00:00Z""#,
                        format!("{:x}", i % 16).repeat(64)
                    ),
                };
                format!(
                    r#"{{"id":"evt-{i}","source":"test","type":"{kind}","time":"2026-03-01T{:02}:{:02}:00Z","actor":{{"id":"admin@example.com","kind":"human","mfa":true}},{body}}}"#,
                    (i / 60) % 24,
                    i % 60
                )
                .into_bytes()
            })
            .collect()
    }

    /// The reference: every entry decoded in full and applied on one thread, in order.
    fn replay_by_views(reader: &LedgerReader<'_>) -> Projections {
        let mut p = Projections::default();
        reader
            .scan(Seq(0), |_, leaf| -> Result<(), ReadError> {
                let view = EntryView::decode(leaf).expect("leaf decodes");
                p.apply(&view)
            })
            .expect("scan");
        p
    }

    fn summary(p: &Projections) -> serde_json::Value {
        let mut grants: Vec<_> = p.grants.iter().collect();
        grants.sort();
        let mut changes: Vec<_> = p
            .identity_changes
            .iter()
            .map(|(id, c)| {
                let c: Vec<_> = c
                    .iter()
                    .map(|c| {
                        (
                            c.index,
                            c.time.0,
                            format!("{:?}", c.kind),
                            &c.actor,
                            &c.reason,
                        )
                    })
                    .collect();
                (id, c)
            })
            .collect();
        changes.sort_by(|a, b| a.0.cmp(b.0));
        serde_json::json!({
            "size": p.size,
            "events": p.events,
            "identities": p.identities_sorted(),
            "credentials": p.credentials_sorted(),
            "grants": grants,
            "identity_changes": changes,
            "quarantined": p.quarantined,
        })
    }

    /// A ledger of `mixed_events(n)`, appended in batches of 500.
    pub(crate) fn mixed_ledger(
        dir: &std::path::Path,
        n: usize,
    ) -> (std::path::PathBuf, Vec<Vec<u8>>) {
        let path = dir.join("ledger");
        let mut ledger =
            Ledger::init(&path, &dir.join("keys"), "test.idledger.local/replay").expect("init");
        let events = mixed_events(n);
        for (b, chunk) in events.chunks(500).enumerate() {
            let batch = chunk
                .iter()
                .enumerate()
                .map(|(i, raw)| Submission {
                    origin: Origin::Local {
                        label: "test".into(),
                        line: (b * 500 + i) as u64,
                    },
                    item: match decode_event(raw) {
                        Ok(v) => Item::Event(v),
                        Err(r) => Item::Rejected(r),
                    },
                })
                .collect();
            ledger.append(batch, &[]).expect("append");
        }
        (path, events)
    }

    #[test]
    fn parallel_replay_equals_applying_every_entry_in_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, events) = mixed_ledger(dir.path(), 3 * REPLAY_CHUNK as usize + 123);
        let ro = ReadOnlyLedger::open(&path).expect("open");
        let reader = ro.reader();
        let fast = Projections::replay(&reader).expect("replay");
        let reference = replay_by_views(&reader);
        assert_eq!(reference.size, events.len() as u64 + 1);
        let broken = events.len() as u64 / 10;
        assert_eq!(
            serde_json::json!(reference.quarantined),
            serde_json::json!({ "not_json": broken })
        );
        assert_eq!(reference.events, events.len() as u64 - broken);
        assert!(reference.credentials.len() == 13 && reference.grant_count() > 300);
        assert_eq!(summary(&fast), summary(&reference));
    }

    #[test]
    fn episodes_come_one_per_grant_in_grant_id_order_across_groups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = mixed_ledger(dir.path(), 3 * EPISODE_GROUP * 4 + 7);
        let ro = ReadOnlyLedger::open(&path).expect("open");
        let reader = ro.reader();
        let p = Projections::replay(&reader).expect("replay");
        assert!(p.grant_count() > 2 * EPISODE_GROUP);
        let mut expected: Vec<(&String, &Vec<u64>)> = p.grants.iter().collect();
        expected.sort();
        let mut told = Vec::new();
        p.for_each_episode(&reader, Timestamp(0), |e| {
            told.push((e.grant_id.clone(), e.entries.clone()));
            Ok(())
        })
        .expect("episodes");
        let expected: Vec<(String, Vec<u64>)> = expected
            .into_iter()
            .map(|(g, e)| (g.clone(), e.clone()))
            .collect();
        assert_eq!(told, expected);
        // A failing consumer stops the tellers and its error comes back.
        let mut seen = 0;
        let stopped = p.for_each_episode(&reader, Timestamp(0), |_| {
            seen += 1;
            if seen == EPISODE_GROUP + 3 {
                return Err(QueryError::Read(ReadError::Damaged("stop here".into())));
            }
            Ok(())
        });
        assert!(
            matches!(stopped, Err(QueryError::Read(ReadError::Damaged(m))) if m == "stop here")
        );
        assert_eq!(seen, EPISODE_GROUP + 3);
    }

    #[test]
    fn a_leaf_at_the_last_index_is_damage_not_a_panic() {
        let leaf = idledger_proto::Entry {
            version: 1,
            seq: u64::MAX,
            prev_leaf_hash: [0; 32],
            received_at: Timestamp(i64::MIN),
            origin: Origin::Ledger,
            body: idledger_proto::entry::Body::System(
                idledger_proto::entry::SystemRecord::KeyAdded {
                    verifier_key: "k".into(),
                },
            ),
        }
        .encode();
        let view = EntryView::decode(&leaf).expect("a leaf");
        let mut p = Projections::default();
        assert!(
            matches!(p.apply(&view), Err(ReadError::Damaged(m)) if m.contains("last possible index"))
        );
        assert_eq!(next_seq(u64::MAX - 1).expect("fits"), u64::MAX);
    }

    #[test]
    fn spans_exist_only_for_strings_inside_the_chunk() {
        let chunk = b"xxgrant-7yy".to_vec();
        let inside = std::str::from_utf8(&chunk[2..9]).expect("utf8");
        let span = Span::of(&chunk, inside).expect("inside");
        assert_eq!(span.get(&chunk).expect("get"), "grant-7");
        let elsewhere = String::from("grant-7");
        assert!(Span::of(&chunk, &elsewhere).is_none());
        assert!(Span::of(&chunk[..5], inside).is_none(), "runs past the end");
        let empty_at_end = std::str::from_utf8(&chunk[11..]).expect("utf8");
        assert_eq!(
            Span::of(&chunk, empty_at_end)
                .expect("end")
                .get(&chunk)
                .expect("get"),
            ""
        );
    }
}
