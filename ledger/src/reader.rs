//! Read access to a ledger: entries, checkpoints, proofs, index heads and positions. Used by the
//! writer's own process and by read-only processes through a RocksDB secondary instance, which
//! follows a running writer without blocking it.

use crate::batch::Position;
use crate::store::{self, *};
use crate::tree::{StoredNodes, TreeError};
use idledger_proto::checkpoint::Checkpoint;
use idledger_proto::entry::{Entry, LeafError};
use idledger_proto::hash::Hash;
use idledger_proto::merkle::{self, ProofRequestError};
use idledger_proto::note::{VerifierKey, parse_note};
use idledger_proto::proof::TlogProof;
use idledger_proto::{Seq, TreeSize};
use rocksdb::DB;
use std::path::{Path, PathBuf};

/// A chunk number's key range: first and past-the-end index (`None`: unbounded).
type ChunkBounds = Box<dyn Fn(u64) -> (Option<u64>, Option<u64>) + Sync>;

pub use crate::store::HeadKind;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no ledger at {0}: run `idledger init --data {0}` first")]
    NotFound(PathBuf),
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("tree: {0}")]
    Tree(#[from] TreeError),
    #[error("entry {0} is not in the ledger")]
    NoEntry(u64),
    #[error("entry {index}: {source}")]
    BadEntry { index: u64, source: LeafError },
    #[error(transparent)]
    Request(#[from] ProofRequestError),
    #[error("the ledger has no signed checkpoint yet")]
    NoCheckpoint,
    #[error("stored metadata is damaged: {0}")]
    Damaged(String),
}

/// The entries of one chunk of a parallel scan, in key order: `next` gives each key and value.
pub struct ChunkCursor<'a> {
    it: rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
    started: bool,
}

impl std::fmt::Debug for ChunkCursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCursor")
            .field("started", &self.started)
            .finish()
    }
}

impl<'a> ChunkCursor<'a> {
    fn new(db: &'a DB, lower: Option<u64>, upper: Option<u64>) -> ChunkCursor<'a> {
        let cf = db
            .cf_handle(CF_ENTRIES)
            .expect("entries column family exists");
        let mut ro = rocksdb::ReadOptions::default();
        // A one-pass scan: every reader of a chunk parses (and verification hashes) what it
        // reads, and it should not churn the block cache that point reads rely on.
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        if let Some(l) = lower {
            ro.set_iterate_lower_bound(seq_key(l).to_vec());
        }
        if let Some(u) = upper {
            ro.set_iterate_upper_bound(seq_key(u).to_vec());
        }
        let mut it = db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        ChunkCursor { it, started: false }
    }

    /// The next entry's key and bytes.
    #[allow(clippy::should_implement_trait)] // A lending iterator: items borrow the cursor.
    pub fn next(&mut self) -> Option<(&[u8], &[u8])> {
        if self.started {
            self.it.next();
        }
        self.started = true;
        match (self.it.key(), self.it.value()) {
            (Some(k), Some(v)) => Some((k, v)),
            _ => None,
        }
    }

    /// The next entry's index (its key) and bytes; a key that is not an index is damage.
    pub fn next_entry(&mut self) -> Result<Option<(u64, &[u8])>, ReadError> {
        match self.next() {
            None => Ok(None),
            Some((k, v)) => {
                let index = <[u8; 8]>::try_from(k)
                    .map(u64::from_be_bytes)
                    .map_err(|_| ReadError::Damaged("entry key is not 8 bytes".into()))?;
                Ok(Some((index, v)))
            }
        }
    }

    /// The iterator's error, if reading stopped on one.
    pub fn status(&self) -> Result<(), ReadError> {
        Ok(self.it.status()?)
    }
}

/// Reads over a database handle owned elsewhere.
#[derive(Clone, Copy)]
pub struct LedgerReader<'a> {
    db: &'a DB,
    origin: &'a str,
}

impl std::fmt::Debug for LedgerReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerReader")
            .field("origin", &self.origin)
            .finish()
    }
}

/// A read-only handle on a ledger directory (a RocksDB secondary instance).
pub struct ReadOnlyLedger {
    db: DB,
    origin: String,
    _secondary_dir: tempfile_dir::TempDir,
}

impl std::fmt::Debug for ReadOnlyLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyLedger")
            .field("origin", &self.origin)
            .finish()
    }
}

/// A private scratch directory for the secondary instance's own files, removed on drop.
mod tempfile_dir {
    use std::path::{Path, PathBuf};
    #[derive(Debug)]
    pub struct TempDir(PathBuf);
    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let mut n = [0u8; 8];
            getrandom::fill(&mut n).map_err(|e| std::io::Error::other(e.to_string()))?;
            let p = std::env::temp_dir().join(format!("idledger-secondary-{}", hex::encode(n)));
            std::fs::create_dir_all(&p)?;
            Ok(TempDir(p))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl ReadOnlyLedger {
    pub fn open(dir: &Path) -> Result<ReadOnlyLedger, ReadError> {
        let path = db_path(dir);
        if !path.join("CURRENT").exists() {
            return Err(ReadError::NotFound(dir.to_owned()));
        }
        let scratch = tempfile_dir::TempDir::new()
            .map_err(|e| ReadError::Damaged(format!("cannot create scratch directory: {e}")))?;
        let db = store::open_secondary(&path, scratch.path())?;
        db.try_catch_up_with_primary()?;
        let meta = db.cf_handle(CF_META).expect("meta column family exists");
        let origin = db
            .get_cf(&meta, META_ORIGIN)?
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| ReadError::Damaged("no origin".into()))?;
        Ok(ReadOnlyLedger {
            db,
            origin,
            _secondary_dir: scratch,
        })
    }

    /// Catches up with a running writer.
    pub fn refresh(&self) -> Result<(), ReadError> {
        Ok(self.db.try_catch_up_with_primary()?)
    }

    pub fn reader(&self) -> LedgerReader<'_> {
        LedgerReader::over(&self.db, &self.origin)
    }

    pub fn db(&self) -> &DB {
        &self.db
    }
}

impl<'a> LedgerReader<'a> {
    pub fn over(db: &'a DB, origin: &'a str) -> LedgerReader<'a> {
        LedgerReader { db, origin }
    }

    fn cf(&self, name: &str) -> &'a rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column family exists")
    }

    pub fn db(&self) -> &'a DB {
        self.db
    }

    pub fn origin(&self) -> &'a str {
        self.origin
    }

    /// The size of the tree as committed (the last complete batch).
    pub fn size(&self) -> Result<TreeSize, ReadError> {
        let v = self.db.get_cf(self.cf(CF_META), META_TREE_SIZE)?;
        v.and_then(|v| be_u64(&v))
            .map(TreeSize)
            .ok_or_else(|| ReadError::Damaged("tree size missing".into()))
    }

    pub fn entry_bytes(&self, seq: Seq) -> Result<Vec<u8>, ReadError> {
        self.db
            .get_cf(self.cf(CF_ENTRIES), seq_key(seq.0))?
            .ok_or(ReadError::NoEntry(seq.0))
    }

    /// The stored hash tile at `level` and `index` (its hashes concatenated; the last tile of a
    /// level holds as many as the tree has so far), if any.
    pub fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.db.get_cf(self.cf(CF_TILES), tile_key(level, index))?)
    }

    pub fn entry(&self, seq: Seq) -> Result<Entry, ReadError> {
        let bytes = self.entry_bytes(seq)?;
        Entry::decode(&bytes).map_err(|source| ReadError::BadEntry {
            index: seq.0,
            source,
        })
    }

    /// The latest signed checkpoint: its tree size and note text.
    pub fn latest_checkpoint(&self) -> Result<(TreeSize, String), ReadError> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_CHECKPOINTS));
        it.seek_to_last();
        match (it.key(), it.value()) {
            (Some(k), Some(v)) => Ok((
                TreeSize(be_u64(k).ok_or_else(|| ReadError::Damaged("checkpoint key".into()))?),
                String::from_utf8_lossy(v).into_owned(),
            )),
            _ => Err(ReadError::NoCheckpoint),
        }
    }

    /// The stored checkpoint for exactly this size, if one was signed.
    pub fn checkpoint_at(&self, size: TreeSize) -> Result<Option<String>, ReadError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_CHECKPOINTS), seq_key(size.0))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The first stored checkpoint that covers entry `seq` (the one signed with its batch):
    /// its size and note.
    pub fn checkpoint_covering(&self, seq: Seq) -> Result<(TreeSize, String), ReadError> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_CHECKPOINTS));
        it.seek(seq_key(seq.0.saturating_add(1)));
        let found = match (it.key(), it.value()) {
            (Some(k), Some(v)) => be_u64(k)
                .filter(|_| k.len() == 8)
                .map(|size| (TreeSize(size), String::from_utf8_lossy(v).into_owned())),
            _ => None,
        };
        it.status()?;
        found.ok_or(ReadError::NoCheckpoint)
    }

    /// The indexes of the log's key records (`meta.key_records`); just the genesis entry for a
    /// ledger no writer of this version has opened yet.
    pub fn key_records(&self) -> Result<Vec<u64>, ReadError> {
        match self.db.get_cf(self.cf(CF_META), META_KEY_RECORDS)? {
            Some(v) => decode_key_records(&v)
                .ok_or_else(|| ReadError::Damaged("the key record index".into())),
            None => Ok(vec![0]),
        }
    }

    /// Verifier keys named in the latest checkpoint's signer list.
    pub fn signer_keys(&self) -> Result<Vec<VerifierKey>, ReadError> {
        let v = self
            .db
            .get_cf(self.cf(CF_META), META_SIGNERS)?
            .unwrap_or_default();
        String::from_utf8_lossy(&v)
            .lines()
            .map(|l| VerifierKey::parse(l).map_err(|e| ReadError::Damaged(e.to_string())))
            .collect()
    }

    pub fn root_at(&self, size: TreeSize) -> Result<Hash, ReadError> {
        Ok(merkle::root(&StoredNodes::new(self.db), size)?)
    }

    pub fn inclusion_proof(&self, seq: Seq, size: TreeSize) -> Result<Vec<Hash>, ReadError> {
        Ok(merkle::inclusion_proof(
            &StoredNodes::new(self.db),
            seq,
            size,
        )??)
    }

    pub fn consistency_proof(&self, from: TreeSize, to: TreeSize) -> Result<Vec<Hash>, ReadError> {
        Ok(merkle::consistency_proof(
            &StoredNodes::new(self.db),
            from,
            to,
        )??)
    }

    /// A C2SP tlog-proof for entry `seq` under the latest checkpoint, carrying the leaf bytes.
    /// A tlog-proof for `seq` under the latest checkpoint, with the cosignatures stored for it.
    pub fn tlog_proof(&self, seq: Seq) -> Result<TlogProof, ReadError> {
        let (size, note) = self.latest_checkpoint_cosigned()?;
        self.tlog_proof_under(seq, size, note)
    }

    /// A tlog-proof for `seq` under a given checkpoint (size and note).
    pub fn tlog_proof_under(
        &self,
        seq: Seq,
        size: TreeSize,
        note: String,
    ) -> Result<TlogProof, ReadError> {
        let path = self.inclusion_proof(seq, size)?;
        Ok(TlogProof {
            extra: Some(self.entry_bytes(seq)?),
            index: seq,
            path,
            checkpoint_note: note,
        })
    }

    /// The leaves of several entries, read in one batched MultiGet.
    pub fn leaves(&self, seqs: &[Seq]) -> Result<Vec<Vec<u8>>, ReadError> {
        self.leaves_with(seqs, true)
    }

    /// As `leaves`, for reads that sweep much of the log (reports): they do not fill the block
    /// cache, so they do not evict what point queries rely on.
    pub fn leaves_sweeping(&self, seqs: &[Seq]) -> Result<Vec<Vec<u8>>, ReadError> {
        self.leaves_with(seqs, false)
    }

    fn leaves_with(&self, seqs: &[Seq], fill_cache: bool) -> Result<Vec<Vec<u8>>, ReadError> {
        let keys: Vec<[u8; 8]> = seqs.iter().map(|s| seq_key(s.0)).collect();
        let mut ro = rocksdb::ReadOptions::default();
        ro.fill_cache(fill_cache);
        seqs.iter()
            .zip(
                self.db
                    .batched_multi_get_cf_opt(self.cf(CF_ENTRIES), &keys, false, &ro),
            )
            .map(|(seq, leaf)| Ok(leaf?.ok_or(ReadError::NoEntry(seq.0))?.to_vec()))
            .collect()
    }

    /// tlog-proofs for several entries under one checkpoint, sharing one tile cache.
    pub fn tlog_proofs_under(
        &self,
        seqs: &[Seq],
        size: TreeSize,
        note: &str,
    ) -> Result<Vec<TlogProof>, ReadError> {
        // All the leaves in one batched MultiGet.
        let keys: Vec<[u8; 8]> = seqs.iter().map(|s| seq_key(s.0)).collect();
        let leaves: Vec<Vec<u8>> = seqs
            .iter()
            .zip(
                self.db
                    .batched_multi_get_cf(self.cf(CF_ENTRIES), &keys, false),
            )
            .map(|(seq, leaf)| Ok(leaf?.ok_or(ReadError::NoEntry(seq.0))?.to_vec()))
            .collect::<Result<_, ReadError>>()?;
        // One thread and one node cache for the whole list: proofs of nearby entries share
        // tiles. (Splitting a long list over a second thread spawned per call did not shorten
        // a 100-entry history's proofs measurably, and under jemalloc the new thread's cache set
        // up and torn down on every call about doubled history's p99 at 1M entries.)
        let nodes = StoredNodes::new(self.db);
        seqs.iter()
            .zip(leaves)
            .map(|(&seq, leaf)| {
                let path = merkle::inclusion_proof(&nodes, seq, size)??;
                Ok(TlogProof {
                    extra: Some(leaf),
                    index: seq,
                    path,
                    checkpoint_note: note.to_owned(),
                })
            })
            .collect()
    }

    pub fn head(&self, kind: HeadKind, id: &str) -> Result<Option<Seq>, ReadError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_HEADS), head_key(kind, id))?
            .and_then(|v| be_u64(&v))
            .map(Seq))
    }

    /// Grants that named `resource`, with the index of each grant's first such entry.
    pub fn grants_for_resource(&self, resource: &str) -> Result<Vec<(String, Seq)>, ReadError> {
        let prefix = resource_key(resource, "");
        let mut out = Vec::new();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_RESOURCES));
        it.seek(&prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&prefix) {
                break;
            }
            let grant = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((grant, Seq(be_u64(v).unwrap_or(0))));
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    pub fn positions(&self) -> Result<Vec<Position>, ReadError> {
        let mut out = Vec::new();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_POSITIONS));
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let (topic, partition) =
                parse_position_key(k).ok_or_else(|| ReadError::Damaged("position key".into()))?;
            let next = be_u64(v).ok_or_else(|| ReadError::Damaged("position value".into()))?;
            out.push(Position {
                topic,
                partition,
                next_offset: next as i64,
            });
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The number of identical duplicates skipped so far.
    pub fn duplicates_skipped(&self) -> Result<u64, ReadError> {
        Ok(self
            .db
            .get_cf(self.cf(CF_META), META_DUPLICATES)?
            .and_then(|v| be_u64(&v))
            .unwrap_or(0))
    }

    /// Calls `f` with each entry's index and bytes, in order, from `from` up to the committed size.
    pub fn scan<F: FnMut(Seq, &[u8]) -> Result<(), E>, E: From<ReadError>>(
        &self,
        from: Seq,
        mut f: F,
    ) -> Result<(), E> {
        let size = self.size()?;
        let mut it = self.db.raw_iterator_cf(self.cf(CF_ENTRIES));
        it.seek(seq_key(from.0));
        let mut expected = from.0;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let seq = be_u64(k).ok_or_else(|| ReadError::Damaged("entry key".into()))?;
            if seq >= size.0 {
                break;
            }
            if seq != expected {
                return Err(ReadError::NoEntry(expected).into());
            }
            f(Seq(seq), v)?;
            expected += 1;
            it.next();
        }
        it.status().map_err(ReadError::from)?;
        if expected < size.0 {
            return Err(ReadError::NoEntry(expected).into());
        }
        Ok(())
    }

    /// Every stored entry from `start` on, whatever its key (for reading what lies past the
    /// tree in one pass).
    pub fn cursor_from(&self, start: u64) -> ChunkCursor<'a> {
        ChunkCursor::new(self.db, Some(start), None)
    }

    /// Reads `entries` keys from `start` (inclusive) to `end` (exclusive; `None`: everything
    /// after, including keys that are not 8 bytes) in chunks of `chunk` keys. `threads` workers
    /// call `map` on chunks in parallel; `fold` receives the results in key order, at most a
    /// few chunks ahead of it in memory. A failing `map` or `fold` stops the scan with its error.
    pub fn par_chunks<T, E, M, F>(
        &self,
        start: u64,
        end: Option<u64>,
        threads: usize,
        chunk: u64,
        map: M,
        mut fold: F,
    ) -> Result<(), E>
    where
        T: Send,
        E: Send + From<ReadError>,
        M: Fn(&mut ChunkCursor<'_>) -> Result<T, E> + Sync,
        F: FnMut(T) -> Result<(), E>,
    {
        let chunk = chunk.max(1);
        let (count, bounds): (u64, ChunkBounds) = match end {
            Some(end) => (
                end.saturating_sub(start).div_ceil(chunk),
                Box::new(move |k| {
                    (
                        Some(start + k * chunk),
                        Some((start + (k + 1) * chunk).min(end)),
                    )
                }),
            ),
            None => {
                // Open-ended (verification): chunks up to the committed size, then one more
                // for anything stored past it.
                let size = self.size()?.0.max(start);
                let n = (size - start).div_ceil(chunk) + 1;
                (
                    n,
                    Box::new(move |k| {
                        (
                            (k > 0 || start > 0).then_some(start + k * chunk),
                            (k + 1 < n).then_some(start + (k + 1) * chunk),
                        )
                    }),
                )
            }
        };
        let db = self.db;
        let run = |k: u64| -> Result<T, E> {
            let (lo, hi) = bounds(k);
            let mut cursor = ChunkCursor::new(db, lo, hi);
            let out = map(&mut cursor)?;
            cursor.status().map_err(E::from)?;
            Ok(out)
        };
        let threads = threads.max(1) as u64;
        if threads == 1 {
            for k in 0..count {
                fold(run(k)?)?;
            }
            return Ok(());
        }
        // Worker `w` takes chunks w, w + T, w + 2T, ...; the fold takes them from each worker's
        // short queue in turn, which keeps key order and bounds memory.
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let receivers: Vec<_> = (0..threads)
                .map(|w| {
                    let (tx, rx) = std::sync::mpsc::sync_channel(2);
                    let (run, stop) = (&run, &stop);
                    s.spawn(move || {
                        let mut k = w;
                        while k < count && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            if tx.send(run(k)).is_err() {
                                break;
                            }
                            k += threads;
                        }
                    });
                    rx
                })
                .collect();
            let result = (|| {
                for k in 0..count {
                    let out = receivers[(k % threads) as usize]
                        .recv()
                        .expect("a scan worker sends every chunk it is given")?;
                    fold(out)?;
                }
                Ok(())
            })();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            drop(receivers);
            result
        })
    }

    /// The checkpoint text of a stored note (without verifying it).
    pub fn parse_checkpoint_note(note: &str) -> Option<Checkpoint> {
        let parsed = parse_note(note).ok()?;
        Checkpoint::parse(&parsed.text).ok().map(|(c, _)| c)
    }
}
