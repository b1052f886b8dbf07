//! The chain of custody of a log's signing keys, as the log states it (`Genesis`, `KeyAdded`,
//! `KeyRetired` records) and as an auditor may trust it.
//!
//! The log's statement (`KeySchedule`) says which keys must sign each checkpoint: every key
//! active when the previous checkpoint was signed and every key active now, so during a
//! rotation checkpoints carry both signatures, and a retiring key signs the checkpoint that
//! covers its retirement.
//!
//! The auditor's trust (`Custody`) starts with the keys the auditor holds and nothing else. A
//! checkpoint signed by a trusted key vouches for every entry below its size, so the key records
//! it covers take effect for the auditor then, and only then: a key the log adds becomes trusted
//! once a checkpoint covering its `KeyAdded` is signed by a key already trusted (a key never
//! authorises itself), and a retired key stops being trusted once its `KeyRetired` is covered.

use crate::entry::SystemRecord;
use crate::note::VerifierKey;

/// A change to the set of signing keys, recorded in the log at an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChange {
    Added(VerifierKey),
    Retired(VerifierKey),
}

/// Why a key record breaks the rules of custody.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("entry 0 must be the genesis record")]
    NoGenesis,
    #[error("a genesis record at entry {0}; only entry 0 may be one")]
    GenesisAgain(u64),
    #[error("entry {index}: the genesis record names origin `{found}`, the log is `{expected}`")]
    GenesisOrigin {
        index: u64,
        expected: String,
        found: String,
    },
    #[error("entry {index}: `{text}` is not a verifier key ({why})")]
    BadKey {
        index: u64,
        text: String,
        why: String,
    },
    #[error(
        "entry {index}: the key {key} is named `{name}`, but keys of this log are named `{origin}`"
    )]
    NameNotOrigin {
        index: u64,
        key: String,
        name: String,
        origin: String,
    },
    #[error("entry {index}: adds {key}, which is already active")]
    AlreadyActive { index: u64, key: String },
    #[error("entry {index}: retires {key}, which is not active")]
    NotActive { index: u64, key: String },
    #[error("entry {index}: retires {key}, the last active key")]
    LastKey { index: u64, key: String },
}

/// The keys a log says sign it, record by record.
#[derive(Clone, Debug)]
pub struct KeySchedule {
    origin: String,
    /// Every key the log has named, in order.
    named: Vec<VerifierKey>,
    active: Vec<VerifierKey>,
    active_at_last_checkpoint: Vec<VerifierKey>,
}

impl KeySchedule {
    pub fn new(origin: &str) -> KeySchedule {
        KeySchedule {
            origin: origin.to_owned(),
            named: Vec::new(),
            active: Vec::new(),
            active_at_last_checkpoint: Vec::new(),
        }
    }

    /// Applies the system record at entry `index`; returns the key change it makes (none for
    /// records about something else).
    pub fn apply(
        &mut self,
        index: u64,
        record: &SystemRecord,
    ) -> Result<Option<KeyChange>, ScheduleError> {
        let parse = |text: &str| {
            let key = VerifierKey::parse(text).map_err(|e| ScheduleError::BadKey {
                index,
                text: text.to_owned(),
                why: e.to_string(),
            })?;
            if key.name() != self.origin {
                return Err(ScheduleError::NameNotOrigin {
                    index,
                    key: key.to_string(),
                    name: key.name().to_owned(),
                    origin: self.origin.clone(),
                });
            }
            Ok(key)
        };
        match record {
            SystemRecord::Genesis { .. } if index != 0 => Err(ScheduleError::GenesisAgain(index)),
            SystemRecord::Genesis {
                origin,
                verifier_key,
            } => {
                if *origin != self.origin {
                    return Err(ScheduleError::GenesisOrigin {
                        index,
                        expected: self.origin.clone(),
                        found: origin.clone(),
                    });
                }
                let key = parse(verifier_key)?;
                self.named.push(key.clone());
                self.active = vec![key.clone()];
                Ok(Some(KeyChange::Added(key)))
            }
            SystemRecord::KeyAdded { verifier_key } => {
                let key = parse(verifier_key)?;
                if self.active.contains(&key) {
                    return Err(ScheduleError::AlreadyActive {
                        index,
                        key: key.to_string(),
                    });
                }
                if !self.named.contains(&key) {
                    self.named.push(key.clone());
                }
                self.active.push(key.clone());
                Ok(Some(KeyChange::Added(key)))
            }
            SystemRecord::KeyRetired { verifier_key } => {
                let key = parse(verifier_key)?;
                let Some(at) = self.active.iter().position(|k| *k == key) else {
                    return Err(ScheduleError::NotActive {
                        index,
                        key: key.to_string(),
                    });
                };
                if self.active.len() == 1 {
                    return Err(ScheduleError::LastKey {
                        index,
                        key: key.to_string(),
                    });
                }
                self.active.remove(at);
                Ok(Some(KeyChange::Retired(key)))
            }
            SystemRecord::OffsetsUnavailable { .. } | SystemRecord::OutOfScope { .. } => Ok(None),
        }
    }

    /// Every key the log has named (to match signature lines against).
    pub fn named(&self) -> &[VerifierKey] {
        &self.named
    }

    /// The keys active now.
    pub fn active(&self) -> &[VerifierKey] {
        &self.active
    }

    /// The keys that must sign a checkpoint at this point: those active at the last checkpoint
    /// and those active now.
    pub fn required(&self) -> Vec<VerifierKey> {
        let mut keys = self.active_at_last_checkpoint.clone();
        for k in &self.active {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        keys
    }

    /// A checkpoint was signed here: from now on, the keys active now are the previous ones.
    pub fn checkpoint_signed(&mut self) {
        self.active_at_last_checkpoint = self.active.clone();
    }
}

/// The keys an auditor trusts as a log is read in order.
#[derive(Clone, Debug)]
pub struct Custody {
    trusted: Vec<VerifierKey>,
    /// Key changes not yet covered by a trusted checkpoint, in index order.
    pending: Vec<(u64, KeyChange)>,
}

impl Custody {
    /// Trust starts with the auditor's own keys and nothing the log says.
    pub fn new(auditor_keys: &[VerifierKey]) -> Custody {
        Custody {
            trusted: auditor_keys.to_vec(),
            pending: Vec::new(),
        }
    }

    /// The log recorded `change` at `index` (it takes effect once covered by a trusted
    /// checkpoint).
    pub fn record(&mut self, index: u64, change: KeyChange) {
        self.pending.push((index, change));
    }

    /// Whether any of `signers` (keys whose valid signature a checkpoint of `size` carries) is
    /// trusted. If so, the checkpoint vouches for every entry below `size`, and the key changes
    /// recorded there take effect.
    pub fn checkpoint(&mut self, size: u64, signers: &[VerifierKey]) -> bool {
        if !signers.iter().any(|k| self.trusted.contains(k)) {
            return false;
        }
        let covered = self.pending.partition_point(|(index, _)| *index < size);
        for (_, change) in self.pending.drain(..covered) {
            match change {
                KeyChange::Added(k) => {
                    if !self.trusted.contains(&k) {
                        self.trusted.push(k);
                    }
                }
                KeyChange::Retired(k) => self.trusted.retain(|t| *t != k),
            }
        }
        true
    }

    pub fn trusted(&self) -> &[VerifierKey] {
        &self.trusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    const ORIGIN: &str = "log.example/a";

    fn key(seed: u8) -> VerifierKey {
        NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32]))
            .expect("valid name")
            .verifier()
            .clone()
    }

    fn genesis(k: &VerifierKey) -> SystemRecord {
        SystemRecord::Genesis {
            origin: ORIGIN.into(),
            verifier_key: k.to_string(),
        }
    }

    #[test]
    fn rotation_requires_both_keys_until_the_checkpoint_after_retirement() {
        let (old, new) = (key(1), key(2));
        let mut s = KeySchedule::new(ORIGIN);
        s.apply(0, &genesis(&old)).expect("genesis");
        assert_eq!(s.required(), vec![old.clone()]);
        s.checkpoint_signed();
        let added = SystemRecord::KeyAdded {
            verifier_key: new.to_string(),
        };
        s.apply(5, &added).expect("add");
        assert_eq!(s.required(), vec![old.clone(), new.clone()]);
        s.checkpoint_signed();
        let retired = SystemRecord::KeyRetired {
            verifier_key: old.to_string(),
        };
        s.apply(9, &retired).expect("retire");
        // The retiring key still signs the checkpoint that covers its retirement.
        assert_eq!(s.required(), vec![old.clone(), new.clone()]);
        s.checkpoint_signed();
        assert_eq!(s.required(), vec![new.clone()]);
    }

    #[test]
    fn records_that_break_custody_are_refused() {
        let (a, b) = (key(1), key(2));
        let other_name = NoteSigner::new("log.example/b", SigningKey::from_bytes(&[3; 32]))
            .expect("name")
            .verifier()
            .clone();
        let cases: Vec<(Vec<SystemRecord>, ScheduleError)> = vec![
            (
                vec![genesis(&a), genesis(&b)],
                ScheduleError::GenesisAgain(1),
            ),
            (
                vec![SystemRecord::Genesis {
                    origin: "log.example/b".into(),
                    verifier_key: a.to_string(),
                }],
                ScheduleError::GenesisOrigin {
                    index: 0,
                    expected: ORIGIN.into(),
                    found: "log.example/b".into(),
                },
            ),
            (
                vec![
                    genesis(&a),
                    SystemRecord::KeyAdded {
                        verifier_key: other_name.to_string(),
                    },
                ],
                ScheduleError::NameNotOrigin {
                    index: 1,
                    key: other_name.to_string(),
                    name: "log.example/b".into(),
                    origin: ORIGIN.into(),
                },
            ),
            (
                vec![
                    genesis(&a),
                    SystemRecord::KeyRetired {
                        verifier_key: b.to_string(),
                    },
                ],
                ScheduleError::NotActive {
                    index: 1,
                    key: b.to_string(),
                },
            ),
            (
                vec![
                    genesis(&a),
                    SystemRecord::KeyRetired {
                        verifier_key: a.to_string(),
                    },
                ],
                ScheduleError::LastKey {
                    index: 1,
                    key: a.to_string(),
                },
            ),
            (
                vec![
                    genesis(&a),
                    SystemRecord::KeyAdded {
                        verifier_key: a.to_string(),
                    },
                ],
                ScheduleError::AlreadyActive {
                    index: 1,
                    key: a.to_string(),
                },
            ),
        ];
        for (records, want) in cases {
            let mut s = KeySchedule::new(ORIGIN);
            let got = records
                .iter()
                .enumerate()
                .map(|(i, r)| s.apply(i as u64, r))
                .find_map(Result::err);
            assert_eq!(got, Some(want), "{records:?}");
        }
    }

    #[test]
    fn a_key_is_trusted_only_once_a_trusted_checkpoint_covers_its_addition() {
        let (old, new, attacker) = (key(1), key(2), key(3));
        let mut forged = Custody::new(std::slice::from_ref(&old));
        forged.record(0, KeyChange::Added(old.clone()));
        assert!(forged.checkpoint(1, std::slice::from_ref(&old)));
        // A key the log adds does not vouch for the checkpoint covering its own addition, nor
        // for any later one.
        forged.record(4, KeyChange::Added(attacker.clone()));
        assert!(!forged.checkpoint(5, std::slice::from_ref(&attacker)));
        assert!(!forged.checkpoint(9, std::slice::from_ref(&attacker)));
        assert_eq!(forged.trusted(), std::slice::from_ref(&old));

        let mut c = Custody::new(std::slice::from_ref(&old));
        c.record(0, KeyChange::Added(old.clone()));
        assert!(c.checkpoint(1, std::slice::from_ref(&old)));
        // Added under a checkpoint the old key signs, the new key is trusted from then on.
        c.record(7, KeyChange::Added(new.clone()));
        assert!(c.checkpoint(8, &[old.clone(), new.clone()]));
        assert!(c.trusted().contains(&new));
        c.record(9, KeyChange::Retired(old.clone()));
        assert!(c.checkpoint(10, &[old.clone(), new.clone()]));
        assert_eq!(c.trusted(), std::slice::from_ref(&new));
        assert!(!c.checkpoint(11, std::slice::from_ref(&old)));
    }

    #[test]
    fn an_auditor_holding_the_newer_key_is_vouched_for_by_its_checkpoints() {
        let (old, new) = (key(1), key(2));
        let mut c = Custody::new(std::slice::from_ref(&new));
        c.record(0, KeyChange::Added(old.clone()));
        assert!(!c.checkpoint(1, std::slice::from_ref(&old)));
        c.record(3, KeyChange::Added(new.clone()));
        assert!(c.checkpoint(4, &[old.clone(), new.clone()]));
        // The checkpoint the new key signed covers the genesis record: the old key is vouched for.
        assert!(c.trusted().contains(&old));
    }
}
