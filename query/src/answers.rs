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
    let events: Vec<(u64, EventView<'_>)> = entries
        .iter()
        .filter_map(|e| e.event().map(|ev| (e.seq, EventView::of(ev))))
        .collect();
    let subject = events
        .first()
        .map(|(_, e)| e.subject.id.to_owned())
        .unwrap_or_default();
    let identity = match chain(reader, HeadKind::Subject, &subject) {
        Ok(h) => identity_changes(&h),
        Err(QueryError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let episode = Episode::build(grant_id, &events, &identity, now);
    Ok(GrantAnswer {
        who_approved: episode.who_approved(),
        why: episode.why(),
        when_ended: episode.when_ended(),
        episode,
        entries,
    })
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

/// Who had access to `resource` at `at`.
pub fn access_at(
    reader: &LedgerReader<'_>,
    resource: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<Vec<AccessRow>, QueryError> {
    let mut rows = Vec::new();
    for (grant_id, _) in reader.grants_for_resource(resource)? {
        let answer = grant(reader, &grant_id, now)?;
        let ep = &answer.episode;
        if ep.active_at(at) {
            rows.push(AccessRow {
                subject: ep
                    .subject
                    .as_ref()
                    .map(|s| s.id.clone())
                    .unwrap_or_default(),
                grant_id: grant_id.clone(),
                granted_at: ep.granted.as_ref().map(|g| g.time),
                approvers: ep.approvers(),
                expires_at: ep.expires_at,
                ends: ep.end.as_ref().map(|e| e.time),
            });
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
