//! Newtypes for positions in the log: `Seq` (an entry's index) and `TreeSize` (a count of entries).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The index of an entry in the log, starting at 0. Entry `Seq(n)` is leaf `n` of the Merkle tree.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// The number of entries in a log or tree. A tree of size `n` holds `Seq(0)..Seq(n)`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct TreeSize(pub u64);

impl Seq {
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
    /// The size of the smallest tree that contains this entry.
    pub fn covering_size(self) -> TreeSize {
        TreeSize(self.0 + 1)
    }
    /// Whether a tree of `size` contains this entry.
    pub fn is_in(self, size: TreeSize) -> bool {
        self.0 < size.0
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TreeSize {
    /// The index the next appended entry will get.
    pub fn next_seq(self) -> Seq {
        Seq(self.0)
    }
}
