//! The heads of ids (the latest entry about each subject, grant and credential), which give
//! each appended event its back-links: a bounded in-memory cache, and the heads one batch
//! resolves once and moves as it appends.

use super::{Item, LedgerError, Submission};
use crate::store::{CF_HEADS, HeadKind, be_u64, head_key};
use rocksdb::DB;
use std::collections::HashMap;

/// Cached index heads are dropped when the cache holds more ids than this (about 10 MiB).
pub(super) const HEAD_CACHE_LIMIT: usize = 100_000;

/// The latest entry index per subject, grant and credential id; looked up by `&str` without
/// allocating.
#[derive(Debug, Default)]
pub(super) struct HeadMap([HashMap<String, u64>; 3]);

impl HeadMap {
    fn slot(kind: HeadKind) -> usize {
        match kind {
            HeadKind::Subject => 0,
            HeadKind::Grant => 1,
            HeadKind::Credential => 2,
        }
    }
    pub(super) fn get(&self, kind: HeadKind, id: &str) -> Option<u64> {
        self.0[Self::slot(kind)].get(id).copied()
    }
    pub(super) fn insert(&mut self, kind: HeadKind, id: &str, seq: u64) {
        let map = &mut self.0[Self::slot(kind)];
        match map.get_mut(id) {
            Some(v) => *v = seq,
            None => {
                map.insert(id.to_owned(), seq);
            }
        }
    }
    pub(super) fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }
    pub(super) fn clear(&mut self) {
        self.0.iter_mut().for_each(HashMap::clear);
    }
}

/// The heads one batch reads and moves: each distinct (kind, id) looked up once before the
/// batch, then addressed by slot, so the batch itself hashes no ids.
pub(super) struct BatchHeads {
    /// Per event submission of the batch, in order: the slots of its subject, grant and
    /// credential (`NO_SLOT` where the event names none).
    pub(super) rows: Vec<[u32; 3]>,
    slots: Vec<HeadSlot>,
}

pub(super) const NO_SLOT: u32 = u32::MAX;

pub(super) struct HeadSlot {
    kind: HeadKind,
    id: String,
    /// The latest entry about this id: before the batch, then as the batch appends.
    head: Option<u64>,
    moved: bool,
}

impl BatchHeads {
    pub(super) fn head(&self, slot: u32) -> Option<u64> {
        self.slots.get(slot as usize).and_then(|s| s.head)
    }

    pub(super) fn advance(&mut self, row: [u32; 3], seq: u64) {
        for slot in row {
            if let Some(s) = self.slots.get_mut(slot as usize) {
                s.head = Some(seq);
                s.moved = true;
            }
        }
    }

    /// The heads this batch moved, as (kind, id, new head).
    pub(super) fn into_moved(self) -> Vec<(HeadKind, String, u64)> {
        self.slots
            .into_iter()
            .filter_map(|s| Some((s.kind, s.id, s.head.filter(|_| s.moved)?)))
            .collect()
    }
}

/// Resolves every subject, grant and credential id the batch's events name to its current head:
/// from the in-memory cache `cache` (which includes any batch still being written), else from
/// the `heads` column family in one batched read.
pub(super) fn resolve(
    cache: &HeadMap,
    db: &DB,
    batch: &[Submission],
) -> Result<BatchHeads, LedgerError> {
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
                let cached = cache.get(kind, id);
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
    let cf = db.cf_handle(CF_HEADS).expect("heads column family exists");
    let keys: Vec<Vec<u8>> = wanted
        .iter()
        .map(|&i| head_key(slots[i as usize].kind, &slots[i as usize].id))
        .collect();
    for (&i, found) in wanted
        .iter()
        .zip(db.batched_multi_get_cf(&cf, &keys, false))
    {
        slots[i as usize].head =
            match found? {
                Some(v) => Some(be_u64(&v).filter(|_| v.len() == 8).ok_or_else(|| {
                    LedgerError::Inconsistent("a heads value is not 8 bytes".into())
                })?),
                None => None,
            };
    }
    Ok(BatchHeads { rows, slots })
}
