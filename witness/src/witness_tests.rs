//! The witness's rules, one adversarial test each: a log (or whoever can reach the witness)
//! trying to get a cosignature it should not have, against a witness that holds a record.

use super::*;
use crate::request::AddCheckpoint;
use ed25519_dalek::SigningKey;
use idledger_proto::Hash;
use idledger_proto::hash::leaf_hash;
use idledger_proto::merkle::reference::{naive_consistency, naive_root};
use idledger_proto::note::{NoteSigner, sign_note};

const ORIGIN: &str = "log.example/a";
const NOW: u64 = 1_700_000_000;

struct Fixture {
    _tmp: tempfile::TempDir,
    witness: Witness,
    log: NoteSigner,
    leaves: Vec<Hash>,
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).expect("name");
    let key =
        WitnessKey::new("witness.example/w1", SigningKey::from_bytes(&[9; 32])).expect("name");
    let store = StateDir::open(tmp.path()).expect("state");
    let witness =
        Witness::open(key, &[(ORIGIN.to_owned(), log.verifier().clone())], store).expect("opens");
    Fixture {
        _tmp: tmp,
        witness,
        log,
        leaves: leaves(20),
    }
}

fn text(origin: &str, size: u64, root: Hash) -> String {
    format!("{origin}\n{size}\n{}\n", root.to_base64())
}

impl Fixture {
    /// A request from `old` to `new`, signed by the log, with the honest proof.
    fn request(&self, old: usize, new: usize) -> AddCheckpoint {
        let proof = if old == 0 {
            Vec::new()
        } else {
            naive_consistency(old, &self.leaves[..new])
        };
        let note = sign_note(
            &text(ORIGIN, new as u64, naive_root(&self.leaves[..new])),
            &[&self.log],
        )
        .expect("signs");
        AddCheckpoint {
            old_size: old as u64,
            proof,
            note,
        }
    }

    fn add(&self, req: &AddCheckpoint) -> Result<String, u16> {
        self.witness
            .add_checkpoint(req.to_body().as_bytes(), NOW)
            .map_err(|e| e.status())
    }
}

#[test]
fn consistent_checkpoints_are_cosigned_in_order() {
    let f = fixture();
    for (old, new) in [(0, 3), (3, 3), (3, 8), (8, 20)] {
        let req = f.request(old, new);
        let answer = f.add(&req).expect("cosigned");
        let note_text = text(ORIGIN, new as u64, naive_root(&f.leaves[..new]));
        assert_eq!(
            f.witness.key().verifier().verify(&note_text, &answer),
            Ok(NOW)
        );
        assert!(answer.ends_with('\n') && answer.matches('\n').count() == 1);
        assert_eq!(f.witness.latest(ORIGIN).map(|c| c.size), Some(new as u64));
    }
}

/// Attack: a log rolls the witness back by sending an old size below what was cosigned.
#[test]
fn an_old_size_other_than_the_record_is_a_conflict_naming_the_record() {
    let f = fixture();
    f.add(&f.request(0, 8)).expect("cosigned");
    for old in [0, 3, 9] {
        let mut req = f.request(old.min(8), 12);
        req.old_size = old as u64;
        let err = f
            .witness
            .add_checkpoint(req.to_body().as_bytes(), NOW)
            .expect_err("conflict");
        assert!(
            matches!(err, AddError::Conflict { known: 8, .. }),
            "{old}: {err}"
        );
    }
}

/// Attack: a fork. The log signs a different tree of a larger size and sends a proof from the
/// cosigned size computed over its fork.
#[test]
fn a_fork_with_its_own_proof_is_inconsistent() {
    let f = fixture();
    f.add(&f.request(0, 8)).expect("cosigned");
    let mut fork = f.leaves.clone();
    fork[2] = leaf_hash(b"rewritten");
    let note = sign_note(&text(ORIGIN, 12, naive_root(&fork[..12])), &[&f.log]).expect("signs");
    let req = AddCheckpoint {
        old_size: 8,
        proof: naive_consistency(8, &fork[..12]),
        note,
    };
    assert_eq!(f.add(&req), Err(422));
    // Nor with the honest proof for the honest tree, the fork's root being another.
    let mut honest = f.request(8, 12);
    honest.note = req.note;
    assert_eq!(f.add(&honest), Err(422));
    assert_eq!(f.witness.latest(ORIGIN).map(|c| c.size), Some(8));
}

/// Attack: the same size with another root (a split view at equal size).
#[test]
fn the_same_size_with_another_root_is_inconsistent() {
    let f = fixture();
    f.add(&f.request(0, 8)).expect("cosigned");
    let note = sign_note(&text(ORIGIN, 8, Hash([3; 32])), &[&f.log]).expect("signs");
    assert_eq!(
        f.add(&AddCheckpoint {
            old_size: 8,
            proof: Vec::new(),
            note
        }),
        Err(422)
    );
}

/// Attack: a proof padded from size 0, hoping it is checked against something.
#[test]
fn a_proof_from_size_zero_must_be_empty() {
    let f = fixture();
    let mut req = f.request(0, 8);
    req.proof = vec![Hash([1; 32])];
    assert_eq!(f.add(&req), Err(422));
}

/// Attack: an empty tree whose root is not the empty root (so a later proof from 0 would
/// vouch for anything).
#[test]
fn an_empty_checkpoint_needs_the_empty_root() {
    let f = fixture();
    let note = sign_note(&text(ORIGIN, 0, Hash([3; 32])), &[&f.log]).expect("signs");
    assert_eq!(
        f.add(&AddCheckpoint {
            old_size: 0,
            proof: Vec::new(),
            note
        }),
        Err(422)
    );
    let note = sign_note(&text(ORIGIN, 0, empty_root()), &[&f.log]).expect("signs");
    assert!(
        f.add(&AddCheckpoint {
            old_size: 0,
            proof: Vec::new(),
            note
        })
        .is_ok()
    );
}

/// Attack: claim an old size above the checkpoint's, to skip the proof.
#[test]
fn an_old_size_above_the_checkpoint_is_a_bad_request() {
    let f = fixture();
    f.add(&f.request(0, 8)).expect("cosigned");
    let mut req = f.request(8, 8);
    req.old_size = 9;
    assert_eq!(f.add(&req), Err(400));
}

/// Attack: a checkpoint signed by a key of one's own, under the log's name.
#[test]
fn a_checkpoint_signed_by_another_key_is_forbidden() {
    let f = fixture();
    let forger = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[2; 32])).expect("name");
    let mut req = f.request(0, 8);
    req.note = sign_note(&text(ORIGIN, 8, naive_root(&f.leaves[..8])), &[&forger]).expect("signs");
    assert_eq!(f.add(&req), Err(403));
    assert_eq!(f.witness.latest(ORIGIN).map(|c| c.size), Some(0));
}

/// Attack: a log the witness does not follow asks for a cosignature.
#[test]
fn an_unknown_origin_is_not_found() {
    let f = fixture();
    let other = NoteSigner::new("other.example/b", SigningKey::from_bytes(&[3; 32])).expect("name");
    let note = sign_note(&text("other.example/b", 1, f.leaves[0]), &[&other]).expect("signs");
    assert_eq!(
        f.add(&AddCheckpoint {
            old_size: 0,
            proof: Vec::new(),
            note
        }),
        Err(404)
    );
}

/// Attack: crash the witness after a cosignature, hoping the restart forgets it.
#[test]
fn a_reopened_witness_keeps_its_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).expect("name");
    let logs = [(ORIGIN.to_owned(), log.verifier().clone())];
    let open = || {
        let key =
            WitnessKey::new("witness.example/w1", SigningKey::from_bytes(&[9; 32])).expect("name");
        Witness::open(key, &logs, StateDir::open(tmp.path()).expect("state")).expect("opens")
    };
    let f = Fixture {
        _tmp: tempfile::tempdir().expect("tempdir"),
        witness: open(),
        log,
        leaves: leaves(20),
    };
    f.add(&f.request(0, 5)).expect("cosigned");
    // The first witness is gone (its state directory's lock with it) before the next opens.
    let Fixture {
        _tmp,
        witness,
        log,
        leaves,
    } = f;
    drop(witness);
    let reopened = Fixture {
        _tmp,
        witness: open(),
        log,
        leaves,
    };
    assert_eq!(reopened.add(&reopened.request(0, 9)), Err(409));
    assert!(reopened.add(&reopened.request(5, 9)).is_ok());
}
