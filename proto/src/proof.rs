//! C2SP tlog-proof@v1 (c2sp.org/tlog-proof): inclusion proofs carrying the leaf bytes in the
//! `extra` line and the signed checkpoint, and their offline verification.

use crate::checkpoint::{Checkpoint, CheckpointError, Extensions};
use crate::entry::{Entry, LeafError};
use crate::hash::{Hash, leaf_hash};
use crate::merkle::{ProofError, verify_inclusion};
use crate::note::{NoteError, VerifiedNote, VerifierKey, parse_note};
use crate::tree_size::Seq;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most hashes an inclusion path can have (a tree of 2^64 leaves).
const MAX_PATH: usize = 64;

/// A parsed tlog-proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque application data; idledger puts the entry's leaf bytes here.
    pub extra: Option<Vec<u8>>,
    pub index: Seq,
    /// The inclusion path, leaf's sibling first.
    pub path: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint_note: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlogProofError {
    #[error("malformed tlog-proof: {0}")]
    Malformed(String),
    #[error("checkpoint signature: {0}")]
    Note(#[from] NoteError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    #[error("the proof carries no leaf bytes (no `extra` line)")]
    NoLeaf,
    #[error("leaf: {0}")]
    Leaf(#[from] LeafError),
    #[error("leaf says it is entry {found} but the proof is for index {index}")]
    SeqMismatch { index: u64, found: u64 },
    #[error(
        "no trusted key is named `{origin}`: a checkpoint counts only with a signature by a key named as its origin (trusted: {trusted})"
    )]
    NoKeyForOrigin { origin: String, trusted: String },
}

impl TlogProof {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&B64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index.0));
        for h in &self.path {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint_note);
        out
    }

    /// Parses strictly: the header, optional `extra`, `index`, base64 hashes, a blank line, then
    /// the checkpoint note.
    pub fn parse(text: &str) -> Result<TlogProof, TlogProofError> {
        let bad = |m: String| TlogProofError::Malformed(m);
        let mut rest = text
            .strip_prefix(HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or_else(|| bad(format!("first line must be `{HEADER}`")))?;
        let next_line = |rest: &mut &str| -> Result<String, TlogProofError> {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| bad("unexpected end of proof".into()))?;
            *rest = tail;
            Ok(line.to_owned())
        };
        let mut line = next_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| bad("`extra` is not standard base64".into()))?,
            );
            line = next_line(&mut rest)?;
        }
        let index_text = line
            .strip_prefix("index ")
            .ok_or_else(|| bad("expected an `index` line".into()))?;
        let canonical = !index_text.is_empty()
            && index_text.bytes().all(|b| b.is_ascii_digit())
            && (index_text == "0" || !index_text.starts_with('0'));
        if !canonical {
            return Err(bad(
                "index must be a decimal number without leading zeros".into()
            ));
        }
        let index: u64 = index_text
            .parse()
            .map_err(|_| bad("index does not fit in 64 bits".into()))?;
        let mut path = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PATH {
                return Err(bad(format!(
                    "more than {MAX_PATH} hashes in the inclusion path"
                )));
            }
            let h = Hash::from_base64(&line)
                .filter(|h| h.to_base64() == line)
                .ok_or_else(|| bad(format!("`{line}` is not a base64 SHA-256 hash")))?;
            path.push(h);
        }
        if rest.is_empty() {
            return Err(bad("no checkpoint after the blank line".into()));
        }
        Ok(TlogProof {
            extra,
            index: Seq(index),
            path,
            checkpoint_note: rest.to_owned(),
        })
    }
}

/// A checkpoint whose signature verified and whose origin is the expected one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub checkpoint: Checkpoint,
    pub extensions: Extensions,
    pub note: VerifiedNote,
    /// The note's cosignature/v1 lines (c2sp.org/tlog-cosignature), not yet checked: only a
    /// witness policy gives them meaning (`cosigned::check_witnesses`).
    pub cosignatures: Vec<String>,
}

/// Verifies a signed checkpoint note: its origin is `origin` (when given), and it carries a
/// valid signature by one of `keys` whose name is that origin. As C2SP tlog-checkpoint says, a
/// key's name is the log it signs for: a trusted key of another log never vouches for this one.
/// Every signature line that claims such a key must verify, and extension lines other than
/// idledger's are refused. Cosignature lines (witnesses') are set aside, unchecked.
pub fn verify_checkpoint(
    note: &str,
    origin: Option<&str>,
    keys: &[VerifierKey],
) -> Result<VerifiedCheckpoint, TlogProofError> {
    let (log_note, cosignatures) = crate::cosigned::strip_cosignatures(note);
    let parsed = parse_note(&log_note)?;
    let (checkpoint, lines) = Checkpoint::parse(&parsed.text)?;
    if let Some(expected) = origin
        && checkpoint.origin != expected
    {
        return Err(CheckpointError::WrongOrigin {
            expected: expected.to_owned(),
            found: checkpoint.origin,
        }
        .into());
    }
    let for_origin: Vec<VerifierKey> = keys
        .iter()
        .filter(|k| k.name() == checkpoint.origin)
        .cloned()
        .collect();
    if for_origin.is_empty() {
        return Err(TlogProofError::NoKeyForOrigin {
            origin: checkpoint.origin,
            trusted: keys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let (verified_by, other_signatures) = parsed.check_signatures(&for_origin)?;
    if verified_by.is_empty() {
        let signers = other_signatures
            .iter()
            .map(|s| format!("{}+{}", s.name, hex::encode(s.key_id)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(NoteError::UnknownKey { signers }.into());
    }
    let extensions = Extensions::parse(&lines)?;
    Ok(VerifiedCheckpoint {
        checkpoint,
        extensions,
        note: VerifiedNote {
            text: parsed.text,
            verified_by,
            other_signatures,
        },
        cosignatures,
    })
}

/// What a verified entry proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEntry {
    pub entry: Entry,
    pub leaf_hash: Hash,
    pub checkpoint: VerifiedCheckpoint,
}

/// Verifies an idledger tlog-proof offline: the checkpoint is signed by a trusted key for the
/// expected origin, the leaf bytes in `extra` hash to a leaf included at `index` under that
/// checkpoint, and the leaf decodes to entry `index`.
pub fn verify_entry_proof(
    text: &str,
    origin: Option<&str>,
    keys: &[VerifierKey],
) -> Result<VerifiedEntry, TlogProofError> {
    let proof = TlogProof::parse(text)?;
    let checkpoint = verify_checkpoint(&proof.checkpoint_note, origin, keys)?;
    let leaf = proof.extra.as_deref().ok_or(TlogProofError::NoLeaf)?;
    let hash = leaf_hash(leaf);
    verify_inclusion(
        &hash,
        proof.index,
        checkpoint.checkpoint.size,
        &proof.path,
        &checkpoint.checkpoint.root,
    )?;
    let entry = Entry::decode(leaf)?;
    if entry.seq != proof.index.0 {
        return Err(TlogProofError::SeqMismatch {
            index: proof.index.0,
            found: entry.seq,
        });
    }
    Ok(VerifiedEntry {
        entry,
        leaf_hash: hash,
        checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::note::{NoteSigner, sign_note};
    use crate::tree_size::TreeSize;
    use ed25519_dalek::SigningKey;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).expect("valid name")
    }

    fn checkpoint_of(origin: &str) -> String {
        Checkpoint {
            origin: origin.into(),
            size: TreeSize(3),
            root: Hash([4; 32]),
        }
        .to_text()
    }

    #[test]
    fn a_signature_counts_only_by_a_key_named_as_the_origin() {
        let (a, b) = (signer("log.a/x", 1), signer("log.b/y", 2));
        let trusted = [a.verifier().clone(), b.verifier().clone()];
        // Log B's key signs a checkpoint that claims to be log A's.
        let forged = sign_note(&checkpoint_of("log.a/x"), &[&b]).expect("signs");
        for origin in [None, Some("log.a/x")] {
            assert!(
                matches!(
                    verify_checkpoint(&forged, origin, &trusted),
                    Err(TlogProofError::Note(NoteError::UnknownKey { .. }))
                ),
                "{origin:?}"
            );
        }
        assert!(matches!(
            verify_checkpoint(&forged, None, std::slice::from_ref(b.verifier())),
            Err(TlogProofError::NoKeyForOrigin { .. })
        ));
        let genuine = sign_note(&checkpoint_of("log.a/x"), &[&a, &b]).expect("signs");
        let v = verify_checkpoint(&genuine, None, &trusted).expect("a's signature counts");
        assert_eq!(v.note.verified_by, vec![a.verifier().clone()]);
        assert_eq!(v.note.other_signatures.len(), 1);
        assert!(matches!(
            verify_checkpoint(&genuine, Some("log.b/y"), &trusted),
            Err(TlogProofError::Checkpoint(
                CheckpointError::WrongOrigin { .. }
            ))
        ));
    }

    #[test]
    fn unknown_extension_lines_are_refused() {
        let a = signer("log.a/x", 1);
        let text = checkpoint_of("log.a/x") + "something-else 1\n";
        let note = sign_note(&text, &[&a]).expect("signs");
        assert!(matches!(
            verify_checkpoint(&note, None, std::slice::from_ref(a.verifier())),
            Err(TlogProofError::Checkpoint(
                CheckpointError::Extension { .. }
            ))
        ));
    }
}
