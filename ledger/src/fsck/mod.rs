//! Full verification, trusting only the auditor's keys: recompute every leaf hash, chain link
//! and back-link, every checkpoint's root, link and signatures along the chain of custody, the
//! stored tiles, indexes and positions; require a checkpoint signed by a trusted key at the
//! log's size; and, given an auditor's checkpoint, that the log is an append-only extension of
//! it. Every value read from the database is untrusted: damage is a finding, never a panic.
//!
//! Workers read, hash and parse chunks of entries in parallel (`walk`); one thread merges them
//! in index order (`Walk` below) for the chain, the tree (`tree_check`), the checkpoints
//! (`checkpoints`) and the back-links (`indexes`); meanwhile another thread reads the index
//! column families as keyed multisets, compared with what the walk rebuilt.

mod checkpoints;
mod incremental;
mod indexes;
mod report;
mod tree_check;
mod walk;
mod witnessed;

pub use report::{FailureClass, Finding, FsckReport, MAX_KEPT_FINDINGS, UnavailableOffsets};
pub use witnessed::WitnessedReport;

use crate::reader::{LedgerReader, ReadError};
use crate::store::*;
use crate::tree::TILE_HEIGHT;
use checkpoints::CheckpointWalk;
use idledger_proto::Hash;
use idledger_proto::checkpoint::Checkpoint;
use idledger_proto::custody::ScheduleError;
use idledger_proto::merkle::compact::CompactRange;
use idledger_proto::note::{NoteError, VerifierKey};
use idledger_proto::proof::{TlogProofError, verify_checkpoint};
use idledger_proto::witness_policy::Policy;
use indexes::Rebuilt;
use tree_check::{SubtreeCursor, TileCursor};
use walk::{BodyFacts, ChunkOut, Fingerprints, Walked};

/// What the auditor trusts: their keys (the verifier keys of the log, or any later key of its
/// chain of custody), and optionally a checkpoint they kept earlier.
#[derive(Clone, Debug)]
pub struct Trust {
    pub keys: Vec<VerifierKey>,
    pub checkpoint_note: Option<String>,
}

pub struct FsckOptions<'a> {
    pub trust: Trust,
    pub threads: usize,
    /// Entries per unit of parallel work (tests use small chunks to cross many boundaries).
    pub chunk_entries: u64,
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
    /// Witnesses whose cosignatures must meet a quorum on a stored checkpoint (docs/WITNESS.md).
    pub witness_policy: Option<&'a Policy>,
    /// Verify from the trusted checkpoint forward (`incremental`) instead of the whole log;
    /// without a trusted checkpoint, the whole log is verified.
    pub from_trusted: bool,
}

impl std::fmt::Debug for FsckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsckOptions")
            .field("trust", &self.trust)
            .field("threads", &self.threads)
            .field("chunk_entries", &self.chunk_entries)
            .finish()
    }
}

impl FsckOptions<'_> {
    /// Two threads, chunks of 4096 entries, no progress.
    pub fn new(trust: Trust) -> FsckOptions<'static> {
        FsckOptions {
            trust,
            threads: 2,
            chunk_entries: 4096,
            progress: None,
            witness_policy: None,
            from_trusted: false,
        }
    }
}

/// The sequential half of verification: entries arrive in index order.
struct Walk<'a> {
    db: &'a rocksdb::DB,
    /// The tree size the ledger claims.
    size: u64,
    expected: u64,
    prev_leaf: Option<Hash>,
    /// The tree of the entries so far; `None` past a missing entry, whose hash nobody knows.
    range: Option<CompactRange>,
    tiles: TileCursor,
    subtrees: SubtreeCursor,
    rebuilt: Rebuilt,
    checkpoints: CheckpointWalk<'a>,
    trusted: Option<Checkpoint>,
    trusted_root_seen: Option<Hash>,
    report: FsckReport,
}

impl Walk<'_> {
    fn merge(&mut self, out: ChunkOut) -> Result<(), ReadError> {
        self.rebuilt.topics.extend(out.topics);
        for d in out.walked {
            self.entry(d)?;
        }
        Ok(())
    }

    fn entry(&mut self, d: Walked) -> Result<(), ReadError> {
        self.report.bytes_hashed += u64::from(d.len);
        if d.key >= self.size {
            self.report.add(
                FailureClass::InsertedEntry,
                d.key,
                format!(
                    "entry {} is beyond the committed tree size {}",
                    d.key, self.size
                ),
            );
            return Ok(());
        }
        if d.key > self.expected {
            self.report.add(
                FailureClass::MissingEntry,
                self.expected,
                format!("entries {} to {} are missing", self.expected, d.key - 1),
            );
            // No root can be recomputed past a hole; checkpoints up to here are still checked
            // for their signatures and links.
            self.range = None;
            self.prev_leaf = None;
            self.checkpoints.up_to(d.key, None, &mut self.report);
            self.expected = d.key;
        }
        self.report.entries_checked += 1;
        // The level-0 tile holds the leaf hash the tree committed to.
        let tile_hash = self.tiles.hash(self.db, 0, d.key)?;
        match &d.facts {
            Err(e) => self.report.add(
                FailureClass::ModifiedEntry,
                d.key,
                format!("entry {} does not decode: {e}", d.key),
            ),
            Ok(facts) if facts.seq != d.key => self.report.add(
                FailureClass::ReorderedEntries,
                d.key,
                format!("entry at index {} says it is entry {}", d.key, facts.seq),
            ),
            Ok(facts) => {
                self.leaf(&d, tile_hash, facts.prev);
                if let Some(location) = &facts.secret {
                    self.report.add(
                        FailureClass::SecretMaterial,
                        d.key,
                        format!("entry {} holds secret material at {location}", d.key),
                    );
                }
                if d.key == 0
                    && !matches!(
                        facts.body,
                        BodyFacts::System(idledger_proto::SystemRecord::Genesis { .. })
                    )
                {
                    self.report.add(
                        FailureClass::ModifiedEntry,
                        0,
                        ScheduleError::NoGenesis.to_string(),
                    );
                }
                if let BodyFacts::System(record) = &facts.body {
                    self.checkpoints.record(d.key, record, &mut self.report);
                }
                self.rebuilt.entry(d.key, facts, &mut self.report);
            }
        }
        self.tree_nodes(&d)?;
        self.prev_leaf = Some(d.leaf);
        self.expected = d.key + 1;
        // Roots are computed only where something signed one: a stored checkpoint or the
        // auditor's.
        let range = &self.range;
        let root = || range.as_ref().map(CompactRange::root);
        if let Some(t) = &self.trusted
            && t.size.0 == self.expected
        {
            self.trusted_root_seen = root();
        }
        self.checkpoints
            .up_to_with(self.expected, root, &mut self.report);
        Ok(())
    }

    /// The leaf against the tree's level-0 tile and the hash chain.
    fn leaf(&mut self, d: &Walked, tile_hash: Option<Hash>, prev: Hash) {
        if tile_hash != Some(d.leaf) {
            self.report.add(
                FailureClass::ModifiedEntry,
                d.key,
                format!(
                    "entry {} does not hash to the leaf the tree committed to",
                    d.key
                ),
            );
        } else if let Some(p) = self.prev_leaf {
            if prev != p {
                self.report.add(
                    FailureClass::ModifiedEntry,
                    d.key.saturating_sub(1),
                    format!("entry {} does not chain to entry {}", d.key, d.key - 1),
                );
            }
        } else if d.key == 0 && prev != Hash::ZERO {
            self.report.add(
                FailureClass::ModifiedEntry,
                0,
                "entry 0 must chain to the zero hash".into(),
            );
        }
    }

    /// Every perfect subtree the leaf completes against the stored tiles and interior hashes.
    fn tree_nodes(&mut self, d: &Walked) -> Result<(), ReadError> {
        let Some(range) = &mut self.range else {
            return Ok(());
        };
        let (db, size) = (self.db, self.size);
        let (tiles, subtrees) = (&mut self.tiles, &mut self.subtrees);
        let mut mismatch = Ok(None);
        range.push(d.leaf, |height, node, hash| {
            if mismatch.as_ref().is_ok_and(Option::is_none) {
                let level = (height / TILE_HEIGHT) as u8;
                let r = height % TILE_HEIGHT;
                mismatch = if r == 0 {
                    tiles
                        .hash(db, level, node)
                        .map(|stored| (stored != Some(hash)).then_some((height, node)))
                } else {
                    subtrees
                        .hash(db, size, level, r, node)
                        .map(|stored| match stored {
                            // Not a full tile at this size: nothing stored to compare.
                            None => None,
                            Some(stored) => (stored != Some(hash)).then_some((height, node)),
                        })
                };
            }
        });
        if let Some((height, node)) = mismatch? {
            self.report.add(
                FailureClass::IndexMismatch,
                d.key,
                format!(
                    "stored tree node {node} at height {height} does not match the entries below it"
                ),
            );
        }
        Ok(())
    }
}

/// The stored checkpoints, in order of size (a damaged key sorts last and is reported as a
/// checkpoint beyond the log).
fn stored_checkpoints(db: &rocksdb::DB) -> Result<Vec<(u64, String)>, ReadError> {
    stored_checkpoints_from(db, 0)
}

/// The stored checkpoints of sizes from `from` on (and any damaged key), in order of size.
fn stored_checkpoints_from(db: &rocksdb::DB, from: u64) -> Result<Vec<(u64, String)>, ReadError> {
    let cf = db.cf_handle(CF_CHECKPOINTS).expect("column family exists");
    let mut out = Vec::new();
    let mut it = db.raw_iterator_cf(cf);
    it.seek(from.to_be_bytes());
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        out.push((
            be_u64(k).filter(|_| k.len() == 8).unwrap_or(u64::MAX),
            String::from_utf8_lossy(v).into_owned(),
        ));
        it.next();
    }
    it.status()?;
    out.sort_by_key(|(size, _)| *size);
    Ok(out)
}

/// The tree size the ledger claims, and where its entries really end: a damaged size is a
/// finding, and the walk then covers what is stored.
fn claimed_size(reader: &LedgerReader<'_>, report: &mut FsckReport) -> Result<u64, ReadError> {
    let db = reader.db();
    let entries = db.cf_handle(CF_ENTRIES).expect("column family exists");
    let mut it = db.raw_iterator_cf(entries);
    it.seek_to_last();
    let stored_end = it.key().and_then(be_u64).map_or(0, |k| k.saturating_add(1));
    it.status()?;
    drop(it);
    match reader.size() {
        Ok(size) => Ok(size.0),
        Err(ReadError::Damaged(_)) => {
            report.add(
                FailureClass::IndexMismatch,
                0,
                "the stored tree size is missing or damaged".into(),
            );
            Ok(stored_end)
        }
        Err(e) => Err(e),
    }
}

/// The auditor's checkpoint, verified with the auditor's keys alone.
fn trusted_checkpoint(trust: &Trust, origin: &str, report: &mut FsckReport) -> Option<Checkpoint> {
    let note = trust.checkpoint_note.as_ref()?;
    match verify_checkpoint(note, Some(origin), &trust.keys) {
        Ok(v) => Some(v.checkpoint),
        Err(e) => {
            let class = match e {
                TlogProofError::Note(NoteError::UnknownKey { .. })
                | TlogProofError::NoKeyForOrigin { .. } => FailureClass::UnknownKey,
                _ => FailureClass::ForgedSignature,
            };
            report.add(class, 0, format!("trusted checkpoint does not verify: {e}"));
            None
        }
    }
}

/// Verifies everything the ledger stores against the auditor's trust.
pub fn fsck(reader: &LedgerReader<'_>, opts: &FsckOptions<'_>) -> Result<FsckReport, ReadError> {
    if opts.from_trusted && opts.trust.checkpoint_note.is_some() {
        let mut report = FsckReport::default();
        let Some(trusted) = trusted_checkpoint(&opts.trust, reader.origin(), &mut report) else {
            return Ok(report);
        };
        let mut report = incremental::fsck_from(reader, opts, &trusted)?;
        let size = report.tree_size;
        witnessed::check_witnessed(reader, &opts.trust, opts.witness_policy, size, &mut report)?;
        return Ok(report);
    }
    let db = reader.db();
    let origin = reader.origin();
    let mut report = FsckReport::default();
    let size = claimed_size(reader, &mut report)?;
    report.tree_size = size;
    let fp = Fingerprints {
        state: std::hash::RandomState::new(),
    };
    if !opts.trust.keys.iter().any(|k| k.name() == origin) {
        report.add(
            FailureClass::UnknownKey,
            0,
            format!("none of the keys you trust is named `{origin}`, the origin of this log"),
        );
    }
    let trusted = trusted_checkpoint(&opts.trust, origin, &mut report);
    let mut walk = Walk {
        db,
        size,
        expected: 0,
        prev_leaf: None,
        range: Some(CompactRange::default()),
        tiles: TileCursor { cached: Vec::new() },
        subtrees: SubtreeCursor { cached: Vec::new() },
        rebuilt: Rebuilt::default(),
        checkpoints: CheckpointWalk::new(origin, stored_checkpoints(db)?, &opts.trust.keys),
        trusted_root_seen: trusted
            .as_ref()
            .filter(|t| t.size.0 == 0)
            .map(|_| idledger_proto::hash::empty_root()),
        trusted,
        report,
    };
    // Sized once from RocksDB's estimate of the stored heads (an entry names at most three ids),
    // so the map does not rehash as it grows; bounded, as the estimate is read from the files.
    let heads_estimate = db
        .property_int_value_cf(
            db.cf_handle(CF_HEADS).expect("column family exists"),
            "rocksdb.estimate-num-keys",
        )
        .ok()
        .flatten()
        .unwrap_or(0);
    walk.rebuilt
        .heads
        .reserve(heads_estimate.min(size.saturating_mul(3)).min(1 << 26) as usize);
    walk.checkpoints.up_to(
        0,
        Some(idledger_proto::hash::empty_root()),
        &mut walk.report,
    );

    let scan_end = scan_end(db, size);
    let mut fold = |out: ChunkOut| -> Result<(), ReadError> {
        walk.merge(out)?;
        if let Some(p) = opts.progress {
            p(walk.expected.min(size), size);
        }
        Ok(())
    };
    let run_walk = |fold: &mut dyn FnMut(ChunkOut) -> Result<(), ReadError>| {
        reader.par_chunks(
            0,
            Some(scan_end),
            opts.threads,
            opts.chunk_entries,
            |cursor| Ok::<_, ReadError>(walk::walk_chunk(cursor, &fp)),
            &mut *fold,
        )?;
        // Anything stored at or past `scan_end` (entries beyond the tree, damaged keys), read in
        // one pass whatever the keys' values.
        let mut rest = reader.cursor_from(scan_end);
        let out = walk::walk_chunk(&mut rest, &fp);
        rest.status()?;
        fold(out)
    };
    // The index column families are read on a thread of their own while the entries are walked
    // (with more than one thread), and compared once the walk has rebuilt what they should hold.
    let stored = if opts.threads > 1 {
        std::thread::scope(|s| {
            let stored = s.spawn(|| indexes::stored_indexes(db, &fp));
            let walked = run_walk(&mut fold);
            let stored = stored.join().expect("the index reader does not panic");
            walked.and(stored)
        })?
    } else {
        run_walk(&mut fold)?;
        indexes::stored_indexes(db, &fp)?
    };
    let size = walk.size;
    let mut report = finish(reader, walk, &fp, &stored)?;
    witnessed::check_witnessed(reader, &opts.trust, opts.witness_policy, size, &mut report)?;
    Ok(report)
}

/// Where the parallel walk's chunks end: the claimed size, or the last stored entry if that is
/// lower, and never more chunks than the entries RocksDB estimates (a hostile size or key must
/// not make the walk iterate over empty ranges for ever); the rest is read in one pass.
fn scan_end(db: &rocksdb::DB, size: u64) -> u64 {
    let entries = db.cf_handle(CF_ENTRIES).expect("column family exists");
    let mut it = db.raw_iterator_cf(entries);
    it.seek_to_last();
    let last = it.key().and_then(be_u64).map_or(0, |k| k.saturating_add(1));
    let estimate = db
        .property_int_value_cf(entries, "rocksdb.estimate-num-keys")
        .ok()
        .flatten()
        .unwrap_or(0);
    size.min(last).min(estimate.saturating_mul(2).max(1 << 20))
}

/// What the walk leaves to check at the end: the log's length, the checkpoint at its size, the
/// auditor's checkpoint, the indexes, the key record index and the stored tree's extent.
fn finish(
    reader: &LedgerReader<'_>,
    walk: Walk<'_>,
    fp: &Fingerprints,
    stored: &indexes::StoredIndexes,
) -> Result<FsckReport, ReadError> {
    let Walk {
        size,
        expected,
        mut checkpoints,
        trusted,
        trusted_root_seen,
        rebuilt,
        mut report,
        ..
    } = walk;
    if expected < size {
        report.add(
            FailureClass::MissingEntry,
            expected,
            format!("entries {expected} to {} are missing", size - 1),
        );
    }
    let positions = indexes::read_positions(reader.db(), size, &mut report)?;
    let digest =
        idledger_proto::positions::digest(positions.iter().map(|((t, p), n)| (t.as_str(), *p, *n)));
    checkpoints.up_to(size, None, &mut report);
    checkpoints.finish(size, digest, &mut report);
    if let Some(t) = &trusted {
        if t.size.0 > size {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                size,
                format!(
                    "the trusted checkpoint has {} entries; the log has {size}",
                    t.size.0
                ),
            );
        } else if trusted_root_seen != Some(t.root) {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                t.size.0,
                format!("the log's first {} entries differ from the trusted checkpoint: not an append-only extension", t.size.0),
            );
        } else {
            report.extends_trusted = Some(t.size.0);
        }
    }
    report.unavailable_offsets_total = rebuilt.unavailable_total;
    check_key_record_index(reader, &rebuilt, size, &mut report)?;
    indexes::check_conflicts(reader, &rebuilt.conflicts, &mut report)?;
    indexes::check_indexes(reader, size, &rebuilt, fp, stored, &positions, &mut report)?;
    tree_check::check_tile_extents(reader, size, &mut report)?;
    Ok(report)
}

/// `meta.key_records` (layout 3) must list exactly the key records the walk found.
fn check_key_record_index(
    reader: &LedgerReader<'_>,
    rebuilt: &Rebuilt,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let meta = db.cf_handle(CF_META).expect("column family exists");
    if db.get_cf(meta, META_LAYOUT)?.as_deref() != Some(LAYOUT_VERSION) {
        return Ok(());
    }
    let stored = db
        .get_cf(meta, META_KEY_RECORDS)?
        .and_then(|v| decode_key_records(&v));
    if stored.as_ref() != Some(&rebuilt.key_records) {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "the key record index is {stored:?}, the log's key records are at {:?}",
                rebuilt.key_records
            ),
        );
    }
    Ok(())
}
