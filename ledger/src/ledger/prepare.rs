//! Turning a batch of submissions into one RocksDB write, step by step: the positions it
//! stores, the index lookups for all of it at once, each submission's leaf (a new event with
//! its back-links, a duplicate skipped, a conflict or rejection quarantined, a system record),
//! the tree's tiles, and the checkpoint signed over the result.

use super::heads::{self, BatchHeads};
use super::writer::{BatchEvents, IndexPuts};
use super::{AppendReport, Item, Ledger, LedgerError, Outcome, Position, Prepared, Submission};
use crate::opening::{self, PositionMap};
use crate::store::*;
use crate::tree::{DirtyTiles, Frontier, encode_tile};
use idledger_proto::checkpoint::{Checkpoint, Extensions, key_records_digest};
use idledger_proto::entry::{
    BackLinks, Body, Entry, FORMAT_VERSION, Origin, SystemRecord, encode_event_leaf_into,
};
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::note::{NoteError, NoteSigner, VerifierKey, sign_note};
use idledger_proto::rejection::{KeptPayload, RejectReason, Rejection};
use idledger_proto::{Seq, Timestamp, TreeSize, ValidatedEvent};
use rocksdb::WriteBatch;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// One submission's leaf: assembled (in the batch's leaf buffer) from an event's canonical
/// bytes, which are kept for duplicate checks, or encoded from a body.
enum Built {
    Leaf { event: Vec<u8> },
    Body(Body),
}

/// Per event of the batch, in order: its deduplication key and what the index holds for it.
type DedupeLookups = std::iter::Zip<std::vec::IntoIter<Vec<u8>>, std::vec::IntoIter<Option<u64>>>;

/// A batch being built over the ledger's state, which it reads but does not move: the ledger
/// takes what it built (`Built batch`) only once it is complete.
struct BatchBuilder<'l> {
    ledger: &'l Ledger,
    started: Instant,
    wb: WriteBatch,
    resource_puts: Vec<(Vec<u8>, u64)>,
    /// The positions after this batch (those of a batch still being written included): what
    /// this batch's checkpoint signs.
    positions_after: PositionMap,
    frontier: Frontier,
    dirty: DirtyTiles,
    last_leaf: Hash,
    dedupe_overlay: HashMap<Vec<u8>, u64>,
    first_seq: u64,
    /// This batch's events so far (index = seq - first), for duplicates within the batch.
    batch_events: BatchEvents,
    /// Every event leaf is assembled here, then copied into the write batch.
    leaf_buf: Vec<u8>,
    outcomes: Vec<Outcome>,
    appended: u64,
    quarantined: u64,
    duplicates: u64,
    received_at: Timestamp,
    signers_after: Option<Vec<VerifierKey>>,
    key_records_after: Option<Vec<u64>>,
}

/// What a complete batch moves the ledger to, besides its write.
struct Moved {
    frontier: Frontier,
    last_leaf: Hash,
    duplicates: u64,
    moved_heads: Arc<Vec<(HeadKind, String, u64)>>,
    new_signers: Option<Vec<NoteSigner>>,
    key_records_after: Option<Vec<u64>>,
    positions_after: PositionMap,
    previous: u64,
}

impl<'l> BatchBuilder<'l> {
    fn new(ledger: &'l Ledger, len: usize) -> BatchBuilder<'l> {
        let frontier = ledger.frontier.clone();
        BatchBuilder {
            ledger,
            started: Instant::now(),
            // Sized for the entries and their index records up front, so building it copies
            // each leaf once rather than again on every doubling.
            wb: WriteBatch::with_capacity_bytes(len * 1024),
            resource_puts: Vec::new(),
            positions_after: ledger.positions.clone(),
            first_seq: frontier.size(),
            frontier,
            dirty: DirtyTiles::default(),
            last_leaf: ledger.last_leaf,
            dedupe_overlay: HashMap::new(),
            batch_events: Vec::with_capacity(len),
            leaf_buf: Vec::with_capacity(4096),
            outcomes: Vec::with_capacity(len),
            appended: 0,
            quarantined: 0,
            duplicates: 0,
            received_at: Timestamp::now(),
            signers_after: None,
            key_records_after: None,
        }
    }

    fn cf(&self, name: &str) -> &'l rocksdb::ColumnFamily {
        let ledger: &'l Ledger = self.ledger;
        ledger.db.cf_handle(name).expect("column family exists")
    }

    /// The Kafka positions stored with this batch: never backwards, never negative.
    fn positions(&mut self, positions: &[Position]) -> Result<(), LedgerError> {
        let cf = self.cf(CF_POSITIONS);
        for p in positions {
            let slot = (p.topic.clone(), p.partition);
            if let Some(&stored) = self.positions_after.get(&slot)
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
            self.positions_after.insert(slot, p.next_offset);
            self.wb.put_cf(
                &cf,
                position_key(&p.topic, p.partition),
                (p.next_offset as u64).to_be_bytes(),
            );
        }
        Ok(())
    }

    /// Index lookups for the whole batch at once: RocksDB's batched MultiGet is much cheaper
    /// per key than one Get each, and most of these keys are new (not found).
    fn lookups(&self, batch: &[Submission]) -> Result<(DedupeLookups, BatchHeads), LedgerError> {
        let db = &self.ledger.db;
        let dedupe_keys: Vec<Vec<u8>> = batch
            .iter()
            .filter_map(|s| match &s.item {
                Item::Event(v) => Some(dedupe_key(v.source(), v.id())),
                _ => None,
            })
            .collect();
        let mut stored = Vec::with_capacity(dedupe_keys.len());
        for found in db.batched_multi_get_cf(&self.cf(CF_DEDUPE), &dedupe_keys, false) {
            stored.push(match found? {
                Some(v) => Some(be_u64(&v).filter(|_| v.len() == 8).ok_or_else(|| {
                    LedgerError::Inconsistent("a deduplication value is not 8 bytes".into())
                })?),
                None => None,
            });
        }
        let heads = heads::resolve(&self.ledger.heads, db, batch)?;
        Ok((dedupe_keys.into_iter().zip(stored), heads))
    }

    /// An event: skipped if identical to the one recorded under its deduplication key,
    /// quarantined if different, else assembled into a leaf with its back-links.
    fn event(
        &mut self,
        origin: &Origin,
        v: ValidatedEvent,
        (dkey, stored): (Vec<u8>, Option<u64>),
        row: [u32; 3],
        heads: &mut BatchHeads,
    ) -> Result<Option<Built>, LedgerError> {
        let seq = self.frontier.size();
        let existing = self
            .dedupe_overlay
            .get(&dkey)
            .copied()
            .or_else(|| self.ledger.in_flight.as_ref()?.dedupe.get(&dkey).copied())
            .or(stored);
        match existing {
            Some(first)
                if self
                    .ledger
                    .recorded_event_is(first, &v, &self.batch_events)? =>
            {
                self.duplicates += 1;
                self.outcomes.push(Outcome::Duplicate(Seq(first)));
                Ok(None)
            }
            Some(first) => Ok(Some(Built::Body(Body::Quarantined(Box::new(Rejection {
                reason: RejectReason::ConflictingDuplicate { first_index: first },
                payload: KeptPayload::Event(Box::new(v.into_event())),
            }))))),
            None => {
                let links = BackLinks {
                    prev_subject: heads.head(row[0]),
                    prev_grant: heads.head(row[1]),
                    prev_credential: heads.head(row[2]),
                };
                if let (Some(g), Some(r), None) = (v.grant_id(), v.resource(), links.prev_grant) {
                    self.resource_puts.push((resource_key(r, g), seq));
                }
                heads.advance(row, seq);
                self.dedupe_overlay.insert(dkey, seq);
                encode_event_leaf_into(
                    &mut self.leaf_buf,
                    seq,
                    &self.last_leaf,
                    self.received_at,
                    origin,
                    &links,
                    &v,
                );
                Ok(Some(Built::Leaf {
                    event: v.into_encoded(),
                }))
            }
        }
    }

    /// A system record: the genesis record only as entry 0, a key added or retired only as the
    /// rules of custody allow.
    fn system(&mut self, record: SystemRecord) -> Result<Built, LedgerError> {
        let seq = self.frontier.size();
        let mut keys = self
            .signers_after
            .clone()
            .unwrap_or_else(|| self.ledger.verifier_keys());
        match &record {
            SystemRecord::Genesis { .. } if seq != 0 => {
                return Err(LedgerError::Rotation("genesis must be entry 0".into()));
            }
            SystemRecord::Genesis { .. }
            | SystemRecord::OffsetsUnavailable { .. }
            | SystemRecord::OutOfScope { .. } => {}
            SystemRecord::KeyAdded { verifier_key } => {
                let k = VerifierKey::parse(verifier_key)
                    .map_err(|e| LedgerError::Rotation(e.to_string()))?;
                if k.name() != self.ledger.origin {
                    return Err(LedgerError::Rotation(format!(
                        "key name {} is not the origin {}",
                        k.name(),
                        self.ledger.origin
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
        if let SystemRecord::OffsetsUnavailable { first, end, .. } = &record
            && first >= end
        {
            return Err(LedgerError::Inconsistent(format!(
                "an empty range of unavailable offsets ({first}..{end})"
            )));
        }
        if let SystemRecord::OutOfScope { offsets, .. } = &record
            && let Some((first, end)) = offsets.iter().find(|(first, end)| first >= end)
        {
            return Err(LedgerError::Inconsistent(format!(
                "an empty range of out-of-scope offsets ({first}..{end})"
            )));
        }
        // Key records (their indexes are signed in every checkpoint's `idledger-keys` line).
        if matches!(
            record,
            SystemRecord::Genesis { .. }
                | SystemRecord::KeyAdded { .. }
                | SystemRecord::KeyRetired { .. }
        ) {
            let ledger = self.ledger;
            self.key_records_after
                .get_or_insert_with(|| ledger.key_records.clone())
                .push(seq);
        }
        self.signers_after = Some(keys);
        Ok(Built::Body(Body::System(record)))
    }

    /// Appends a built leaf at the next index: into the write batch, the tree and the outcomes.
    fn push(&mut self, origin: Origin, built: Built) {
        let seq = self.frontier.size();
        let (event, is_quarantine) = match built {
            Built::Leaf { event } => (event, false),
            Built::Body(body) => {
                let is_quarantine = matches!(body, Body::Quarantined(_));
                let entry = Entry {
                    version: FORMAT_VERSION,
                    seq,
                    prev_leaf_hash: self.last_leaf.0,
                    received_at: self.received_at,
                    origin,
                    body,
                };
                self.leaf_buf = entry.encode();
                (Vec::new(), is_quarantine)
            }
        };
        let hash = leaf_hash(&self.leaf_buf);
        self.wb
            .put_cf(&self.cf(CF_ENTRIES), seq_key(seq), &self.leaf_buf);
        debug_assert_eq!(seq - self.first_seq, self.batch_events.len() as u64);
        self.batch_events.push(event);
        self.frontier.push(hash, &mut self.dirty);
        self.last_leaf = hash;
        if is_quarantine {
            self.quarantined += 1;
            self.outcomes.push(Outcome::Quarantined(Seq(seq)));
        } else {
            self.appended += 1;
            self.outcomes.push(Outcome::Appended(Seq(seq)));
        }
    }

    /// Every submission of the batch, in order.
    fn submissions(&mut self, batch: Vec<Submission>) -> Result<BatchHeads, LedgerError> {
        let (mut dedupe, mut heads) = self.lookups(&batch)?;
        let mut rows = std::mem::take(&mut heads.rows).into_iter();
        for sub in batch {
            let built = match sub.item {
                Item::Event(v) => {
                    let lookup = dedupe.next().expect("one deduplication lookup per event");
                    let row = rows.next().expect("one row of heads per event");
                    match self.event(&sub.origin, v, lookup, row, &mut heads)? {
                        Some(built) => built,
                        None => continue,
                    }
                }
                Item::Rejected(r) => Built::Body(Body::Quarantined(Box::new(r))),
                Item::System(record) => self.system(record)?,
            };
            self.push(sub.origin, built);
        }
        Ok(heads)
    }

    /// The tiles the batch changed, the tree size and the count of duplicates skipped.
    fn tree_and_meta(&mut self) {
        let (tiles, subtrees, meta) = (self.cf(CF_TILES), self.cf(CF_SUBTREES), self.cf(CF_META));
        for ((level, index), hashes) in &self.dirty.tiles {
            self.wb
                .put_cf(&tiles, tile_key(*level, *index), encode_tile(hashes));
        }
        for ((level, index), hashes) in &self.dirty.subtrees {
            self.wb
                .put_cf(&subtrees, tile_key(*level, *index), encode_tile(hashes));
        }
        for ((level, index), hashes) in self.frontier.partial_tiles() {
            self.wb
                .put_cf(&tiles, tile_key(level, index), encode_tile(hashes));
        }
        self.wb
            .put_cf(&meta, META_TREE_SIZE, self.frontier.size().to_be_bytes());
        if self.duplicates > 0 {
            self.wb.put_cf(
                &meta,
                META_DUPLICATES,
                (self.ledger.duplicates_total + self.duplicates).to_be_bytes(),
            );
        }
    }

    /// Signs the checkpoint over the new tree (with the keys active before and after the batch)
    /// and completes the write; returns it with what the ledger moves to.
    fn finish(mut self, heads: BatchHeads) -> Result<(Prepared, Moved), LedgerError> {
        self.tree_and_meta();
        let meta = self.cf(CF_META);
        // Load the signers for any newly added key before signing with it.
        let mut new_signers: Option<Vec<NoteSigner>> = None;
        if let Some(keys) = &self.signers_after {
            let mut s = Vec::new();
            for k in keys {
                s.push(
                    self.ledger
                        .key_dir
                        .load_signer(k, &self.ledger.dir.join("keys"))?,
                );
            }
            let text: Vec<String> = keys.iter().map(ToString::to_string).collect();
            self.wb
                .put_cf(&meta, META_SIGNERS, text.join("\n").as_bytes());
            new_signers = Some(s);
        }
        if let Some(records) = &self.key_records_after {
            self.wb
                .put_cf(&meta, META_KEY_RECORDS, encode_key_records(records));
        }
        let (size, root) = (self.frontier.size(), self.frontier.root());
        // Signed with the tree: where the previous checkpoint was (a deleted checkpoint breaks
        // the chain), and the positions stored with this batch (so none can move unsigned).
        // A batch that appended nothing re-signs the checkpoint at the same size, which then
        // replaces the stored one and links to what that one linked to.
        let previous = if size == self.first_seq {
            self.ledger.previous_checkpoint
        } else {
            self.first_seq
        };
        let text = Checkpoint {
            origin: self.ledger.origin.clone(),
            size: TreeSize(size),
            root,
        }
        .to_text_with(&Extensions {
            previous: Some(previous),
            positions: Some(opening::positions_digest(&self.positions_after)),
            keys: Some(key_records_digest(
                self.key_records_after
                    .as_deref()
                    .unwrap_or(&self.ledger.key_records),
            )),
        });
        // A key being retired still signs the checkpoint that covers its retirement entry, so
        // a verifier following the chain from the old key sees the hand-over.
        let mut signing: Vec<&NoteSigner> = self.ledger.signers.iter().collect();
        for s in new_signers.iter().flatten() {
            if !signing.iter().any(|x| x.verifier() == s.verifier()) {
                signing.push(s);
            }
        }
        let note = sign_note(&text, &signing).map_err(|e| match e {
            // A token that failed or returned a wrong signature: nothing is written.
            NoteError::Signer(_) | NoteError::WrongSignature { .. } => {
                LedgerError::Key(crate::keys::KeyError::Signing(e))
            }
            other => LedgerError::Inconsistent(other.to_string()),
        })?;
        self.wb
            .put_cf(&self.cf(CF_CHECKPOINTS), seq_key(size), note.as_bytes());
        let moved_heads = Arc::new(heads.into_moved());
        let prepared = Prepared {
            wb: self.wb,
            indexes: IndexPuts {
                dedupe: Arc::new(self.dedupe_overlay),
                heads: Arc::clone(&moved_heads),
                resources: self.resource_puts,
            },
            report: AppendReport {
                outcomes: self.outcomes,
                size: TreeSize(size),
                root,
                checkpoint: note,
                appended: self.appended,
                quarantined: self.quarantined,
                duplicates: self.duplicates,
                elapsed: self.started.elapsed(),
            },
            first_seq: self.first_seq,
            events: self.batch_events,
        };
        let moved = Moved {
            frontier: self.frontier,
            last_leaf: self.last_leaf,
            duplicates: self.duplicates,
            moved_heads,
            new_signers,
            key_records_after: self.key_records_after,
            positions_after: self.positions_after,
            previous,
        };
        Ok((prepared, moved))
    }
}

impl Ledger {
    /// Builds a batch's write and moves in-memory state past it (`append` and `submit` write it,
    /// and poison this handle if the write fails).
    pub(super) fn prepare(
        &mut self,
        batch: Vec<Submission>,
        positions: &[Position],
    ) -> Result<Prepared, LedgerError> {
        if let Some(why) = &self.failed {
            return Err(LedgerError::Inconsistent(format!(
                "an earlier write failed ({why}); reopen the ledger"
            )));
        }
        let mut builder = BatchBuilder::new(self, batch.len());
        builder.positions(positions)?;
        let heads = builder.submissions(batch)?;
        let (prepared, moved) = builder.finish(heads)?;
        self.moved_past(moved);
        Ok(prepared)
    }

    /// In-memory state moves past a prepared batch.
    fn moved_past(&mut self, moved: Moved) {
        self.frontier = moved.frontier;
        self.last_leaf = moved.last_leaf;
        self.duplicates_total += moved.duplicates;
        if self.heads.len() + moved.moved_heads.len() > heads::HEAD_CACHE_LIMIT {
            self.heads.clear();
            // A batch still being written has heads the database does not show yet.
            if let Some(f) = &self.in_flight {
                for (kind, id, seq) in f.heads.iter() {
                    self.heads.insert(*kind, id, *seq);
                }
            }
        }
        for (kind, id, seq) in moved.moved_heads.iter() {
            self.heads.insert(*kind, id, *seq);
        }
        if let Some(s) = moved.new_signers {
            self.signers = s;
        }
        if let Some(records) = moved.key_records_after {
            self.key_records = records;
        }
        self.positions = moved.positions_after;
        self.previous_checkpoint = moved.previous;
    }
}
