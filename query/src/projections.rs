//! Projections rebuilt by replaying the log (event sourcing): identities, grants and credentials
//! as of the last applied entry, kept current by applying new entries as the log grows.
//!
//! This file holds the projected state and its read accessors. `replay` reads the log in
//! parallel chunks and applies them in order; `prepared` is what a replay worker hands over;
//! `apply` is how one entry changes the state; `episodes` tells grant episodes back from the log.

mod apply;
mod episodes;
mod prepared;
mod replay;
#[cfg(test)]
pub(crate) mod tests;

use crate::episode::IdentityChange;
use idledger_proto::Timestamp;
use idledger_proto::event::{CredentialKind, SubjectKind};
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
    /// The latest successful use of each credential and of each identity (use events: logins,
    /// credentials presented), for "was it used after it ended?". One record per credential or
    /// identity, however many uses.
    pub credential_uses: HashMap<String, LastUse>,
    pub identity_uses: HashMap<String, LastUse>,
}

/// The latest use of a credential or identity (by event time; the later entry on a tie) and
/// how many uses the log holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LastUse {
    pub time: Timestamp,
    pub index: u64,
    pub uses: u64,
}

impl LastUse {
    /// Notes one more use.
    pub(crate) fn note(slot: Option<&mut LastUse>, time: Timestamp, index: u64) -> Option<LastUse> {
        match slot {
            Some(last) => {
                last.uses = last.uses.saturating_add(1);
                if time >= last.time {
                    last.time = time;
                    last.index = index;
                }
                None
            }
            None => Some(LastUse {
                time,
                index,
                uses: 1,
            }),
        }
    }
}

impl Projections {
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
}
