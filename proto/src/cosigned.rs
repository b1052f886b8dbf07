//! The auditor's check of a cosigned checkpoint against a witness policy (`witness_policy`),
//! offline: the checkpoint note is signed by a policy log key (`proof::verify_checkpoint`, the
//! rules of every idledger checkpoint), and the `cosignature/v1` lines of policy witnesses
//! verify over its text and satisfy the policy's quorum.
//!
//! A cosigned note mixes log signatures (68-byte payloads) with cosignatures (76 bytes:
//! `cosignature::PAYLOAD_BYTES`). Lines of 76 bytes are cosignatures: those claiming a policy
//! witness (name and key ID) must verify, the rest are ignored, as c2sp.org/signed-note says of
//! unknown keys. Every other line is left to the log-signature rules.

use crate::cosignature::{self, CosignError};
use crate::note::MAX_NOTE_BYTES;
use crate::printable::printable;
use crate::proof::{TlogProofError, VerifiedCheckpoint, verify_checkpoint};
use crate::witness_policy::Policy;

/// A checkpoint signed by a policy log key whose cosignatures meet the policy's quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub checkpoint: VerifiedCheckpoint,
    /// The policy witnesses whose cosignatures verified, in policy order, with the timestamp
    /// of their (first) cosignature.
    pub cosigned_by: Vec<(String, u64)>,
    /// Cosignature lines by keys the policy does not name, ignored.
    pub ignored: usize,
    /// The policy's name of the quorum.
    pub quorum: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignedError {
    #[error("malformed cosigned checkpoint: {0}")]
    Malformed(&'static str),
    #[error("log signature: {0}")]
    Log(#[from] TlogProofError),
    #[error("the cosignature of witness `{witness}` is bad: {error}")]
    Cosignature { witness: String, error: CosignError },
    #[error(
        "quorum `{quorum}` not met: cosigned by {cosigned}; no valid cosignature from {missing}"
    )]
    QuorumNotMet {
        quorum: String,
        cosigned: String,
        missing: String,
    },
}

/// A note split into the note without its cosignature lines, and those lines. A note whose
/// signature block cannot be found is returned whole, for the note parser to refuse.
pub fn strip_cosignatures(note: &str) -> (std::borrow::Cow<'_, str>, Vec<String>) {
    // Signature lines are never empty, so the last empty line ends the text.
    let Some(split) = note.rfind("\n\n") else {
        return (note.into(), Vec::new());
    };
    let Some(block) = note[split + 2..].strip_suffix('\n') else {
        return (note.into(), Vec::new());
    };
    let is_cosignature = |line: &str| {
        cosignature::split_line(line)
            .is_some_and(|(_, payload)| payload.len() == cosignature::PAYLOAD_BYTES)
    };
    if !block.split('\n').any(is_cosignature) {
        return (note.into(), Vec::new());
    }
    let mut log_note = note[..split + 2].to_owned();
    let mut cosignatures = Vec::new();
    for line in block.split('\n') {
        if is_cosignature(line) {
            cosignatures.push(line.to_owned());
        } else {
            log_note.push_str(line);
            log_note.push('\n');
        }
    }
    (log_note.into(), cosignatures)
}

/// What the cosignatures of a verified checkpoint establish under a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    /// The policy witnesses whose cosignatures verified, in policy order, with the timestamp
    /// of their (first) cosignature.
    pub cosigned_by: Vec<(String, u64)>,
    /// Cosignature lines by keys the policy does not name, ignored.
    pub ignored: usize,
    /// The policy's name of the quorum.
    pub quorum: String,
}

/// Checks a cosigned checkpoint note against a policy: signed by a policy log key, and
/// cosigned by witnesses that meet its quorum.
pub fn verify_cosigned(note: &str, policy: &Policy) -> Result<Cosigned, CosignedError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CosignedError::Malformed("longer than 1 MiB"));
    }
    let checkpoint = verify_checkpoint(note, None, &policy.logs)?;
    let witnessed = check_witnesses(&checkpoint, policy)?;
    Ok(Cosigned {
        checkpoint,
        cosigned_by: witnessed.cosigned_by,
        ignored: witnessed.ignored,
        quorum: witnessed.quorum,
    })
}

/// Checks the cosignatures of a checkpoint already verified under the log's keys against a
/// policy's witnesses and quorum. Every line claiming a policy witness must verify.
pub fn check_witnesses(
    checkpoint: &VerifiedCheckpoint,
    policy: &Policy,
) -> Result<Witnessed, CosignedError> {
    if checkpoint.cosignatures.len() > crate::note::MAX_SIGNATURES {
        return Err(CosignedError::Malformed("more than 100 cosignatures"));
    }
    let text = &checkpoint.note.text;
    let mut times: Vec<Option<u64>> = vec![None; policy.witnesses.len()];
    let mut ignored = 0;
    for line in &checkpoint.cosignatures {
        let Some((name, payload)) = cosignature::split_line(line) else {
            return Err(CosignedError::Malformed("a cosignature line is malformed"));
        };
        let Some(i) = policy
            .witnesses
            .iter()
            .position(|w| w.key.is_claimed_by(name, &payload))
        else {
            ignored += 1;
            continue;
        };
        let witness = &policy.witnesses[i];
        let time = witness
            .key
            .verify(text, line)
            .map_err(|error| CosignedError::Cosignature {
                witness: witness.name.clone(),
                error,
            })?;
        // A witness counts once however many of its cosignatures the note carries.
        times[i].get_or_insert(time);
    }
    let cosigned: Vec<bool> = times.iter().map(Option::is_some).collect();
    let quorum = policy.name(policy.quorum).to_owned();
    let names = |signed: bool| {
        let list: Vec<String> = policy
            .witnesses
            .iter()
            .zip(&cosigned)
            .filter(|(_, c)| **c == signed)
            .map(|(w, _)| printable(&w.name).into_owned())
            .collect();
        if list.is_empty() {
            "no witness".to_owned()
        } else {
            list.join(", ")
        }
    };
    if !policy.quorum_met(&cosigned) {
        return Err(CosignedError::QuorumNotMet {
            quorum,
            cosigned: names(true),
            missing: names(false),
        });
    }
    let cosigned_by = policy
        .witnesses
        .iter()
        .zip(times)
        .filter_map(|(w, t)| t.map(|t| (w.name.clone(), t)))
        .collect();
    Ok(Witnessed {
        cosigned_by,
        ignored,
        quorum,
    })
}
