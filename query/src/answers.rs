//! Answers read straight from the ledger by following back-links from an index head: an
//! identity's history, a grant's episode, and who had access to a resource at a time. Each can
//! come with a proof bundle.

use crate::episode::Episode;
use idledger_ledger::{HeadKind, LedgerReader, ReadError};
pub use idledger_proto::answer::AccessRow;
use idledger_proto::answer::{events_of, identity_changes};
use idledger_proto::bundle::claim::Claim;
use idledger_proto::bundle::{BUNDLE_FORMAT, ChainKind, ChainSpan, ProofBundle};
use idledger_proto::entry::{Body, Entry};
use idledger_proto::view::EventView;
use idledger_proto::{Seq, Timestamp, TreeSize};
use serde::Serialize;
use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap};

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
    /// The destination of a stream refused a write (a closed pipe, a full disk).
    #[error("cannot write the export: {0}")]
    Write(#[source] std::io::Error),
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

/// A grant's episode and the entries it was told from.
#[derive(Debug, Clone, Serialize)]
pub struct GrantAnswer {
    pub episode: Episode,
    pub who_approved: String,
    pub why: String,
    pub when_ended: String,
    pub entries: Vec<Entry>,
}

/// A grant told from the ledger, with what a proof of it needs: the grant's chain, and its
/// subject's chain up to the identity change that ended it (if one did).
struct Told {
    answer: idledger_proto::answer::GrantAnswer,
    grant_entries: Vec<Entry>,
    subject: String,
    subject_entries: Vec<Entry>,
}

impl Told {
    /// The entries and complete chains a proof of this grant's answer needs.
    fn proof_needs(&self, indexes: &mut BTreeSet<u64>, spans: &mut Vec<ChainSpan>) {
        indexes.extend(self.grant_entries.iter().map(|e| e.seq));
        if let Some(last) = self.grant_entries.last() {
            spans.push(ChainSpan {
                kind: ChainKind::Grant,
                id: self.answer.episode.grant_id.clone(),
                through: last.seq,
            });
        }
        if let Some(ended_at) = self.answer.ended_by_identity() {
            indexes.extend(
                self.subject_entries
                    .iter()
                    .map(|e| e.seq)
                    .take_while(|&i| i <= ended_at),
            );
            if !spans
                .iter()
                .any(|s| s.kind == ChainKind::Subject && s.id == self.subject)
            {
                spans.push(ChainSpan {
                    kind: ChainKind::Subject,
                    id: self.subject.clone(),
                    through: ended_at,
                });
            }
        }
    }
}

fn tell_grant(
    reader: &LedgerReader<'_>,
    grant_id: &str,
    now: Timestamp,
) -> Result<Told, QueryError> {
    let grant_entries = chain(reader, HeadKind::Grant, grant_id)?;
    let subject = subject_of(&events_of(&grant_entries));
    let subject_entries = subject_chain(reader, &subject)?;
    let answer = idledger_proto::answer::GrantAnswer::tell(
        grant_id,
        &grant_entries,
        &identity_changes(&subject_entries),
        now,
    );
    Ok(Told {
        answer,
        grant_entries,
        subject,
        subject_entries,
    })
}

pub fn grant(
    reader: &LedgerReader<'_>,
    grant_id: &str,
    now: Timestamp,
) -> Result<GrantAnswer, QueryError> {
    let told = tell_grant(reader, grant_id, now)?;
    Ok(GrantAnswer {
        episode: told.answer.episode,
        who_approved: told.answer.who_approved,
        why: told.answer.why,
        when_ended: told.answer.when_ended,
        entries: told.grant_entries,
    })
}

/// A grant's answer with a proof bundle of every entry it relies on, carrying the answer.
pub fn grant_proven(
    reader: &LedgerReader<'_>,
    grant_id: &str,
    now: Timestamp,
) -> Result<(GrantAnswer, ProofBundle), QueryError> {
    let told = tell_grant(reader, grant_id, now)?;
    let (mut indexes, mut spans) = (BTreeSet::new(), Vec::new());
    told.proof_needs(&mut indexes, &mut spans);
    let claim = Claim::grant(grant_id, now, &told.answer);
    let bundle = proven(reader, &indexes, spans, claim)?;
    Ok((
        GrantAnswer {
            episode: told.answer.episode,
            who_approved: told.answer.who_approved,
            why: told.answer.why,
            when_ended: told.answer.when_ended,
            entries: told.grant_entries,
        },
        bundle,
    ))
}

/// A history with a proof bundle of every entry in it, carrying the answer.
pub fn history_proven(
    reader: &LedgerReader<'_>,
    subject: &str,
) -> Result<(History, ProofBundle), QueryError> {
    let h = history(reader, subject)?;
    let indexes: BTreeSet<u64> = h.entries.iter().map(|e| e.seq).collect();
    let spans = h
        .entries
        .last()
        .map(|last| ChainSpan {
            kind: ChainKind::Subject,
            id: subject.to_owned(),
            through: last.seq,
        })
        .into_iter()
        .collect();
    let listed: Vec<u64> = indexes.iter().copied().collect();
    let bundle = proven(reader, &indexes, spans, Claim::history(subject, &listed))?;
    Ok((h, bundle))
}

/// A grant's subject: the one its first event names.
fn subject_of(events: &[(u64, EventView<'_>)]) -> String {
    events
        .first()
        .map(|(_, e)| e.subject.id.to_owned())
        .unwrap_or_default()
}

/// The entries about a subject (none if the ledger has no entries about it).
fn subject_chain(reader: &LedgerReader<'_>, subject: &str) -> Result<Vec<Entry>, QueryError> {
    match chain(reader, HeadKind::Subject, subject) {
        Ok(h) => Ok(h),
        Err(QueryError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
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
    Ok(access_told(reader, resource, at, now)?
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

/// Who had access, with a proof bundle of every grant that did (and of its subject's entries
/// up to an identity change that ended it), carrying the answer; no bundle when no grant gave
/// access (a bundle proves entries, and an empty answer has none).
pub fn access_proven(
    reader: &LedgerReader<'_>,
    resource: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<(Vec<AccessRow>, Option<ProofBundle>), QueryError> {
    let told = access_told(reader, resource, at, now)?;
    let (mut indexes, mut spans) = (BTreeSet::new(), Vec::new());
    for (_, t) in &told {
        t.proof_needs(&mut indexes, &mut spans);
    }
    let rows: Vec<AccessRow> = told.into_iter().map(|(row, _)| row).collect();
    if indexes.is_empty() {
        return Ok((rows, None));
    }
    let claim = Claim::access(resource, at, now, &rows);
    let bundle = proven(reader, &indexes, spans, claim)?;
    Ok((rows, Some(bundle)))
}

/// The rows of the grants active at `at`, each with its story, in order of grant id.
fn access_told(
    reader: &LedgerReader<'_>,
    resource: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<Vec<(AccessRow, Told)>, QueryError> {
    let mut rows = Vec::new();
    let mut subjects: HashMap<String, Vec<Entry>> = HashMap::new();
    for (grant_id, _) in reader.grants_for_resource(resource)? {
        let grant_entries = chain(reader, HeadKind::Grant, &grant_id)?;
        let events = events_of(&grant_entries);
        if !Episode::build(&grant_id, &events, &[], now).active_at(at) {
            continue;
        }
        let subject = subject_of(&events);
        let subject_entries = match subjects.entry(subject.clone()) {
            Slot::Occupied(o) => o.into_mut(),
            Slot::Vacant(v) => {
                let entries = subject_chain(reader, v.key())?;
                v.insert(entries)
            }
        };
        let answer = idledger_proto::answer::GrantAnswer::tell(
            &grant_id,
            &grant_entries,
            &identity_changes(subject_entries),
            now,
        );
        if answer.episode.active_at(at) {
            let row = AccessRow::of(grant_id.clone(), &answer.episode);
            let told = Told {
                answer,
                grant_entries,
                subject,
                subject_entries: subject_entries.clone(),
            };
            rows.push((row, told));
        }
    }
    rows.sort_by(|a, b| a.0.grant_id.cmp(&b.0.grant_id));
    Ok(rows)
}

/// A version 2 proof bundle of `indexes` under the latest checkpoint, with the chains they
/// complete, the answer they support, and the key records from the log's first key to the
/// checkpoint's.
fn proven(
    reader: &LedgerReader<'_>,
    indexes: &BTreeSet<u64>,
    chains: Vec<ChainSpan>,
    claim: Claim,
) -> Result<ProofBundle, QueryError> {
    let (size, note) = reader.latest_checkpoint_cosigned()?;
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
        key_records: key_record_proofs(reader, size)?,
        chain: None,
        chains,
        claim: Some(claim),
        proofs,
    })
}

/// tlog-proofs of the log's key records after its genesis (below `size`), each under the first
/// checkpoint that covers it: signed by the keys active before the record and after it, so an
/// auditor holding any earlier key follows custody to the checkpoint's keys.
fn key_record_proofs(reader: &LedgerReader<'_>, size: TreeSize) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    for index in reader
        .key_records()?
        .into_iter()
        .filter(|&i| i > 0 && i < size.0)
    {
        let (covering, note) = reader.checkpoint_covering(Seq(index))?;
        out.push(
            reader
                .tlog_proof_under(Seq(index), covering, note)?
                .to_text(),
        );
    }
    Ok(out)
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
