//! What a monitor round found, reported as `verify` reports its findings: a class, the entry
//! index (or, for a checkpoint, the tree size) where it was found, and a detail.

use std::fmt;

/// What kind of misbehaviour a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingClass {
    /// The new checkpoint's tree does not extend the kept one: another root for the kept size.
    Fork,
    /// The new checkpoint is for a smaller tree than the kept one.
    Truncation,
    /// An entry does not hash into its tile, does not decode, or the tiles do not reproduce the
    /// signed root.
    ModifiedEntry,
    /// An entry says it is at another index than the one it is served at.
    ReorderedEntries,
    /// An entry's `prev_leaf_hash` is not the leaf hash of the entry before it.
    BrokenChain,
    /// A back-link does not point at the previous entry about the same id.
    BackLink,
    /// An entry holds secret material that ingest never keeps.
    SecretMaterial,
    /// The checkpoint is not signed by a trusted key for its origin.
    BadSignature,
    /// The checkpoint cannot be read (not text, not a checkpoint, another origin).
    MalformedCheckpoint,
    /// With a witness policy: the checkpoint's cosignatures do not meet the quorum.
    QuorumNotMet,
}

impl FindingClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingClass::Fork => "fork",
            FindingClass::Truncation => "truncation",
            FindingClass::ModifiedEntry => "modified entry",
            FindingClass::ReorderedEntries => "reordered entries",
            FindingClass::BrokenChain => "broken chain",
            FindingClass::BackLink => "back-link mismatch",
            FindingClass::SecretMaterial => "secret material",
            FindingClass::BadSignature => "bad signature",
            FindingClass::MalformedCheckpoint => "malformed checkpoint",
            FindingClass::QuorumNotMet => "quorum not met",
        }
    }
}

impl fmt::Display for FindingClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub class: FindingClass,
    /// The entry index, or for a checkpoint the tree size, where it was found.
    pub index: u64,
    pub detail: String,
}

/// The most findings a round keeps; later ones are counted only.
pub const MAX_KEPT_FINDINGS: usize = 1000;

/// The findings of one round, the first `MAX_KEPT_FINDINGS` kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub kept: Vec<Finding>,
    pub total: u64,
}

impl Findings {
    pub fn add(&mut self, class: FindingClass, index: u64, detail: String) {
        self.total += 1;
        if self.kept.len() < MAX_KEPT_FINDINGS {
            self.kept.push(Finding {
                class,
                index,
                detail,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}
