//! A read-only ledger for a reader that lives long beside writers that come and go (a server
//! beside one `idledger append` after another): it catches up with the writer, and when what it
//! sees is stale it opens a fresh RocksDB secondary and reads through that from then on.
//!
//! A secondary replays the writer's WAL into its own memtable. When the writer then flushes
//! and closes (each `append` does), the entries the secondary had not replayed yet are read from
//! the flushed files, but values it had replayed stay in its memtable and shadow the newer
//! flushed ones, across any number of catch-ups (facebook/rocksdb#15051). Keys that are only
//! ever added (entries, checkpoints) are unaffected; keys that are overwritten (the tree size,
//! partial tiles, heads) go stale. Every batch writes its checkpoint and the tree size together,
//! so the symptom is plain: a latest checkpoint past the tree size. Then the secondary is
//! replaced.
//!
//! Reads hold the handle they started with (`current`): a swap never pulls a database from
//! under a read, and the old secondary closes when the last read through it ends.

use crate::reader::{LedgerReader, ReadError, ReadOnlyLedger};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A read-only ledger that stays current beside writers that open and close it.
pub struct FollowedLedger {
    dir: PathBuf,
    current: RwLock<Arc<ReadOnlyLedger>>,
    reopened: AtomicU64,
}

impl std::fmt::Debug for FollowedLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowedLedger")
            .field("dir", &self.dir)
            .field("reopened", &self.reopened())
            .finish()
    }
}

/// What a refresh did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// Caught up with the writer; what it sees is consistent.
    CaughtUp,
    /// What it saw was stale (the tree size `stale_size` below the latest checkpoint's
    /// `checkpoint`): a fresh secondary replaced it.
    Reopened { stale_size: u64, checkpoint: u64 },
}

/// A stale view's tree size and latest checkpoint size, if the view is stale.
fn stale(reader: &LedgerReader<'_>) -> Result<Option<(u64, u64)>, ReadError> {
    let checkpoint = match reader.latest_checkpoint() {
        Ok((size, _)) => size.0,
        Err(ReadError::NoCheckpoint) => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = reader.size()?.0;
    Ok((size < checkpoint).then_some((size, checkpoint)))
}

impl FollowedLedger {
    pub fn open(dir: &Path) -> Result<FollowedLedger, ReadError> {
        Ok(FollowedLedger {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(ReadOnlyLedger::open(dir)?)),
            reopened: AtomicU64::new(0),
        })
    }

    /// The handle reads go through now; a read that keeps it sees one database throughout.
    pub fn current(&self) -> Arc<ReadOnlyLedger> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many times a stale secondary was replaced.
    pub fn reopened(&self) -> u64 {
        self.reopened.load(Ordering::Relaxed)
    }

    /// Catches up with the writer, and replaces the secondary if what it sees is stale.
    pub fn refresh(&self) -> Result<Refreshed, ReadError> {
        let current = self.current();
        current.refresh()?;
        let Some((stale_size, checkpoint)) = stale(&current.reader())? else {
            return Ok(Refreshed::CaughtUp);
        };
        // Opening replays what the writer has not flushed; the lock is taken only to swap.
        let fresh = Arc::new(ReadOnlyLedger::open(&self.dir)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.reopened.fetch_add(1, Ordering::Relaxed);
        Ok(Refreshed::Reopened {
            stale_size,
            checkpoint,
        })
    }
}
