//! Answers read straight from the ledger by following back-links from an index head: an
//! identity's history, a grant's episode, and who had access to a resource at a time. Each can
//! come with a proof bundle.

use crate::episode::{Episode, IdentityChange};
use idledger_ledger::{HeadKind, LedgerReader, ReadError};
use idledger_proto::bundle::{BUNDLE_FORMAT, Chain, ChainKind, ProofBundle};
use idledger_proto::entry::{Body, Entry};
use idledger_proto::event::Family;
use idledger_proto::view::EventView;
use idledger_proto::{Seq, Timestamp};
use serde::Serialize;
use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("no entries about {kind} `{id}`")]
    NotFound { kind: &'static str, id: String },
    #[error("broken back-link: entry {index} should be about {kind} `{id}`")]
    BrokenLink {
        index: u64,
        kind: &'static str,
        id: String,
    },
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("cannot encode the answer as JSON: {0}")]
    Encode(String),
}

/// Every entry about one identity, oldest first, with the back-link check.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub subject: String,
    pub entries: Vec<Entry>,
    /// Each entry links to the one before it and the first has no earlier link.
    pub gap_free: bool,
}

fn link_of(entry: &Entry, kind: HeadKind) -> Option<u64> {
    match &entry.body {
        Body::Event(e) => match kind {
            HeadKind::Subject => e.links.prev_subject,
            HeadKind::Grant => e.links.prev_grant,
            HeadKind::Credential => e.links.prev_credential,
        },
        _ => None,
    }
}

fn about(entry: &Entry, kind: HeadKind, id: &str) -> bool {
    entry.event().is_some_and(|e| match kind {
        HeadKind::Subject => e.subject.id == id,
        HeadKind::Grant => e.grant_id.as_deref() == Some(id),
        HeadKind::Credential => e.credential.as_ref().is_some_and(|c| c.id == id),
    })
}

fn kind_name(kind: HeadKind) -> &'static str {
    match kind {
        HeadKind::Subject => "identity",
        HeadKind::Grant => "grant",
        HeadKind::Credential => "credential",
    }
}

/// Follows back-links from the head of `id` to its first entry. Only entries below `size` are
/// used, so an answer is consistent with one checkpoint.
pub fn chain(
    reader: &LedgerReader<'_>,
    kind: HeadKind,
    id: &str,
) -> Result<Vec<Entry>, QueryError> {
    let size = reader.size()?;
    let mut next = reader.head(kind, id)?.map(|s| s.0);
    let mut out = Vec::new();
    while let Some(index) = next {
        if index >= size.0 {
            return Err(QueryError::BrokenLink {
                index,
                kind: kind_name(kind),
                id: id.to_owned(),
            });
        }
        let entry = reader.entry(Seq(index))?;
        if !about(&entry, kind, id) {
            return Err(QueryError::BrokenLink {
                index,
                kind: kind_name(kind),
                id: id.to_owned(),
            });
        }
        next = link_of(&entry, kind);
        if next.is_some_and(|n| n >= index) {
            return Err(QueryError::BrokenLink {
                index,
                kind: kind_name(kind),
                id: id.to_owned(),
            });
        }
        out.push(entry);
    }
    if out.is_empty() {
        return Err(QueryError::NotFound {
            kind: kind_name(kind),
            id: id.to_owned(),
        });
    }
    out.reverse();
    Ok(out)
}

pub fn history(reader: &LedgerReader<'_>, subject: &str) -> Result<History, QueryError> {
    let entries = chain(reader, HeadKind::Subject, subject)?;
    let gap_free = entries
        .first()
        .is_some_and(|e| link_of(e, HeadKind::Subject).is_none())
        && entries
            .windows(2)
            .all(|w| link_of(&w[1], HeadKind::Subject) == Some(w[0].seq));
    Ok(History {
        subject: subject.to_owned(),
        entries,
        gap_free,
    })
}

/// The identity status changes of a subject, for ending grants.
pub fn identity_changes(entries: &[Entry]) -> Vec<IdentityChange> {
    entries
        .iter()
        .filter_map(|en| {
            let e = en.event()?;
            (e.kind.family() == Family::Identity).then(|| IdentityChange {
                index: en.seq,
                time: e.time,
                kind: e.kind,
                actor: e.actor.as_ref().map(|a| a.id.clone()),
                reason: e.reason.clone(),
            })
        })
        .collect()
}

/// A grant's episode and the entries it was told from.
#[derive(Debug, Clone, Serialize)]
pub struct GrantAnswer {
    pub episode: Episode,
    pub who_approved: String,
    pub why: String,
    pub when_ended: String,
    pub entries: Vec<Entry>,
}

pub fn grant(
    reader: &LedgerReader<'_>,
    grant_id: &str,
    now: Timestamp,
) -> Result<GrantAnswer, QueryError> {
    let entries = chain(reader, HeadKind::Grant, grant_id)?;
    let events = events_of(&entries);
    let identity = subject_identity(reader, &subject_of(&events))?;
    let episode = Episode::build(grant_id, &events, &identity, now);
    Ok(GrantAnswer {
        who_approved: episode.who_approved(),
        why: episode.why(),
        when_ended: episode.when_ended(),
        episode,
        entries,
    })
}

/// The events among a chain's entries, with their indexes.
fn events_of(entries: &[Entry]) -> Vec<(u64, EventView<'_>)> {
    entries
        .iter()
        .filter_map(|e| e.event().map(|ev| (e.seq, EventView::of(ev))))
        .collect()
}

/// A grant's subject: the one its first event names.
fn subject_of(events: &[(u64, EventView<'_>)]) -> String {
    events
        .first()
        .map(|(_, e)| e.subject.id.to_owned())
        .unwrap_or_default()
}

/// The identity status changes of a subject (none if the ledger has no entries about it).
fn subject_identity(
    reader: &LedgerReader<'_>,
    subject: &str,
) -> Result<Vec<IdentityChange>, QueryError> {
    match chain(reader, HeadKind::Subject, subject) {
        Ok(h) => Ok(identity_changes(&h)),
        Err(QueryError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// One grant that gave access at the asked time.
#[derive(Debug, Clone, Serialize)]
pub struct AccessRow {
    pub subject: String,
    pub grant_id: String,
    pub granted_at: Option<Timestamp>,
    pub approvers: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub ends: Option<Timestamp>,
}

impl AccessRow {
    /// The row of a grant told as `ep`.
    fn of(grant_id: String, ep: &Episode) -> AccessRow {
        AccessRow {
            subject: ep
                .subject
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            grant_id,
            granted_at: ep.granted.as_ref().map(|g| g.time),
            approvers: ep.approvers(),
            expires_at: ep.expires_at,
            ends: ep.end.as_ref().map(|e| e.time),
        }
    }
}

/// Who had access to `resource` at `at`.
///
/// A subject's identity changes can only end its grants (earlier), never extend them: a grant
/// not active at `at` by its own entries is not active at all, and its subject's history is not
/// read. Each subject's history is read at most once per answer.
pub fn access_at(
    reader: &LedgerReader<'_>,
    resource: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<Vec<AccessRow>, QueryError> {
    let mut rows = Vec::new();
    let mut identities: HashMap<String, Vec<IdentityChange>> = HashMap::new();
    for (grant_id, _) in reader.grants_for_resource(resource)? {
        let entries = chain(reader, HeadKind::Grant, &grant_id)?;
        let events = events_of(&entries);
        if !Episode::build(&grant_id, &events, &[], now).active_at(at) {
            continue;
        }
        let subject = subject_of(&events);
        let identity = match identities.entry(subject) {
            Slot::Occupied(o) => o.into_mut(),
            Slot::Vacant(v) => {
                let changes = subject_identity(reader, v.key())?;
                v.insert(changes)
            }
        };
        let ep = Episode::build(&grant_id, &events, identity, now);
        if ep.active_at(at) {
            rows.push(AccessRow::of(grant_id.clone(), &ep));
        }
    }
    Ok(rows)
}

/// A proof bundle for entries (in index order) under the latest checkpoint, naming the chain
/// they form.
pub fn bundle(
    reader: &LedgerReader<'_>,
    indexes: &[u64],
    chain: Option<(ChainKind, &str)>,
) -> Result<ProofBundle, QueryError> {
    let (size, note) = reader.latest_checkpoint()?;
    if let Some(&i) = indexes.iter().find(|&&i| i >= size.0) {
        return Err(QueryError::BadRequest(format!(
            "entry {i} is not yet covered by a checkpoint"
        )));
    }
    let seqs: Vec<Seq> = indexes.iter().map(|&i| Seq(i)).collect();
    let proofs = reader
        .tlog_proofs_under(&seqs, size, &note)?
        .iter()
        .map(|p| p.to_text())
        .collect();
    Ok(ProofBundle {
        format: BUNDLE_FORMAT.to_owned(),
        checkpoint: note,
        chain: chain.map(|(kind, id)| Chain {
            kind,
            id: id.to_owned(),
        }),
        proofs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::tests::mixed_ledger;
    use idledger_ledger::ReadOnlyLedger;

    /// The answer as `access_at` gave it before it skipped work: every grant of the resource
    /// told in full, with its subject's identity changes.
    fn access_by_full_stories(
        reader: &LedgerReader<'_>,
        resource: &str,
        at: Timestamp,
        now: Timestamp,
    ) -> Vec<AccessRow> {
        let mut rows = Vec::new();
        for (grant_id, _) in reader.grants_for_resource(resource).expect("grants") {
            let ep = grant(reader, &grant_id, now).expect("grant").episode;
            if ep.active_at(at) {
                rows.push(AccessRow::of(grant_id, &ep));
            }
        }
        rows
    }

    #[test]
    fn access_at_equals_telling_every_grant_in_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = mixed_ledger(dir.path(), 2_000);
        let ro = ReadOnlyLedger::open(&path).expect("open");
        let reader = ro.reader();
        let now = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").expect("time");
        let (mut rows_seen, mut ended_by_identity) = (0, 0);
        for resource in [
            "db-0:read",
            "db-1:read",
            "db-2:read",
            "db-3:read",
            "db-9:read",
        ] {
            for minute in (0..24 * 60).step_by(47) {
                let at = Timestamp::parse_rfc3339(&format!(
                    "2026-03-01T{:02}:{:02}:30Z",
                    minute / 60,
                    minute % 60
                ))
                .expect("time");
                let fast = access_at(&reader, resource, at, now).expect("access");
                let reference = access_by_full_stories(&reader, resource, at, now);
                assert_eq!(
                    serde_json::json!(fast),
                    serde_json::json!(reference),
                    "{resource} at {at:?}"
                );
                rows_seen += reference.len();
                // The workload must hold grants that only an identity change ends, or this
                // test would not see the shortcut's one risk.
                for (grant_id, _) in reader.grants_for_resource(resource).expect("grants") {
                    let entries = chain(&reader, HeadKind::Grant, &grant_id).expect("chain");
                    let events = events_of(&entries);
                    let alone = Episode::build(&grant_id, &events, &[], now).active_at(at);
                    let full = grant(&reader, &grant_id, now).expect("grant").episode;
                    ended_by_identity += usize::from(alone && !full.active_at(at));
                }
            }
        }
        assert!(rows_seen > 100, "{rows_seen} rows");
        assert!(
            ended_by_identity > 10,
            "{ended_by_identity} grants ended by identity"
        );
    }
}
