//! The writer: creates and opens a ledger, appends batches atomically (entries, tree tiles,
//! indexes, Kafka positions and a signed checkpoint in one synced RocksDB write), rotates keys.

use crate::keys::{self, KeyDir, KeyError};
use crate::opening::{self, PositionMap};
use crate::reader::{LedgerReader, ReadError};
use crate::store::{self, HeadKind, *};
use crate::tree::{DirtyTiles, Frontier, TreeError, encode_tile};
use idledger_proto::checkpoint::{Checkpoint, Extensions, check_origin};
use idledger_proto::entry::{
    BackLinks, Body, Entry, FORMAT_VERSION, Origin, SystemRecord, encode_event_leaf_into,
};
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::note::{NoteSigner, VerifierKey, sign_note};
use idledger_proto::rejection::{KeptPayload, RejectReason, Rejection};
use idledger_proto::view::EntryView;
use idledger_proto::{Seq, Timestamp, TreeSize, ValidatedEvent};
use rocksdb::{DB, WriteBatch, WriteOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Something to append.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "events are nearly every item; boxing them would allocate once more per event"
)]
pub enum Item {
    Event(ValidatedEvent),
    Rejected(Rejection),
    System(SystemRecord),
}

/// One input to `append`, with where it came from.
#[derive(Debug, Clone)]
pub struct Submission {
    pub origin: Origin,
    pub item: Item,
}

/// The next Kafka offset to consume for a partition, stored atomically with the entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// What happened to one submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Appended(Seq),
    Quarantined(Seq),
    /// Identical to the event already recorded at this index; nothing appended.
    Duplicate(Seq),
}

#[derive(Debug, Clone)]
pub struct AppendReport {
    pub outcomes: Vec<Outcome>,
    pub size: TreeSize,
    pub root: Hash,
    pub checkpoint: String,
    pub appended: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub elapsed: std::time::Duration,
}

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

/// Cached index heads are dropped when the cache holds more ids than this (about 10 MiB).
const HEAD_CACHE_LIMIT: usize = 100_000;

/// The latest entry index per subject, grant and credential id; looked up by `&str` without
/// allocating.
#[derive(Debug, Default)]
struct HeadMap([HashMap<String, u64>; 3]);

impl HeadMap {
    fn slot(kind: HeadKind) -> usize {
        match kind {
            HeadKind::Subject => 0,
            HeadKind::Grant => 1,
            HeadKind::Credential => 2,
        }
    }
    fn get(&self, kind: HeadKind, id: &str) -> Option<u64> {
        self.0[Self::slot(kind)].get(id).copied()
    }
    fn insert(&mut self, kind: HeadKind, id: &str, seq: u64) {
        let map = &mut self.0[Self::slot(kind)];
        match map.get_mut(id) {
            Some(v) => *v = seq,
            None => {
                map.insert(id.to_owned(), seq);
            }
        }
    }
    fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }
    fn clear(&mut self) {
        self.0.iter_mut().for_each(HashMap::clear);
    }
}

/// The heads one batch reads and moves: each distinct (kind, id) looked up once before the
/// batch, then addressed by slot, so the batch itself hashes no ids.
struct BatchHeads {
    /// Per event submission of the batch, in order: the slots of its subject, grant and
    /// credential (`NO_SLOT` where the event names none).
    rows: Vec<[u32; 3]>,
    slots: Vec<HeadSlot>,
}

const NO_SLOT: u32 = u32::MAX;

struct HeadSlot {
    kind: HeadKind,
    id: String,
    /// The latest entry about this id: before the batch, then as the batch appends.
    head: Option<u64>,
    moved: bool,
}

impl BatchHeads {
    fn head(&self, slot: u32) -> Option<u64> {
        self.slots.get(slot as usize).and_then(|s| s.head)
    }

    fn advance(&mut self, row: [u32; 3], seq: u64) {
        for slot in row {
            if let Some(s) = self.slots.get_mut(slot as usize) {
                s.head = Some(seq);
                s.moved = true;
            }
        }
    }

    /// The heads this batch moved, as (kind, id, new head).
    fn into_moved(self) -> Vec<(HeadKind, String, u64)> {
        self.slots
            .into_iter()
            .filter_map(|s| Some((s.kind, s.id, s.head.filter(|_| s.moved)?)))
            .collect()
    }
}

/// Every ledger write: the WAL is fsynced before the write returns (docs/DURABILITY.md).
fn synced() -> WriteOptions {
    let mut o = WriteOptions::default();
    o.set_sync(true);
    o
}

/// Puts index records (key → entry index) in key order: the keys are random, and each memtable
/// insert then starts its skiplist search where the previous one ended instead of at the top.
fn put_in_key_order<K: AsRef<[u8]> + Ord>(
    wb: &mut WriteBatch,
    cf: &impl rocksdb::AsColumnFamilyRef,
    mut puts: Vec<(K, u64)>,
) {
    puts.sort_unstable();
    for (key, seq) in &puts {
        wb.put_cf(cf, key, seq.to_be_bytes());
    }
}

/// A batch's index records (key → entry index), kept apart from its write batch until just
/// before the write: sorting and copying them in is left to the write thread, off the
/// sequencer's path, while the sequencer looks later batches' keys up in the same maps.
struct IndexPuts {
    dedupe: Arc<HashMap<Vec<u8>, u64>>,
    heads: Arc<Vec<(HeadKind, String, u64)>>,
    resources: Vec<(Vec<u8>, u64)>,
}

impl IndexPuts {
    /// Adds the records to the batch, each column family's in key order.
    fn put_into(&self, wb: &mut WriteBatch, db: &DB) {
        let cf = |name| db.cf_handle(name).expect("column family exists");
        put_in_key_order(
            wb,
            &cf(CF_DEDUPE),
            self.dedupe
                .iter()
                .map(|(k, seq)| (k.as_slice(), *seq))
                .collect(),
        );
        put_in_key_order(
            wb,
            &cf(CF_HEADS),
            self.heads
                .iter()
                .map(|(kind, id, seq)| (head_key(*kind, id), *seq))
                .collect(),
        );
        put_in_key_order(
            wb,
            &cf(CF_RESOURCES),
            self.resources
                .iter()
                .map(|(k, seq)| (k.as_slice(), *seq))
                .collect(),
        );
    }
}

/// One write for the `Writer`: a prepared batch, and the buffers of the batch before it, which
/// the write thread frees after writing (so the sequencer does not spend its time on that).
struct WriteJob {
    wb: WriteBatch,
    indexes: IndexPuts,
    spent: Option<Spent>,
}

/// What a written batch leaves behind: the buffers later batches looked up while it was in
/// flight, held only until the write thread frees them.
struct Spent {
    _events: BatchEvents,
    _dedupe: Arc<HashMap<Vec<u8>, u64>>,
    _heads: Arc<Vec<(HeadKind, String, u64)>>,
}

/// The thread that writes `submit`ted batches, one at a time, in order (started on first use).
struct Writer {
    jobs: std::sync::mpsc::SyncSender<WriteJob>,
    done: std::sync::mpsc::Receiver<Result<(), rocksdb::Error>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(db: Arc<DB>) -> std::io::Result<Writer> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<WriteJob>(1);
        let (results, done) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("ledger-write".into())
            .spawn(move || {
                let sync = synced();
                for job in queue {
                    let WriteJob {
                        mut wb,
                        indexes,
                        spent,
                    } = job;
                    indexes.put_into(&mut wb, &db);
                    let written = db.write_opt(wb, &sync);
                    drop(indexes);
                    if results.send(written).is_err() {
                        break;
                    }
                    // Freed once the result is sent, so the sequencer does not wait for it.
                    drop(spent);
                }
            })?;
        Ok(Writer {
            jobs,
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop.
        let (closed, _) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A batch being written by the `Writer`, and what later batches must see of it before it is in
/// the database.
struct InFlight {
    report: AppendReport,
    first_seq: u64,
    events: BatchEvents,
    dedupe: Arc<HashMap<Vec<u8>, u64>>,
    heads: Arc<Vec<(HeadKind, String, u64)>>,
}

/// A batch turned into one RocksDB write, with in-memory state already moved past it.
struct Prepared {
    wb: WriteBatch,
    indexes: IndexPuts,
    report: AppendReport,
    first_seq: u64,
    events: BatchEvents,
}

/// The canonical encoding of each event a batch appends, by `seq - first_seq` (empty for its
/// other entries): what a later duplicate in the same or the next batch is compared with
/// before either is in the database.
type BatchEvents = Vec<Vec<u8>>;

/// One submission's leaf: assembled (in the batch's leaf buffer) from an event's canonical
/// bytes, which are kept for duplicate checks, or encoded from a body.
enum Built {
    Leaf { event: Vec<u8> },
    Body(Body),
}

/// The single writer of a ledger directory.
pub struct Ledger {
    dir: PathBuf,
    db: Arc<DB>,
    /// The batch being written in the background (`submit`), if any.
    in_flight: Option<InFlight>,
    /// The buffers of the last batch `finish`ed, which the next background write frees.
    spent: Option<Spent>,
    writer: Option<Writer>,
    /// Set when a write failed: in-memory state is then ahead of the database, so nothing more
    /// may be appended by this handle (reopen the ledger).
    failed: Option<String>,
    origin: String,
    key_dir: KeyDir,
    /// The key directory's record of the last checkpoint signed for this ledger.
    signed_record: keys::SignedRecord,
    /// The size and root of the tree as last written (durable), which a stored entry is proven
    /// against before the writer relies on it.
    durable: (u64, Hash),
    signers: Vec<NoteSigner>,
    /// Every partition's next offset after the last prepared batch (what its checkpoint signs).
    positions: PositionMap,
    /// The indexes of the log's key records, after the last prepared batch.
    key_records: Vec<u64>,
    /// The size of the checkpoint signed before the latest one: what a checkpoint re-signed at
    /// the same size (a batch that appended nothing but moved positions) links to.
    previous_checkpoint: u64,
    frontier: Frontier,
    last_leaf: Hash,
    duplicates_total: u64,
    heads: HeadMap,
    last_checkpoint: String,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("dir", &self.dir)
            .field("size", &self.frontier.size())
            .finish()
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("db")
}

impl Drop for Ledger {
    /// A batch still being written is waited for, so the database is whole (and unlocked) once
    /// the handle is gone; memtables are flushed so the next reader need not replay the WAL.
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::error!(error = %e, "the last batch could not be written");
        } else if self.failed.is_none()
            && let Err(e) = self.flush()
        {
            tracing::warn!(error = %e, "flush on close failed (the WAL still holds everything)");
        }
    }
}

fn map_open_error(dir: &Path, e: rocksdb::Error) -> LedgerError {
    let text = e.to_string();
    if text.contains("lock") || text.contains("Resource temporarily unavailable") {
        LedgerError::Locked {
            path: dir.to_owned(),
        }
    } else {
        LedgerError::Db(e)
    }
}

impl Ledger {
    /// Creates a ledger: the data directory, a signing key in `keys` (a key directory outside
    /// the data directory; the key file is mode 0600), the database, and the genesis entry
    /// (entry 0, naming the origin and key) with its signed checkpoint.
    pub fn init(dir: &Path, keys: &Path, origin: &str) -> Result<Ledger, LedgerError> {
        check_origin(origin).map_err(|e| LedgerError::Origin(e.to_string()))?;
        if db_path(dir).exists() {
            return Err(LedgerError::AlreadyExists(dir.to_owned()));
        }
        let key_dir = KeyDir::for_data(keys, dir)?;
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let signer = NoteSigner::new(origin, keys::generate()?).map_err(KeyError::from)?;
        key_dir.write(&signer)?;
        let db = store::open_primary(&db_path(dir)).map_err(|e| map_open_error(dir, e))?;
        let meta = db.cf_handle(CF_META).expect("meta column family exists");
        let mut wb = WriteBatch::default();
        wb.put_cf(&meta, META_ORIGIN, origin.as_bytes());
        wb.put_cf(
            &meta,
            META_SIGNERS,
            signer.verifier().to_string().as_bytes(),
        );
        wb.put_cf(&meta, META_LAYOUT, LAYOUT_VERSION);
        wb.put_cf(&meta, META_KEY_RECORDS, encode_key_records(&[]));
        wb.put_cf(&meta, META_TREE_SIZE, 0u64.to_be_bytes());
        db.write_opt(wb, &synced())?;
        let genesis = SystemRecord::Genesis {
            origin: origin.to_owned(),
            verifier_key: signer.verifier().to_string(),
        };
        let mut ledger = Ledger {
            dir: dir.to_owned(),
            db: Arc::new(db),
            in_flight: None,
            spent: None,
            writer: None,
            failed: None,
            origin: origin.to_owned(),
            signed_record: key_dir.signed_record(signer.verifier())?,
            key_dir,
            durable: (0, idledger_proto::hash::empty_root()),
            signers: vec![signer],
            positions: PositionMap::new(),
            key_records: Vec::new(),
            previous_checkpoint: 0,
            frontier: Frontier::default(),
            last_leaf: Hash::ZERO,
            duplicates_total: 0,
            heads: HeadMap::default(),
            last_checkpoint: String::new(),
        };
        ledger.append(
            vec![Submission {
                origin: Origin::Ledger,
                item: Item::System(genesis),
            }],
            &[],
        )?;
        Ok(ledger)
    }

    /// Opens an existing ledger for writing, with its keys from `keys`. Only one process may hold
    /// it, and only a ledger whose stored tree its own keys signed (see `opening`).
    pub fn open(dir: &Path, keys: &Path) -> Result<Ledger, LedgerError> {
        if !db_path(dir).join("CURRENT").exists() {
            return Err(LedgerError::NotFound(dir.to_owned()));
        }
        let key_dir = KeyDir::for_data(keys, dir)?;
        let db = store::open_primary(&db_path(dir)).map_err(|e| map_open_error(dir, e))?;
        let meta = db.cf_handle(CF_META).expect("meta column family exists");
        let get = |k: &[u8]| -> Result<Vec<u8>, LedgerError> {
            db.get_cf(&meta, k)?.ok_or_else(|| {
                LedgerError::Inconsistent(format!(
                    "meta key {} missing",
                    String::from_utf8_lossy(k)
                ))
            })
        };
        let layout = get(META_LAYOUT)?;
        if layout != LAYOUT_VERSION && layout != LAYOUT_UPGRADABLE {
            return Err(LedgerError::Inconsistent(format!(
                "database layout version {} is not the {} this build reads",
                String::from_utf8_lossy(&layout),
                String::from_utf8_lossy(LAYOUT_VERSION)
            )));
        }
        let origin = String::from_utf8(get(META_ORIGIN)?)
            .map_err(|_| LedgerError::Inconsistent("origin is not UTF-8".into()))?;
        let size = be_u64(&get(META_TREE_SIZE)?)
            .ok_or_else(|| LedgerError::Inconsistent("tree size is not 8 bytes".into()))?;
        let key_records = if layout == LAYOUT_VERSION {
            decode_key_records(&get(META_KEY_RECORDS)?).ok_or_else(|| {
                LedgerError::Inconsistent("the key record index is damaged".into())
            })?
        } else {
            opening::scan_key_records(&db, size)?
        };
        let duplicates_total = db
            .get_cf(&meta, META_DUPLICATES)?
            .and_then(|v| be_u64(&v))
            .unwrap_or(0);
        let frontier = Frontier::load(&db, size)?;
        let entries = db
            .cf_handle(CF_ENTRIES)
            .expect("entries column family exists");
        let last_leaf = match size {
            0 => Hash::ZERO,
            n => {
                let bytes = db.get_cf(&entries, seq_key(n - 1))?.ok_or_else(|| {
                    LedgerError::Inconsistent(format!("entry {} (the last) is missing", n - 1))
                })?;
                leaf_hash(&bytes)
            }
        };
        // Never sign over a tree this writer's keys did not sign, and never two inconsistent
        // checkpoints: the stored state must reproduce the latest signed checkpoint exactly.
        let opened = opening::verify_for_writing(
            &db,
            dir,
            &key_dir,
            &origin,
            (size, frontier.root()),
            &key_records,
        )?;
        if layout != LAYOUT_VERSION {
            let mut wb = WriteBatch::default();
            wb.put_cf(&meta, META_KEY_RECORDS, encode_key_records(&key_records));
            wb.put_cf(&meta, META_LAYOUT, LAYOUT_VERSION);
            db.write_opt(wb, &synced())?;
        }
        Ok(Ledger {
            dir: dir.to_owned(),
            db: Arc::new(db),
            in_flight: None,
            spent: None,
            writer: None,
            failed: None,
            durable: (size, frontier.root()),
            origin,
            signed_record: key_dir.signed_record(&opened.genesis)?,
            key_dir,
            signers: opened.signers,
            positions: opened.positions,
            key_records,
            previous_checkpoint: opened.previous,
            frontier,
            last_leaf,
            duplicates_total,
            heads: HeadMap::default(),
            last_checkpoint: opened.checkpoint,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn size(&self) -> TreeSize {
        TreeSize(self.frontier.size())
    }
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
    pub fn duplicates_total(&self) -> u64 {
        self.duplicates_total
    }
    /// The latest signed checkpoint note.
    pub fn checkpoint(&self) -> &str {
        &self.last_checkpoint
    }
    pub fn verifier_keys(&self) -> Vec<VerifierKey> {
        self.signers.iter().map(|s| s.verifier().clone()).collect()
    }
    /// Where this ledger's signing keys are.
    pub fn key_dir(&self) -> &KeyDir {
        &self.key_dir
    }
    /// A reader over this writer's database (same process).
    pub fn reader(&self) -> LedgerReader<'_> {
        LedgerReader::over(&self.db, &self.origin)
    }

    /// The stored next offset of every partition.
    pub fn positions(&self) -> Result<Vec<Position>, LedgerError> {
        Ok(self.reader().positions()?)
    }

    /// Whether the event recorded at `seq` (stored, or earlier in the batch being built or the
    /// one being written) is identical to `event`: a re-sent duplicate rather than a conflicting
    /// one. Canonical encodings are equal exactly when the events are.
    fn recorded_event_is(
        &self,
        seq: u64,
        event: &ValidatedEvent,
        batch_events: &BatchEvents,
    ) -> Result<bool, LedgerError> {
        let first_in_batch = self.frontier.size();
        let past_end =
            || LedgerError::Inconsistent(format!("deduplication points past the end at {seq}"));
        let in_flight = self
            .in_flight
            .as_ref()
            .filter(|f| seq >= f.first_seq && seq < first_in_batch);
        if let Some(f) = in_flight {
            let recorded = f
                .events
                .get((seq - f.first_seq) as usize)
                .ok_or_else(past_end)?;
            return Ok(recorded.as_slice() == event.encoded());
        }
        if seq >= first_in_batch {
            let recorded = batch_events
                .get((seq - first_in_batch) as usize)
                .ok_or_else(past_end)?;
            return Ok(recorded.as_slice() == event.encoded());
        }
        // A stored entry the deduplication index points at decides whether an event is skipped
        // or quarantined: it must be the entry the signed tree holds, and that event's source
        // and id (the index is not signed; someone could have pointed it anywhere).
        let stored = self.proven_entry(seq)?;
        let view = EntryView::decode(&stored)
            .map_err(|e| LedgerError::Inconsistent(format!("entry {seq}: {e}")))?;
        let recorded = view
            .event()
            .filter(|r| r.source == event.source() && r.id == event.id())
            .ok_or_else(|| {
                LedgerError::Inconsistent(format!(
                    "the deduplication index points event {}/{} at entry {seq}, which is not that event: the index was changed; run `idledger verify`",
                    idledger_proto::printable::printable(event.source()),
                    idledger_proto::printable::printable(event.id())
                ))
            })?;
        Ok(idledger_proto::entry::encode_event(&recorded.to_event()) == event.encoded())
    }

    /// Resolves every subject, grant and credential id the batch's events name to its current
    /// head: from the in-memory cache (which includes any batch still being written), else
    /// from the `heads` column family in one batched read.
    fn resolve_heads(&self, batch: &[Submission]) -> Result<BatchHeads, LedgerError> {
        let mut local: HashMap<(HeadKind, &str), u32> = HashMap::new();
        let mut rows = Vec::with_capacity(batch.len());
        let mut slots: Vec<HeadSlot> = Vec::new();
        let mut wanted: Vec<u32> = Vec::new();
        for sub in batch {
            let Item::Event(v) = &sub.item else { continue };
            let named = [
                Some((HeadKind::Subject, v.subject_id())),
                v.grant_id().map(|g| (HeadKind::Grant, g)),
                v.credential_id().map(|c| (HeadKind::Credential, c)),
            ];
            let mut row = [NO_SLOT; 3];
            for (place, (kind, id)) in named
                .into_iter()
                .enumerate()
                .filter_map(|(i, n)| Some((i, n?)))
            {
                let next = u32::try_from(slots.len()).expect("a batch names fewer than 2^32 ids");
                let slot = *local.entry((kind, id)).or_insert(next);
                if slot == next {
                    let cached = self.heads.get(kind, id);
                    if cached.is_none() {
                        wanted.push(slot);
                    }
                    slots.push(HeadSlot {
                        kind,
                        id: id.to_owned(),
                        head: cached,
                        moved: false,
                    });
                }
                row[place] = slot;
            }
            rows.push(row);
        }
        let cf = self
            .db
            .cf_handle(CF_HEADS)
            .expect("heads column family exists");
        let keys: Vec<Vec<u8>> = wanted
            .iter()
            .map(|&i| head_key(slots[i as usize].kind, &slots[i as usize].id))
            .collect();
        for (&i, found) in wanted
            .iter()
            .zip(self.db.batched_multi_get_cf(&cf, &keys, false))
        {
            slots[i as usize].head = match found? {
                Some(v) => Some(be_u64(&v).filter(|_| v.len() == 8).ok_or_else(|| {
                    LedgerError::Inconsistent("a heads value is not 8 bytes".into())
                })?),
                None => None,
            };
        }
        Ok(BatchHeads { rows, slots })
    }

    /// Appends a batch atomically. Entries, tiles, indexes, the given Kafka positions and a
    /// checkpoint signed over the new tree are written in one synced RocksDB write: after a crash
    /// the ledger is at a batch boundary whose positions match its contents. Durable when it
    /// returns (a batch still in flight from `submit` is finished first).
    pub fn append(
        &mut self,
        batch: Vec<Submission>,
        positions: &[Position],
    ) -> Result<AppendReport, LedgerError> {
        self.finish()?;
        self.spent = None;
        let mut prepared = self.prepare(batch, positions)?;
        prepared.indexes.put_into(&mut prepared.wb, &self.db);
        if let Err(e) = self.db.write_opt(prepared.wb, &synced()) {
            self.failed = Some(e.to_string());
            return Err(e.into());
        }
        self.written(&prepared.report);
        Ok(prepared.report)
    }

    /// Pipelined append: prepares this batch (hashing, indexes, signing) while the previous
    /// one is still being written, then waits for that write and starts this batch's write in
    /// the background. Returns the previous batch's report once it is durable (`None` if there
    /// was none). Batches are written in order, one at a time; `finish` waits for the last.
    /// Nothing of a batch is durable, and its checkpoint is not `checkpoint()`, until its report
    /// has been returned.
    pub fn submit(
        &mut self,
        batch: Vec<Submission>,
        positions: &[Position],
    ) -> Result<Option<AppendReport>, LedgerError> {
        let prepared = self.prepare(batch, positions)?;
        let previous = match self.finish() {
            Ok(p) => p,
            Err(e) => {
                // The prepared batch built on one that did not reach the database.
                self.failed = Some(e.to_string());
                return Err(e);
            }
        };
        if self.writer.is_none() {
            let started = Writer::start(Arc::clone(&self.db)).map_err(|source| {
                self.failed = Some(source.to_string());
                LedgerError::Io {
                    path: self.dir.clone(),
                    source,
                }
            })?;
            self.writer = Some(started);
        }
        // The sequencer keeps looking later batches' keys up in the maps the write thread writes.
        let (dedupe, heads) = (
            Arc::clone(&prepared.indexes.dedupe),
            Arc::clone(&prepared.indexes.heads),
        );
        let job = WriteJob {
            wb: prepared.wb,
            indexes: prepared.indexes,
            spent: self.spent.take(),
        };
        let queued = self
            .writer
            .as_ref()
            .is_some_and(|w| w.jobs.send(job).is_ok());
        if !queued {
            self.failed = Some("the background writer stopped".into());
            return Err(LedgerError::Inconsistent(
                "the background writer stopped".into(),
            ));
        }
        self.in_flight = Some(InFlight {
            report: prepared.report,
            first_seq: prepared.first_seq,
            events: prepared.events,
            dedupe,
            heads,
        });
        Ok(previous)
    }

    /// Waits for the batch in flight from `submit`, if any, and returns its report once durable.
    pub fn finish(&mut self) -> Result<Option<AppendReport>, LedgerError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(None);
        };
        match self.writer.as_ref().map(|w| w.done.recv()) {
            Some(Ok(Ok(()))) => {
                let InFlight {
                    report,
                    events,
                    dedupe,
                    heads,
                    ..
                } = f;
                self.written(&report);
                self.spent = Some(Spent {
                    _events: events,
                    _dedupe: dedupe,
                    _heads: heads,
                });
                Ok(Some(report))
            }
            Some(Ok(Err(e))) => {
                self.failed = Some(e.to_string());
                Err(e.into())
            }
            Some(Err(_)) | None => {
                self.failed = Some("the background write panicked".into());
                Err(LedgerError::Inconsistent(
                    "the background write panicked".into(),
                ))
            }
        }
    }

    /// A batch is durable: its checkpoint is the latest, its tree the one stored entries are
    /// proven against, and the key directory records it as the last checkpoint signed. (The
    /// record failing to be written leaves an older one, which the ledger still extends: only
    /// the protection against a rollback to between the two is lost, so it is an error to act
    /// on, not a reason to stop.)
    fn written(&mut self, report: &AppendReport) {
        self.last_checkpoint = report.checkpoint.clone();
        self.durable = (report.size.0, report.root);
        if let Err(e) = self.signed_record.write(report.size.0, &report.root) {
            tracing::error!(error = %e, size = report.size.0, "cannot record the last checkpoint signed");
        }
    }

    /// The bytes of stored entry `seq`, proven to be the leaf at that index of the durable tree:
    /// the writer relies on no stored entry that an index points at before this.
    fn proven_entry(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        let (size, root) = self.durable;
        let refuse =
            |why: String| LedgerError::Inconsistent(format!("{why}; run `idledger verify`"));
        if seq >= size {
            return Err(refuse(format!(
                "an index points at entry {seq}, beyond the {size} entries written"
            )));
        }
        let cf = self
            .db
            .cf_handle(CF_ENTRIES)
            .expect("entries column family exists");
        let leaf = self
            .db
            .get_cf(&cf, seq_key(seq))?
            .ok_or_else(|| refuse(format!("entry {seq}, which an index points at, is missing")))?;
        let nodes = crate::tree::StoredNodes::new(&self.db);
        let path = idledger_proto::merkle::inclusion_proof(&nodes, Seq(seq), TreeSize(size))?
            .map_err(|e| refuse(format!("entry {seq}: {e}")))?;
        idledger_proto::merkle::verify_inclusion(
            &leaf_hash(&leaf),
            Seq(seq),
            TreeSize(size),
            &path,
            &root,
        )
        .map_err(|_| {
            refuse(format!(
                "entry {seq}, which an index points at, is not the entry the signed tree holds"
            ))
        })?;
        Ok(leaf)
    }

    /// Builds a batch's write and moves in-memory state past it.
    fn prepare(
        &mut self,
        batch: Vec<Submission>,
        positions: &[Position],
    ) -> Result<Prepared, LedgerError> {
        if let Some(why) = &self.failed {
            return Err(LedgerError::Inconsistent(format!(
                "an earlier write failed ({why}); reopen the ledger"
            )));
        }
        let started = Instant::now();
        let cf = |name| self.db.cf_handle(name).expect("column family exists");
        let (entries_cf, dedupe_cf, positions_cf, meta_cf, tiles_cf, checkpoints_cf) = (
            cf(CF_ENTRIES),
            cf(CF_DEDUPE),
            cf(CF_POSITIONS),
            cf(CF_META),
            cf(CF_TILES),
            cf(CF_CHECKPOINTS),
        );
        // Sized for the entries and their index records up front, so building it copies each
        // leaf once rather than again on every doubling.
        let mut wb = WriteBatch::with_capacity_bytes(batch.len() * 1024);
        let mut resource_puts: Vec<(Vec<u8>, u64)> = Vec::new();
        // The positions after this batch (those of a batch still being written included):
        // what this batch's checkpoint signs.
        let mut positions_after = self.positions.clone();
        for p in positions {
            let slot = (p.topic.clone(), p.partition);
            if let Some(&stored) = positions_after.get(&slot)
                && p.next_offset < stored
            {
                return Err(LedgerError::PositionRegression {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    stored,
                    requested: p.next_offset,
                });
            }
            if p.next_offset < 0 {
                return Err(LedgerError::Inconsistent(format!(
                    "position for {}/{} is negative ({})",
                    p.topic, p.partition, p.next_offset
                )));
            }
            positions_after.insert(slot, p.next_offset);
            wb.put_cf(
                &positions_cf,
                position_key(&p.topic, p.partition),
                (p.next_offset as u64).to_be_bytes(),
            );
        }

        let mut frontier = self.frontier.clone();
        let mut dirty = DirtyTiles::default();
        let mut last_leaf = self.last_leaf;
        let mut dedupe_overlay: HashMap<Vec<u8>, u64> = HashMap::new();
        // This batch's events so far (index = seq - first), for duplicates within the batch.
        let first_seq = frontier.size();
        let mut batch_events: BatchEvents = Vec::with_capacity(batch.len());
        // Every event leaf is assembled here, then copied into the write batch.
        let mut leaf_buf: Vec<u8> = Vec::with_capacity(4096);
        let mut outcomes = Vec::with_capacity(batch.len());
        let (mut appended, mut quarantined, mut duplicates) = (0u64, 0u64, 0u64);
        let received_at = Timestamp::now();
        let mut signers_after: Option<Vec<VerifierKey>> = None;
        let mut key_records_after: Option<Vec<u64>> = None;

        // Index lookups for the whole batch at once: RocksDB's batched MultiGet is much cheaper
        // per key than one Get each, and most of these keys are new (not found).
        let dedupe_keys: Vec<Vec<u8>> = batch
            .iter()
            .filter_map(|s| match &s.item {
                Item::Event(v) => Some(dedupe_key(v.source(), v.id())),
                _ => None,
            })
            .collect();
        let mut dedupe_stored = Vec::with_capacity(dedupe_keys.len());
        for found in self
            .db
            .batched_multi_get_cf(&dedupe_cf, &dedupe_keys, false)
        {
            dedupe_stored.push(match found? {
                Some(v) => Some(be_u64(&v).filter(|_| v.len() == 8).ok_or_else(|| {
                    LedgerError::Inconsistent("a deduplication value is not 8 bytes".into())
                })?),
                None => None,
            });
        }
        let mut heads = self.resolve_heads(&batch)?;
        let mut head_rows = std::mem::take(&mut heads.rows).into_iter();
        let mut dedupe_stored = dedupe_keys.into_iter().zip(dedupe_stored);

        for sub in batch {
            let seq = frontier.size();
            let built = match sub.item {
                Item::Event(v) => {
                    let (dkey, stored) = dedupe_stored
                        .next()
                        .expect("one deduplication lookup per event");
                    let row = head_rows.next().expect("one row of heads per event");
                    let existing = dedupe_overlay
                        .get(&dkey)
                        .copied()
                        .or_else(|| self.in_flight.as_ref()?.dedupe.get(&dkey).copied())
                        .or(stored);
                    match existing {
                        Some(first) if self.recorded_event_is(first, &v, &batch_events)? => {
                            duplicates += 1;
                            outcomes.push(Outcome::Duplicate(Seq(first)));
                            continue;
                        }
                        Some(first) => Built::Body(Body::Quarantined(Box::new(Rejection {
                            reason: RejectReason::ConflictingDuplicate { first_index: first },
                            payload: KeptPayload::Event(Box::new(v.into_event())),
                        }))),
                        None => {
                            let links = BackLinks {
                                prev_subject: heads.head(row[0]),
                                prev_grant: heads.head(row[1]),
                                prev_credential: heads.head(row[2]),
                            };
                            if let (Some(g), Some(r), None) =
                                (v.grant_id(), v.resource(), links.prev_grant)
                            {
                                resource_puts.push((resource_key(r, g), seq));
                            }
                            heads.advance(row, seq);
                            dedupe_overlay.insert(dkey, seq);
                            encode_event_leaf_into(
                                &mut leaf_buf,
                                seq,
                                &last_leaf,
                                received_at,
                                &sub.origin,
                                &links,
                                v.encoded(),
                            );
                            Built::Leaf {
                                event: v.into_encoded(),
                            }
                        }
                    }
                }
                Item::Rejected(r) => Built::Body(Body::Quarantined(Box::new(r))),
                Item::System(record) => {
                    let mut keys = signers_after
                        .clone()
                        .unwrap_or_else(|| self.verifier_keys());
                    match &record {
                        SystemRecord::Genesis { .. } if seq != 0 => {
                            return Err(LedgerError::Rotation("genesis must be entry 0".into()));
                        }
                        SystemRecord::Genesis { .. } => {}
                        SystemRecord::OffsetsUnavailable { first, end, .. } if first >= end => {
                            return Err(LedgerError::Inconsistent(format!(
                                "an empty range of unavailable offsets ({first}..{end})"
                            )));
                        }
                        SystemRecord::OffsetsUnavailable { .. } => {}
                        SystemRecord::KeyAdded { verifier_key } => {
                            let k = VerifierKey::parse(verifier_key)
                                .map_err(|e| LedgerError::Rotation(e.to_string()))?;
                            if k.name() != self.origin {
                                return Err(LedgerError::Rotation(format!(
                                    "key name {} is not the origin {}",
                                    k.name(),
                                    self.origin
                                )));
                            }
                            keys.push(k);
                        }
                        SystemRecord::KeyRetired { verifier_key } => {
                            let before = keys.len();
                            keys.retain(|k| k.to_string() != *verifier_key);
                            if keys.len() == before || keys.is_empty() {
                                return Err(LedgerError::Rotation(
                                    "can only retire a signing key while another remains".into(),
                                ));
                            }
                        }
                    }
                    if !matches!(record, SystemRecord::OffsetsUnavailable { .. }) {
                        key_records_after
                            .get_or_insert_with(|| self.key_records.clone())
                            .push(seq);
                    }
                    signers_after = Some(keys);
                    Built::Body(Body::System(record))
                }
            };
            let (event, is_quarantine) = match built {
                Built::Leaf { event } => (event, false),
                Built::Body(body) => {
                    let is_quarantine = matches!(body, Body::Quarantined(_));
                    let entry = Entry {
                        version: FORMAT_VERSION,
                        seq,
                        prev_leaf_hash: last_leaf.0,
                        received_at,
                        origin: sub.origin,
                        body,
                    };
                    leaf_buf = entry.encode();
                    (Vec::new(), is_quarantine)
                }
            };
            let hash = leaf_hash(&leaf_buf);
            wb.put_cf(&entries_cf, seq_key(seq), &leaf_buf);
            debug_assert_eq!(seq - first_seq, batch_events.len() as u64);
            batch_events.push(event);
            frontier.push(hash, &mut dirty);
            last_leaf = hash;
            if is_quarantine {
                quarantined += 1;
                outcomes.push(Outcome::Quarantined(Seq(seq)));
            } else {
                appended += 1;
                outcomes.push(Outcome::Appended(Seq(seq)));
            }
        }

        let moved_heads = heads.into_moved();
        for ((level, index), hashes) in &dirty.tiles {
            wb.put_cf(&tiles_cf, tile_key(*level, *index), encode_tile(hashes));
        }
        let subtrees_cf = cf(CF_SUBTREES);
        for ((level, index), hashes) in &dirty.subtrees {
            wb.put_cf(&subtrees_cf, tile_key(*level, *index), encode_tile(hashes));
        }
        for ((level, index), hashes) in frontier.partial_tiles() {
            wb.put_cf(&tiles_cf, tile_key(level, index), encode_tile(hashes));
        }
        let size = frontier.size();
        wb.put_cf(&meta_cf, META_TREE_SIZE, size.to_be_bytes());
        if duplicates > 0 {
            wb.put_cf(
                &meta_cf,
                META_DUPLICATES,
                (self.duplicates_total + duplicates).to_be_bytes(),
            );
        }

        // Load the signers for any newly added key before signing with it.
        let mut new_signers: Option<Vec<NoteSigner>> = None;
        if let Some(keys) = &signers_after {
            let mut s = Vec::new();
            for k in keys {
                s.push(self.key_dir.load_signer(k, &self.dir.join("keys"))?);
            }
            let text: Vec<String> = keys.iter().map(ToString::to_string).collect();
            wb.put_cf(&meta_cf, META_SIGNERS, text.join("\n").as_bytes());
            new_signers = Some(s);
        }
        if let Some(records) = &key_records_after {
            wb.put_cf(&meta_cf, META_KEY_RECORDS, encode_key_records(records));
        }
        let root = frontier.root();
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: TreeSize(size),
            root,
        };
        // Signed with the tree: where the previous checkpoint was (a deleted checkpoint breaks
        // the chain), and the positions stored with this batch (so none can move unsigned).
        // A batch that appended nothing re-signs the checkpoint at the same size, which then
        // replaces the stored one and links to what that one linked to.
        let previous = if size == first_seq {
            self.previous_checkpoint
        } else {
            first_seq
        };
        let extensions = Extensions {
            previous: Some(previous),
            positions: Some(opening::positions_digest(&positions_after)),
        };
        // A key being retired still signs the checkpoint that covers its retirement entry, so
        // a verifier following the chain from the old key sees the hand-over.
        let mut signing: Vec<&NoteSigner> = self.signers.iter().collect();
        if let Some(new) = &new_signers {
            for s in new {
                if !signing.iter().any(|x| x.verifier() == s.verifier()) {
                    signing.push(s);
                }
            }
        }
        let note = sign_note(&checkpoint.to_text_with(&extensions), &signing)
            .map_err(|e| LedgerError::Inconsistent(e.to_string()))?;
        wb.put_cf(&checkpoints_cf, seq_key(size), note.as_bytes());

        // In-memory state moves past the batch now; `append` and `submit` write it (and poison
        // this handle if the write fails).
        self.frontier = frontier;
        self.last_leaf = last_leaf;
        self.duplicates_total += duplicates;
        if self.heads.len() + moved_heads.len() > HEAD_CACHE_LIMIT {
            self.heads.clear();
            // A batch still being written has heads the database does not show yet.
            if let Some(f) = &self.in_flight {
                for (kind, id, seq) in f.heads.iter() {
                    self.heads.insert(*kind, id, *seq);
                }
            }
        }
        for (kind, id, seq) in &moved_heads {
            self.heads.insert(*kind, id, *seq);
        }
        if let Some(s) = new_signers {
            self.signers = s;
        }
        if let Some(records) = key_records_after {
            self.key_records = records;
        }
        self.positions = positions_after;
        self.previous_checkpoint = previous;
        Ok(Prepared {
            wb,
            indexes: IndexPuts {
                dedupe: Arc::new(dedupe_overlay),
                heads: Arc::new(moved_heads),
                resources: resource_puts,
            },
            report: AppendReport {
                outcomes,
                size: TreeSize(size),
                root,
                checkpoint: note,
                appended,
                quarantined,
                duplicates,
                elapsed: started.elapsed(),
            },
            first_seq,
            events: batch_events,
        })
    }

    /// Starts a key rotation: writes a new key file and appends a `KeyAdded` entry under the
    /// current key(s). From then on checkpoints carry both signatures.
    pub fn add_key(&mut self) -> Result<VerifierKey, LedgerError> {
        let signer = NoteSigner::new(&self.origin, keys::generate()?).map_err(KeyError::from)?;
        self.key_dir.write(&signer)?;
        let vkey = signer.verifier().clone();
        self.append(
            vec![Submission {
                origin: Origin::Ledger,
                item: Item::System(SystemRecord::KeyAdded {
                    verifier_key: vkey.to_string(),
                }),
            }],
            &[],
        )?;
        Ok(vkey)
    }

    /// Ends a rotation: appends a `KeyRetired` entry for `old`; later checkpoints are signed by
    /// the remaining keys only.
    pub fn retire_key(&mut self, old: &VerifierKey) -> Result<(), LedgerError> {
        self.append(
            vec![Submission {
                origin: Origin::Ledger,
                item: Item::System(SystemRecord::KeyRetired {
                    verifier_key: old.to_string(),
                }),
            }],
            &[],
        )?;
        Ok(())
    }

    /// Flushes memtables so a copy of the directory (or a secondary) sees everything.
    pub fn flush(&mut self) -> Result<(), LedgerError> {
        self.finish()?;
        for name in ALL_CFS {
            let cf = self.db.cf_handle(name).expect("column family exists");
            self.db.flush_cf(&cf)?;
        }
        Ok(())
    }

    /// Flushes, then waits until RocksDB has no compaction pending or running. Closing the
    /// database does not finish pending compactions, and read-only openers never run them.
    pub fn settle(&mut self) -> Result<(), LedgerError> {
        self.flush()?;
        let mut opts = rocksdb::WaitForCompactOptions::default();
        opts.set_flush(true);
        self.db.wait_for_compact(&opts)?;
        Ok(())
    }

    /// Files at level 0 of each column family that has any (reads merge all of them).
    pub fn level0_files(&self) -> Vec<(&'static str, u64)> {
        ALL_CFS
            .iter()
            .filter_map(|name| {
                let cf = self.db.cf_handle(name)?;
                let n = self
                    .db
                    .property_int_value_cf(&cf, "rocksdb.num-files-at-level0")
                    .ok()
                    .flatten()?;
                (n > 0).then_some((*name, n))
            })
            .collect()
    }

    /// The underlying database, for fsck and tests in this crate's family.
    pub fn db(&self) -> &DB {
        &self.db
    }
}
