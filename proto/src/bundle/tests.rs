//! Bundles built in memory from a small log (no ledger): what a genuine one proves, and every
//! change an attacker could make to one (a dropped or foreign proof, a chain cut short, an
//! answer that the entries do not give, keys of another log) refused with its reason. With
//! `IDLEDGER_BLESS_SEEDS=1` the genuine bundles are written to fuzz/seeds/bundle.

use super::claim::Claim;
use super::*;
use crate::answer::{AccessRow, GrantAnswer, identity_changes};
use crate::checkpoint::{Checkpoint, Extensions};
use crate::decode_event;
use crate::entry::{BackLinks, EventEntry, FORMAT_VERSION, Origin};
use crate::merkle::inclusion_proof;
use crate::merkle::reference::MemoryTree;
use crate::note::{NoteSigner, sign_note};
use crate::time::Timestamp;
use crate::tree_size::{Seq, TreeSize};
use ed25519_dalek::SigningKey;
use std::collections::HashMap;

pub(crate) const ORIGIN: &str = "bundle.example/log";

/// The log's keys, deterministic so the fuzz target knows them: the first, and the one it
/// rotates to.
pub(crate) fn signer(n: u8) -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[n; 32])).expect("valid name")
}

/// A small log: genesis, a grant to alice requested, approved and granted, her identity
/// disabled (ending it), a second grant to bob still active, and a key rotation.
pub(crate) struct Log {
    pub entries: Vec<Entry>,
    tree: MemoryTree,
    /// Signed checkpoint notes by size.
    notes: HashMap<u64, String>,
}

fn event_json(id: &str, kind: &str, subject: &str, grant: Option<&str>, time: &str) -> String {
    let grant = grant
        .map(|g| format!(r#","grant_id":"{g}","resource":"db:read""#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"{id}","source":"idp","type":"{kind}","time":"{time}","actor":{{"id":"carol","kind":"human"}},"subject":{{"id":"{subject}","kind":"human"}},"reason":"on call"{grant}}}"#
    )
}

impl Log {
    pub(crate) fn new() -> Log {
        let (first, second) = (signer(1), signer(2));
        let mut log = Log {
            entries: Vec::new(),
            tree: MemoryTree::default(),
            notes: HashMap::new(),
        };
        let mut heads: HashMap<String, u64> = HashMap::new();
        log.push_system(SystemRecord::Genesis {
            origin: ORIGIN.into(),
            verifier_key: first.verifier().to_string(),
        });
        log.sign(&[&first]);
        let steps = [
            (
                "e1",
                "access.requested",
                "alice",
                Some("g1"),
                "2026-01-01T09:00:00Z",
            ),
            (
                "e2",
                "access.approved",
                "alice",
                Some("g1"),
                "2026-01-01T09:05:00Z",
            ),
            (
                "e3",
                "access.granted",
                "alice",
                Some("g1"),
                "2026-01-01T09:06:00Z",
            ),
            (
                "e4",
                "access.requested",
                "bob",
                Some("g2"),
                "2026-01-01T10:00:00Z",
            ),
        ];
        for (id, kind, subject, grant, time) in steps {
            log.push_event(&event_json(id, kind, subject, grant, time), &mut heads);
        }
        log.sign(&[&first]);
        log.push_system(SystemRecord::KeyAdded {
            verifier_key: second.verifier().to_string(),
        });
        log.sign(&[&first, &second]);
        let steps = [
            (
                "e5",
                "access.approved",
                "bob",
                Some("g2"),
                "2026-01-01T10:05:00Z",
            ),
            (
                "e6",
                "identity.disabled",
                "alice",
                None,
                "2026-01-02T00:00:00Z",
            ),
            (
                "e7",
                "access.granted",
                "bob",
                Some("g2"),
                "2026-01-01T10:06:00Z",
            ),
        ];
        for (id, kind, subject, grant, time) in steps {
            log.push_event(&event_json(id, kind, subject, grant, time), &mut heads);
        }
        log.push_system(SystemRecord::KeyRetired {
            verifier_key: first.verifier().to_string(),
        });
        log.sign(&[&first, &second]);
        log.push_event(
            &event_json(
                "e8",
                "identity.updated",
                "bob",
                None,
                "2026-01-03T00:00:00Z",
            ),
            &mut heads,
        );
        log.sign(&[&second]);
        log
    }

    fn push(&mut self, origin: Origin, body: Body) {
        let seq = self.entries.len() as u64;
        let prev = self
            .entries
            .last()
            .map_or([0; 32], |e| leaf_hash(&e.encode()).0);
        let entry = Entry {
            version: FORMAT_VERSION,
            seq,
            prev_leaf_hash: prev,
            received_at: Timestamp(1_767_225_600_000_000_000),
            origin,
            body,
        };
        self.tree.push(leaf_hash(&entry.encode()));
        self.entries.push(entry);
    }

    fn push_system(&mut self, record: SystemRecord) {
        self.push(Origin::Ledger, Body::System(record));
    }

    fn push_event(&mut self, json: &str, heads: &mut HashMap<String, u64>) {
        let event = decode_event(json.as_bytes())
            .unwrap_or_else(|r| panic!("{json}: {}", r.reason))
            .into_event();
        let seq = self.entries.len() as u64;
        let links = BackLinks {
            prev_subject: heads.insert(format!("s{}", event.subject.id), seq),
            prev_grant: event
                .grant_id
                .as_ref()
                .and_then(|g| heads.insert(format!("g{g}"), seq)),
            prev_credential: None,
        };
        let origin = Origin::Local {
            label: "test".into(),
            line: seq,
        };
        self.push(
            origin,
            Body::Event(Box::new(EventEntry {
                links,
                event,
                record: None,
            })),
        );
    }

    fn sign(&mut self, signers: &[&NoteSigner]) {
        let size = self.tree.len();
        let previous = self.notes.keys().copied().max().unwrap_or(0);
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size: TreeSize(size),
            root: crate::merkle::root(&self.tree, TreeSize(size)).expect("in memory"),
        }
        .to_text_with(&Extensions {
            previous: Some(previous),
            positions: None,
            keys: None,
        });
        self.notes
            .insert(size, sign_note(&text, signers).expect("signs"));
    }

    pub(crate) fn size(&self) -> u64 {
        self.tree.len()
    }

    fn latest(&self) -> (u64, &str) {
        let size = self.size();
        (size, &self.notes[&size])
    }

    fn proof(&self, seq: u64, size: u64, note: &str) -> String {
        TlogProof {
            extra: Some(self.entries[seq as usize].encode()),
            index: Seq(seq),
            path: inclusion_proof(&self.tree, Seq(seq), TreeSize(size))
                .expect("in memory")
                .expect("in the tree"),
            checkpoint_note: note.to_owned(),
        }
        .to_text()
    }

    /// The key records after genesis, each under the first checkpoint that covers it.
    fn key_records(&self) -> Vec<String> {
        let mut sizes: Vec<u64> = self.notes.keys().copied().collect();
        sizes.sort_unstable();
        self.entries
            .iter()
            .filter(|e| {
                e.seq > 0
                    && matches!(
                        e.body,
                        Body::System(
                            SystemRecord::KeyAdded { .. } | SystemRecord::KeyRetired { .. }
                        )
                    )
            })
            .map(|e| {
                let size = *sizes.iter().find(|&&s| s > e.seq).expect("covered");
                self.proof(e.seq, size, &self.notes[&size])
            })
            .collect()
    }

    fn bundle(&self, seqs: &[u64], chains: Vec<ChainSpan>, claim: Option<Claim>) -> ProofBundle {
        let (size, note) = self.latest();
        ProofBundle {
            format: BUNDLE_FORMAT.into(),
            checkpoint: note.to_owned(),
            key_records: self.key_records(),
            chain: None,
            chains,
            claim,
            proofs: seqs.iter().map(|&s| self.proof(s, size, note)).collect(),
        }
    }

    fn about(&self, kind: ChainKind, id: &str) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|e| chain_link(e, kind, id).is_ok())
            .map(|e| e.seq)
            .collect()
    }

    /// The grant bundle the server gives for `g1`: its chain, and alice's chain through the
    /// entry that disabled her (which ended the grant).
    pub(crate) fn grant_bundle(&self) -> ProofBundle {
        let now = Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").expect("time");
        let grant = self.about(ChainKind::Grant, "g1");
        let alice = self.about(ChainKind::Subject, "alice");
        let grant_entries: Vec<Entry> = grant
            .iter()
            .map(|&s| self.entries[s as usize].clone())
            .collect();
        let alice_entries: Vec<Entry> = alice
            .iter()
            .map(|&s| self.entries[s as usize].clone())
            .collect();
        let answer =
            GrantAnswer::tell("g1", &grant_entries, &identity_changes(&alice_entries), now);
        let ended = answer
            .ended_by_identity()
            .expect("disabling alice ended g1");
        let mut seqs: Vec<u64> = grant
            .iter()
            .chain(&alice)
            .copied()
            .filter(|&s| s <= ended)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        let chains = vec![
            ChainSpan {
                kind: ChainKind::Grant,
                id: "g1".into(),
                through: *grant.last().expect("g1"),
            },
            ChainSpan {
                kind: ChainKind::Subject,
                id: "alice".into(),
                through: ended,
            },
        ];
        self.bundle(&seqs, chains, Some(Claim::grant("g1", now, &answer)))
    }

    pub(crate) fn history_bundle(&self) -> ProofBundle {
        let bob = self.about(ChainKind::Subject, "bob");
        let chains = vec![ChainSpan {
            kind: ChainKind::Subject,
            id: "bob".into(),
            through: *bob.last().expect("bob"),
        }];
        self.bundle(&bob, chains, Some(Claim::history("bob", &bob)))
    }

    pub(crate) fn access_bundle(&self) -> ProofBundle {
        let (at, now) = (
            Timestamp::parse_rfc3339("2026-01-01T12:00:00Z").expect("time"),
            Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").expect("time"),
        );
        let mut seqs = Vec::new();
        let mut chains = Vec::new();
        let mut rows: Vec<AccessRow> = Vec::new();
        for g in ["g1", "g2"] {
            let grant = self.about(ChainKind::Grant, g);
            let entries: Vec<Entry> = grant
                .iter()
                .map(|&s| self.entries[s as usize].clone())
                .collect();
            let answer = GrantAnswer::tell(g, &entries, &[], now);
            assert!(answer.ended_by_identity().is_none());
            if answer.episode.active_at(at) {
                rows.push(AccessRow::of(g.into(), &answer.episode));
            }
            seqs.extend(&grant);
            chains.push(ChainSpan {
                kind: ChainKind::Grant,
                id: g.into(),
                through: *grant.last().expect("grant"),
            });
        }
        // g1 ended when alice was disabled, after `at`: its row's end leans on her chain.
        let alice = self.about(ChainKind::Subject, "alice");
        let alice_entries: Vec<Entry> = alice
            .iter()
            .map(|&s| self.entries[s as usize].clone())
            .collect();
        let g1: Vec<Entry> = self
            .about(ChainKind::Grant, "g1")
            .iter()
            .map(|&s| self.entries[s as usize].clone())
            .collect();
        let told = GrantAnswer::tell("g1", &g1, &identity_changes(&alice_entries), now);
        let ended = told.ended_by_identity().expect("ended by identity");
        rows[0] = AccessRow::of("g1".into(), &told.episode);
        seqs.extend(alice.iter().filter(|&&s| s <= ended));
        chains.push(ChainSpan {
            kind: ChainKind::Subject,
            id: "alice".into(),
            through: ended,
        });
        seqs.sort_unstable();
        seqs.dedup();
        self.bundle(
            &seqs,
            chains,
            Some(Claim::access("db:read", at, now, &rows)),
        )
    }
}

fn first_key() -> Vec<VerifierKey> {
    vec![signer(1).verifier().clone()]
}

fn verify(bundle: &ProofBundle) -> Result<VerifiedBundle, BundleError> {
    verify_bundle(&bundle.to_json(), None, &first_key())
}

#[test]
fn genuine_bundles_verify_from_the_first_key_through_the_rotation() {
    let log = Log::new();
    for bundle in [
        log.grant_bundle(),
        log.history_bundle(),
        log.access_bundle(),
    ] {
        let v = verify(&bundle).unwrap_or_else(|e| panic!("{e}\n{}", bundle.to_json()));
        assert!(v.answered.is_some());
        assert_eq!(v.key_records.len(), 2, "added and retired");
        // Also with only the newest key, which signed the checkpoint itself.
        let newest = [signer(2).verifier().clone()];
        verify_bundle(&bundle.to_json(), None, &newest).expect("the newest key vouches directly");
        let text = v.describe();
        assert!(text.contains("exactly what these entries show"), "{text}");
    }
    let v = verify(&log.grant_bundle()).expect("verifies");
    let text = v.describe();
    assert!(
        text.contains("ended when the identity was disabled"),
        "{text}"
    );
    if std::env::var_os("IDLEDGER_BLESS_SEEDS").is_some() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/bundle");
        for (name, b) in [
            ("v2-grant.json", log.grant_bundle()),
            ("v2-history.json", log.history_bundle()),
            ("v2-access.json", log.access_bundle()),
        ] {
            std::fs::write(format!("{dir}/{name}"), b.to_json()).expect("write seed");
        }
        std::fs::write(
            format!("{dir}/v2-keys.txt"),
            format!("{}\n", first_key()[0]),
        )
        .expect("write the seeds' key");
    }
}

/// Each change an attacker could make to a genuine bundle, and the reason it is refused.
#[test]
fn changed_bundles_are_refused_with_their_reason() {
    let log = Log::new();
    type Change = fn(&Log, &mut ProofBundle);
    type Expected = fn(&BundleError) -> bool;
    let cases: Vec<(&str, Change, Expected)> = vec![
        (
            "no proofs at all",
            |_, b| b.proofs.clear(),
            |e| matches!(e, BundleError::Empty),
        ),
        (
            "the entry that disabled alice dropped",
            |_, b| {
                b.proofs.retain(|p| !p.contains("index 7\n"));
            },
            |e| matches!(e, BundleError::ChainEnd { .. } | BundleError::Gap { .. }),
        ),
        (
            "alice's chain dropped, the answer kept",
            |_, b| {
                b.chains.retain(|c| c.kind != ChainKind::Subject);
            },
            |e| matches!(e, BundleError::Claim(claim::ClaimError::Mismatch { .. })),
        ),
        (
            "an answer the entries do not give",
            |_, b| {
                if let Some(Claim::Grant { answer, .. }) = &mut b.claim {
                    answer["when_ended"] = serde_json::json!("revoked by carol");
                }
            },
            |e| matches!(e, BundleError::Claim(claim::ClaimError::Mismatch { .. })),
        ),
        (
            "a proof under another checkpoint of the same log",
            |log, b| {
                let older = &log.notes[&5];
                b.proofs[0] = log.proof(1, 5, older);
            },
            |e| matches!(e, BundleError::OtherCheckpoint(0)),
        ),
        (
            "the same checkpoint with one more signature line",
            |_, b| {
                let extra =
                    b.checkpoint.clone() + &signer(9).signature_line("x\n").expect("signs") + "\n";
                let p = b.proofs[1].replace(&b.checkpoint, &extra);
                b.proofs[1] = p;
            },
            |e| matches!(e, BundleError::OtherCheckpoint(1)),
        ),
        (
            "the key records left out",
            |_, b| b.key_records.clear(),
            |e| matches!(e, BundleError::Checkpoint(_)),
        ),
        (
            "the key records out of order",
            |_, b| b.key_records.reverse(),
            |e| {
                matches!(
                    e,
                    BundleError::KeyRecord { .. } | BundleError::NotAKeyRecord { .. }
                )
            },
        ),
        (
            "an event given as a key record",
            |log, b| {
                // Under a checkpoint the first key signed, so only its kind gives it away.
                b.key_records[0] = log.proof(2, 5, &log.notes[&5]);
            },
            |e| matches!(e, BundleError::NotAKeyRecord { .. }),
        ),
        (
            "entries out of order",
            |_, b| b.proofs.swap(0, 1),
            |e| matches!(e, BundleError::Order(1)),
        ),
        (
            "a version 1 chain in a version 2 bundle",
            |_, b| {
                b.chain = Some(Chain {
                    kind: ChainKind::Grant,
                    id: "g1".into(),
                });
            },
            |e| matches!(e, BundleError::Malformed(_)),
        ),
    ];
    for (name, change, expected) in cases {
        let mut b = log.grant_bundle();
        change(&log, &mut b);
        match verify(&b) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => assert!(expected(&e), "{name}: {e}"),
        }
    }
}

#[test]
fn an_access_answer_with_a_grant_left_out_or_added_is_refused() {
    let log = Log::new();
    let mut b = log.access_bundle();
    if let Some(Claim::Access { answer, .. }) = &mut b.claim {
        answer.as_array_mut().expect("rows").pop();
    }
    assert!(matches!(verify(&b), Err(BundleError::Claim(_))));
    let mut b = log.access_bundle();
    if let Some(Claim::Access { resource, .. }) = &mut b.claim {
        *resource = "db:write".into();
    }
    assert!(matches!(
        verify(&b),
        Err(BundleError::Claim(claim::ClaimError::OtherResource { .. }))
    ));
}

#[test]
fn a_key_of_another_log_does_not_vouch() {
    let log = Log::new();
    let stranger = NoteSigner::new("other.example/log", SigningKey::from_bytes(&[1; 32]))
        .expect("name")
        .verifier()
        .clone();
    let err = verify_bundle(&log.grant_bundle().to_json(), None, &[stranger]).expect_err("refused");
    assert!(matches!(err, BundleError::KeyRecord { .. }), "{err}");
    // The hash of the leaf is what is proven: a leaf changed inside a proof is refused.
    let mut b = log.grant_bundle();
    let p = TlogProof::parse(&b.proofs[0]).expect("parses");
    let mut leaf = p.extra.clone().expect("leaf");
    let last = leaf.len() - 1;
    leaf[last] ^= 1;
    b.proofs[0] = TlogProof {
        extra: Some(leaf),
        ..p
    }
    .to_text();
    assert!(matches!(verify(&b), Err(BundleError::Proof { .. })));
}

/// Chains are checked in one pass over the entries, and a chain stated twice (or more chains
/// than any answer needs) is refused before any work.
#[test]
fn a_chain_stated_twice_or_too_many_chains_are_refused() {
    let log = Log::new();
    let mut b = log.grant_bundle();
    b.chains.push(b.chains[0].clone());
    assert!(matches!(verify(&b), Err(BundleError::Malformed(m)) if m.contains("stated twice")));
    let mut b = log.grant_bundle();
    b.chains = (0..=MAX_CHAINS as u64)
        .map(|i| ChainSpan {
            kind: ChainKind::Credential,
            id: format!("c{i}"),
            through: 1,
        })
        .collect();
    assert!(matches!(verify(&b), Err(BundleError::Malformed(m)) if m.contains("chains")));
}
