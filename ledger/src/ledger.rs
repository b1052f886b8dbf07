//! The writer: creates and opens a ledger, appends batches atomically (entries, tree tiles,
//! indexes, Kafka positions and a signed checkpoint in one synced RocksDB write), rotates keys.
//! How a batch becomes a write is in `prepare`, the heads that give events their back-links in
//! `heads`, and the write thread in `writer`.

mod error;
mod heads;
mod prepare;
mod writer;

pub use crate::batch::{AppendReport, Item, Outcome, Position, Submission};
pub use error::LedgerError;

use crate::keys::{self, KeyDir, KeyError};
use crate::opening::{self, PositionMap};
use crate::pkcs11::TokenRef;
use crate::reader::LedgerReader;
use crate::store::{self, *};
use crate::tree::Frontier;
use error::map_open_error;
use heads::HeadMap;
use idledger_proto::checkpoint::check_origin;
use idledger_proto::entry::{Origin, SystemRecord};
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::note::{NoteSigner, VerifierKey};
use idledger_proto::view::EntryView;
use idledger_proto::{Seq, TreeSize, ValidatedEvent};
use rocksdb::{DB, WriteBatch};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use writer::{BatchEvents, IndexPuts, Spent, WriteJob, Writer, synced};

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

impl Ledger {
    /// Creates a ledger: the data directory, a signing key in `keys` (a key directory outside
    /// the data directory; the key file is mode 0600), the database, and the genesis entry
    /// (entry 0, naming the origin and key) with its signed checkpoint.
    pub fn init(dir: &Path, keys: &Path, origin: &str) -> Result<Ledger, LedgerError> {
        Ledger::init_with(dir, keys, origin, None)
    }

    /// Creates a ledger as `init` does, signed by the key in a PKCS#11 token that `token`
    /// names (the key directory then holds a reference to it, `<key ID>.pkcs11`). The token
    /// is opened and the key checked before anything is written.
    pub fn init_with_token(
        dir: &Path,
        keys: &Path,
        origin: &str,
        token: &TokenRef,
    ) -> Result<Ledger, LedgerError> {
        Ledger::init_with(dir, keys, origin, Some(token))
    }

    fn init_with(
        dir: &Path,
        keys: &Path,
        origin: &str,
        token: Option<&TokenRef>,
    ) -> Result<Ledger, LedgerError> {
        check_origin(origin).map_err(|e| LedgerError::Origin(e.to_string()))?;
        if db_path(dir).exists() {
            return Err(LedgerError::AlreadyExists(dir.to_owned()));
        }
        let key_dir = KeyDir::for_data(keys, dir)?;
        let signer = new_signer(origin, token)?;
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_signer(&key_dir, &signer, token)?;
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
            last_leaf: opened.last_leaf,
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
    /// Where witnesses' cosignatures of this ledger's checkpoints are kept (`cosigned`): a
    /// handle another thread can hold while this one appends.
    pub fn cosignature_store(&self) -> crate::cosigned::CosignatureStore {
        crate::cosigned::CosignatureStore::new(self.db.clone(), self.origin.clone())
    }

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

    /// Starts a key rotation: writes a new key file and appends a `KeyAdded` entry under the
    /// current key(s). From then on checkpoints carry both signatures.
    pub fn add_key(&mut self) -> Result<VerifierKey, LedgerError> {
        self.add(None)
    }

    /// Starts a key rotation to the key in a PKCS#11 token that `token` names, as `add_key`
    /// does; the token is opened and the key checked before anything is written.
    pub fn add_token_key(&mut self, token: &TokenRef) -> Result<VerifierKey, LedgerError> {
        self.add(Some(token))
    }

    fn add(&mut self, token: Option<&TokenRef>) -> Result<VerifierKey, LedgerError> {
        let signer = new_signer(&self.origin, token)?;
        if self
            .signers
            .iter()
            .any(|s| s.verifier() == signer.verifier())
        {
            return Err(LedgerError::Rotation(format!(
                "{} already signs this ledger",
                signer.verifier()
            )));
        }
        write_signer(&self.key_dir, &signer, token)?;
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

/// The signer of a new key: a fresh random key, or the token key `token` names (opened now).
fn new_signer(origin: &str, token: Option<&TokenRef>) -> Result<NoteSigner, LedgerError> {
    Ok(match token {
        None => NoteSigner::new(origin, keys::generate()?).map_err(KeyError::from)?,
        Some(t) => keys::token_signer(origin, t)?,
    })
}

/// Puts a new signer's key in the key directory: its key file, or its token reference.
fn write_signer(
    key_dir: &KeyDir,
    signer: &NoteSigner,
    token: Option<&TokenRef>,
) -> Result<(), LedgerError> {
    match token {
        Some(t) => key_dir.write_token(signer.verifier(), t)?,
        None => key_dir.write(
            signer.verifier(),
            signer
                .signing_key()
                .expect("a new signer without a token holds its key in memory"),
        )?,
    };
    Ok(())
}
