//! What verification found: failure classes, findings at their index, what the log records as
//! holes in its input, and what could not be proven about a ledger written by an older version.

use std::collections::BTreeMap;
use std::fmt;

/// What kind of damage a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// An entry's bytes differ from what the chain, tiles or checkpoints commit to.
    ModifiedEntry,
    /// An index below the tree size has no entry.
    MissingEntry,
    /// An entry exists at or beyond the committed tree size.
    InsertedEntry,
    /// An entry sits at an index other than the one inside its bytes.
    ReorderedEntries,
    /// The log is shorter than, or diverges from, a checkpoint it signed or an auditor holds.
    TruncatedOrRolledBack,
    /// A signature by a known key does not verify.
    ForgedSignature,
    /// A checkpoint lacks a signature its key records require.
    MissingSignature,
    /// A checkpoint is signed only by keys outside the chain of custody, or the log's size is
    /// not vouched for by a key the auditor trusts.
    UnknownKey,
    /// A checkpoint is gone: the log's size has none, or the chain of checkpoints (each names
    /// the one before it) is broken.
    MissingCheckpoint,
    /// A signed checkpoint whose body or extension lines this verifier cannot read.
    MalformedCheckpoint,
    /// The stored Kafka positions are not the ones the latest checkpoint signed.
    PositionsChanged,
    /// An index, tile, back-link or position disagrees with the entries.
    IndexMismatch,
    /// An entry holds secret material that ingest never keeps (a secret-named member or a PEM
    /// private key block): secret values must never be stored, only fingerprints.
    SecretMaterial,
    /// The auditor gave a witness policy and no checkpoint of the log meets its quorum.
    Unwitnessed,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ModifiedEntry => "modified entry",
            FailureClass::MissingEntry => "missing entry",
            FailureClass::InsertedEntry => "inserted entry",
            FailureClass::ReorderedEntries => "reordered entries",
            FailureClass::TruncatedOrRolledBack => "truncated or rolled-back log",
            FailureClass::ForgedSignature => "forged signature",
            FailureClass::MissingSignature => "missing signature",
            FailureClass::UnknownKey => "unknown key",
            FailureClass::MissingCheckpoint => "missing checkpoint",
            FailureClass::MalformedCheckpoint => "malformed checkpoint",
            FailureClass::PositionsChanged => "positions changed",
            FailureClass::IndexMismatch => "index mismatch",
            FailureClass::SecretMaterial => "secret material",
            FailureClass::Unwitnessed => "not witnessed",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub class: FailureClass,
    /// The entry index (or, for checkpoints, the tree size) where it was found.
    pub index: u64,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default)]
pub struct FsckReport {
    pub tree_size: u64,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub bytes_hashed: u64,
    /// The first findings in index order of discovery (at most `MAX_KEPT_FINDINGS`).
    pub findings: Vec<Finding>,
    pub counts: BTreeMap<FailureClass, u64>,
    /// Set when a trusted checkpoint was given and the log extends it.
    pub extends_trusted: Option<u64>,
    /// The verifier keys the log's key records leave active.
    pub final_keys: Vec<String>,
    /// The keys that vouch for the log at its size: trusted by the auditor, directly or through
    /// the chain of custody, and signers of the checkpoint at the log's size.
    pub vouching_keys: Vec<String>,
    /// Where the log records holes in its input: Kafka offsets gone from the broker before
    /// ingest read them (`OffsetsUnavailable` entries; the first `MAX_KEPT_FINDINGS`). Not
    /// failures: the log says where they are.
    pub unavailable_offsets: Vec<UnavailableOffsets>,
    /// Offsets in all `OffsetsUnavailable` entries.
    pub unavailable_offsets_total: u64,
    /// What this verification could not prove about a ledger written before a rule existed
    /// (not failures: the ledger never claimed them).
    pub unproven: Vec<String>,
    /// The cosigned checkpoints stored beside the log, and how far they witness it.
    pub witnessed: super::witnessed::WitnessedReport,
}

/// One `OffsetsUnavailable` entry: offsets `first..end` of a partition, recorded at `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnavailableOffsets {
    pub index: u64,
    pub topic: String,
    pub partition: i32,
    pub first: i64,
    pub end: i64,
}

pub const MAX_KEPT_FINDINGS: usize = 1000;

impl FsckReport {
    pub fn ok(&self) -> bool {
        self.counts.is_empty()
    }
    pub fn first(&self) -> Option<&Finding> {
        self.findings.first()
    }
    pub(crate) fn add(&mut self, class: FailureClass, index: u64, detail: String) {
        *self.counts.entry(class).or_default() += 1;
        if self.findings.len() < MAX_KEPT_FINDINGS {
            self.findings.push(Finding {
                class,
                index,
                detail,
            });
        }
    }
}
