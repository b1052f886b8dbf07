//! idledger's log: an append-only, hash-chained, Merkle-committed, Ed25519-signed ledger in
//! RocksDB, with Kafka positions stored atomically with entries, proofs, and full verification.
//! It does no network I/O.

pub mod batch;
pub mod cosigned;
pub mod following;
pub mod fsck;
pub mod keys;
pub mod ledger;
mod opening;
pub mod pkcs11;
pub mod reader;
mod reading;
pub mod store;
pub mod tree;

pub use cosigned::CosignatureStore;
pub use following::{FollowedLedger, Refreshed};
pub use fsck::{FailureClass, FsckOptions, FsckReport, Trust, UnavailableOffsets, fsck};
pub use keys::{KeyDir, KeyError};
pub use ledger::{AppendReport, Item, Ledger, LedgerError, Outcome, Position, Submission};
pub use pkcs11::TokenRef;
pub use reader::{ChunkCursor, HeadKind, LedgerReader, ReadError, ReadOnlyLedger};
