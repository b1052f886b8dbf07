//! A monitor of an idledger log (or any log whose entries are idledger leaves) served as C2SP
//! tlog-tiles: each round fetches the checkpoint, verifies it with the auditor's keys (and
//! witness policy), checks that it extends the last one kept, fetches the new tiles and entry
//! bundles, verifies every hash and every new entry, and keeps an exact copy in a directory
//! laid out as tlog-tiles, so the auditor holds the data even if the operator later loses or
//! withholds it. A round with any finding keeps nothing: the state never advances past one.
//!
//! Architecture invariant: the checks (`round`) write nothing and the copy (`copy`) checks
//! nothing; what a round verified passes from one to the other as one value.

pub mod copy;
pub mod entries;
pub mod findings;
pub mod frontier;
pub mod round;
pub mod source;
pub mod state;

#[cfg(test)]
mod tests;

pub use copy::{CopyError, StateDir};
pub use findings::{Finding, FindingClass, Findings};
pub use round::Trust;
pub use source::{FetchError, HttpSource, MemorySource, Source};

/// Why a round could not be completed (the state is untouched): not a finding about the log.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("cannot fetch from the log: {0}")]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// What one round did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The log's checkpoint is the kept size, with the kept root.
    Unchanged { size: u64 },
    /// The log grew from `from` to `to` entries, all verified and kept.
    Advanced { from: u64, to: u64 },
    /// Something is wrong; nothing was kept.
    Findings(Findings),
}

/// One round: check the log against the kept state, and keep what verified.
pub fn round(
    source: &dyn Source,
    trust: &Trust,
    dir: &mut StateDir,
) -> Result<Outcome, MonitorError> {
    let from = dir.state().size;
    match round::check(source, trust, dir.state())? {
        round::Checked::Findings(f) => Ok(Outcome::Findings(f)),
        round::Checked::Verified(v) => {
            let to = v.state.size;
            let first = dir.state().origin.is_none();
            let note_changed = std::fs::read(dir.path().join("checkpoint"))
                .map_or(true, |kept| kept != v.note.as_bytes());
            if to != from || first || note_changed {
                dir.keep(v)?;
            }
            Ok(if to == from {
                Outcome::Unchanged { size: to }
            } else {
                Outcome::Advanced { from, to }
            })
        }
    }
}
