//! How one entry changes the projections: identity events (status, owner, attributes and the
//! change history), access events (a grant's entries) and credential events (a credential's
//! life), whether the entry arrives as a full view or as a replay worker's fact.

use super::prepared::Fact;
use super::{CredentialState, Identity, IdentityStatus, LastUse, Projections};
use crate::episode::IdentityChange;
use idledger_ledger::ReadError;
use idledger_proto::Timestamp;
use idledger_proto::event::{CredentialKind, EventType, Family, SubjectKind};
use idledger_proto::view::{BodyView, EntryView, EventView};
use std::collections::BTreeMap;

/// A credential event as the credentials projection needs it, taken from a full view or from a
/// replay worker's fact alike.
struct CredentialEvent<'a> {
    /// The entry's index.
    index: u64,
    kind: EventType,
    time: Timestamp,
    /// The identity the credential belongs to.
    subject: &'a str,
    credential_id: &'a str,
    credential_kind: CredentialKind,
    expires_at: Option<Timestamp>,
}

impl Projections {
    /// Applies one entry.
    pub(super) fn apply(&mut self, entry: &EntryView<'_>) -> Result<(), ReadError> {
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
    pub(super) fn apply_fact(&mut self, f: &Fact, bytes: &[u8]) -> Result<(), ReadError> {
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
                    self.apply_credential(&CredentialEvent {
                        index: f.seq,
                        kind: f.kind,
                        time: f.time,
                        subject,
                        credential_id: c.get(bytes)?,
                        credential_kind: kind,
                        expires_at: f.expires_at,
                    });
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
        if !e.outcome.is_success() || e.kind.is_use() {
            // Evidence, not state: a failed operation changed nothing, and a use (a login, a
            // credential presented) is no lifecycle change (docs/EVENTS.md); a use is noted for
            // "was it used after it ended?".
            self.events = self.events.saturating_add(1);
            if e.outcome.is_success() {
                self.note_use(index, e);
            }
            return;
        }
        self.touch_identity(e.subject.id, e.subject.kind);
        match e.kind.family() {
            Family::Identity => self.apply_identity_event(index, e),
            Family::Access => {
                if let Some(g) = e.grant_id {
                    self.add_grant_entry(g, index);
                }
            }
            Family::Credential => {
                if let Some(c) = &e.credential {
                    self.apply_credential(&CredentialEvent {
                        index,
                        kind: e.kind,
                        time: e.time,
                        subject: e.subject.id,
                        credential_id: c.id,
                        credential_kind: c.kind,
                        expires_at: e.expires_at,
                    });
                }
            }
        }
    }

    /// Notes a successful use of the subject and of the credential it presented.
    fn note_use(&mut self, index: u64, e: &EventView<'_>) {
        if let Some(new) = LastUse::note(self.identity_uses.get_mut(e.subject.id), e.time, index) {
            self.identity_uses.insert(e.subject.id.to_owned(), new);
        }
        if let Some(c) = &e.credential
            && let Some(new) = LastUse::note(self.credential_uses.get_mut(c.id), e.time, index)
        {
            self.credential_uses.insert(c.id.to_owned(), new);
        }
    }

    /// Applies an identity event to its (already touched) identity and its change history.
    fn apply_identity_event(&mut self, index: u64, e: &EventView<'_>) {
        let identity = self
            .identities
            .get_mut(e.subject.id)
            .expect("touched by the caller");
        for (k, v) in &e.attributes {
            identity.attributes.insert((*k).to_owned(), v.to_string());
        }
        if let Some(owner) = e.owner {
            identity.owner = Some(owner.to_owned());
        }
        let status = match e.kind {
            EventType::IdentityDisabled => Some(IdentityStatus::Disabled),
            EventType::IdentityDeleted => Some(IdentityStatus::Deleted),
            EventType::IdentityEnabled | EventType::IdentityCreated => Some(IdentityStatus::Active),
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

    fn apply_credential(&mut self, e: &CredentialEvent<'_>) {
        if !self.credentials.contains_key(e.credential_id) {
            self.credentials.insert(
                e.credential_id.to_owned(),
                CredentialState {
                    id: e.credential_id.to_owned(),
                    kind: e.credential_kind,
                    subject: e.subject.to_owned(),
                    issued_at: None,
                    rotations: Vec::new(),
                    revoked_at: None,
                    expired_at: None,
                    expires_at: None,
                    last_index: e.index,
                },
            );
        }
        let state = self
            .credentials
            .get_mut(e.credential_id)
            .expect("inserted above");
        state.last_index = e.index;
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

/// The index after `seq`: a leaf claiming the last index a `u64` holds has none, and is damage,
/// not a reason to panic.
pub(super) fn next_seq(seq: u64) -> Result<u64, ReadError> {
    seq.checked_add(1)
        .ok_or_else(|| ReadError::Damaged(format!("entry {seq} claims the last possible index")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idledger_proto::entry::Origin;

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
}
