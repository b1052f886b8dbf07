//! Why the writer refused or failed, with what a caller can act on.

use crate::keys::KeyError;
use crate::reader::ReadError;
use crate::tree::TreeError;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("no ledger at {0}: run `idledger init --data {0}` first")]
    NotFound(PathBuf),
    #[error("a ledger already exists at {0}")]
    AlreadyExists(PathBuf),
    #[error(
        "the ledger at {path} is in use by another process (RocksDB lock held); stop the other idledger process or use a different --data"
    )]
    Locked { path: PathBuf },
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    #[error("key: {0}")]
    Key(#[from] KeyError),
    #[error("read: {0}")]
    Read(#[from] ReadError),
    #[error("invalid origin: {0}")]
    Origin(String),
    #[error("ledger state is inconsistent, refusing to sign: {0}; run `idledger verify`")]
    Inconsistent(String),
    #[error("position for {topic}/{partition} would move back from {stored} to {requested}")]
    PositionRegression {
        topic: String,
        partition: i32,
        stored: i64,
        requested: i64,
    },
    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key rotation: {0}")]
    Rotation(String),
}

/// A failure to open the database, naming a lock held by another process as such.
pub(super) fn map_open_error(dir: &Path, e: rocksdb::Error) -> LedgerError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("Resource temporarily unavailable") {
        LedgerError::Locked {
            path: dir.to_owned(),
        }
    } else {
        LedgerError::Db(e)
    }
}
