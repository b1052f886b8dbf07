//! The witnessed checkpoints stored beside the log (`cosigned`), checked against the tree the
//! walk verified and, with a witness policy, against the policy's witnesses and quorum.
//!
//! Every stored cosigned note must be a checkpoint of this log signed by a trusted key whose
//! root is the tree's root at its size: a cosigned root the log does not have is what a fork
//! or a rewrite leaves behind (witnesses saw another history), whoever the witnesses are. With a
//! policy, the newest note that meets the quorum says how far the log is witnessed; a policy
//! witness's cosignature that does not verify is a forgery; and a log with no note meeting the
//! quorum fails, as the auditor asked for witnessed history and there is none.

use super::Trust;
use super::report::{FailureClass, FsckReport};
use crate::reader::{LedgerReader, ReadError};
use idledger_proto::TreeSize;
use idledger_proto::cosigned::{CosignedError, check_witnesses};
use idledger_proto::proof::verify_checkpoint;
use idledger_proto::witness_policy::Policy;

/// What the witnessed checkpoints established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessedReport {
    /// Cosigned notes stored.
    pub stored: u64,
    /// The largest size whose cosigned note meets the policy, its witnesses and the quorum.
    pub witnessed: Option<(u64, Vec<String>, String)>,
}

/// Checks every stored cosigned note at or below `size`; fills `report.witnessed`.
pub(super) fn check_witnessed(
    reader: &LedgerReader<'_>,
    trust: &Trust,
    policy: Option<&Policy>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let origin = reader.origin();
    let notes = reader.cosigned_newest_first(TreeSize(u64::MAX))?;
    report.witnessed.stored = notes.len() as u64;
    for (at, note) in notes {
        if at.0 > size {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                at.0,
                format!("a cosigned checkpoint of size {} is stored, but the log has {size} entries: witnesses saw a longer log", at.0),
            );
            continue;
        }
        let checkpoint = match verify_checkpoint(&note, Some(origin), &trust.keys) {
            Ok(c) if c.checkpoint.size == at => c,
            Ok(c) => {
                report.add(
                    FailureClass::IndexMismatch,
                    at.0,
                    format!(
                        "the cosigned checkpoint stored at size {} is of size {}",
                        at.0, c.checkpoint.size
                    ),
                );
                continue;
            }
            Err(e) => {
                report.add(
                    FailureClass::ForgedSignature,
                    at.0,
                    format!(
                        "the cosigned checkpoint at size {} does not verify under your keys: {e}",
                        at.0
                    ),
                );
                continue;
            }
        };
        let root = match reader.root_at(at) {
            Ok(root) => root,
            Err(e) => {
                report.add(
                    FailureClass::IndexMismatch,
                    at.0,
                    format!("the tree at the cosigned size {} cannot be read: {e}", at.0),
                );
                continue;
            }
        };
        if checkpoint.checkpoint.root != root {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                at.0,
                format!(
                    "witnesses cosigned root {} at size {}, but the log's root there is {}: the log was forked or rewritten after it was witnessed",
                    checkpoint.checkpoint.root.to_base64(),
                    at.0,
                    root.to_base64()
                ),
            );
            continue;
        }
        let Some(policy) = policy else { continue };
        match check_witnesses(&checkpoint, policy) {
            Ok(w) if report.witnessed.witnessed.is_none() => {
                let names = w.cosigned_by.into_iter().map(|(n, _)| n).collect();
                report.witnessed.witnessed = Some((at.0, names, w.quorum));
            }
            Ok(_) | Err(CosignedError::QuorumNotMet { .. }) => {}
            Err(e) => report.add(
                FailureClass::ForgedSignature,
                at.0,
                format!("the cosigned checkpoint at size {}: {e}", at.0),
            ),
        }
    }
    if policy.is_some() && report.witnessed.witnessed.is_none() {
        report.add(
            FailureClass::Unwitnessed,
            size,
            "no stored checkpoint is cosigned by witnesses that meet the policy's quorum".into(),
        );
    }
    Ok(())
}
