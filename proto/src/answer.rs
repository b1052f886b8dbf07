//! The answers idledger gives about grants and access, computed from entries alone. The server
//! computes them from the ledger, and an auditor's offline verifier recomputes them from the
//! entries a proof bundle proves, with this same code: an answer that does not follow from its
//! proven entries is refused.

use crate::entry::Entry;
use crate::episode::{Episode, IdentityChange};
use crate::event::Family;
use crate::time::Timestamp;
use crate::view::EventView;
use serde::Serialize;

/// The events among entries (in index order), with their indexes.
pub fn events_of(entries: &[Entry]) -> Vec<(u64, EventView<'_>)> {
    entries
        .iter()
        .filter_map(|e| e.event().map(|ev| (e.seq, EventView::of(ev))))
        .collect()
}

/// The identity status changes among a subject's entries, for ending grants.
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

/// A grant's story and the plain answers to who approved it, why, and when access ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GrantAnswer {
    pub episode: Episode,
    pub who_approved: String,
    pub why: String,
    pub when_ended: String,
}

impl GrantAnswer {
    /// Tells the grant from its entries (in index order) and its subject's identity changes, as
    /// judged at `now`.
    pub fn tell(
        grant_id: &str,
        grant_entries: &[Entry],
        identity: &[IdentityChange],
        now: Timestamp,
    ) -> GrantAnswer {
        let episode = Episode::build(grant_id, &events_of(grant_entries), identity, now);
        GrantAnswer {
            who_approved: episode.who_approved(),
            why: episode.why(),
            when_ended: episode.when_ended(),
            episode,
        }
    }

    /// Whether the answer leans on an identity change (the grant ended when its subject was
    /// disabled or deleted): the subject's entries up to that change are then part of it.
    pub fn ended_by_identity(&self) -> Option<u64> {
        use crate::episode::EndKind;
        self.episode
            .end
            .as_ref()
            .filter(|e| matches!(e.kind, EndKind::IdentityDisabled | EndKind::IdentityDeleted))
            .and_then(|e| e.index)
    }
}

/// One grant that gave access at the asked time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub fn of(grant_id: String, ep: &Episode) -> AccessRow {
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
