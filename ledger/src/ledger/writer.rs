//! The write side of appending: every write synced, a batch's index records put in key order
//! just before its write, and the thread that writes `submit`ted batches in order while the
//! next one is prepared.

use crate::store::{CF_DEDUPE, CF_HEADS, CF_RESOURCES, HeadKind, head_key};
use rocksdb::{DB, WriteBatch, WriteOptions};
use std::collections::HashMap;
use std::sync::Arc;

/// The canonical encoding of each event a batch appends, by `seq - first_seq` (empty for its
/// other entries): what a later duplicate in the same or the next batch is compared with
/// before either is in the database.
pub(super) type BatchEvents = Vec<Vec<u8>>;

/// Every ledger write: the WAL is fsynced before the write returns (docs/DURABILITY.md).
pub(super) fn synced() -> WriteOptions {
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
pub(super) struct IndexPuts {
    pub(super) dedupe: Arc<HashMap<Vec<u8>, u64>>,
    pub(super) heads: Arc<Vec<(HeadKind, String, u64)>>,
    pub(super) resources: Vec<(Vec<u8>, u64)>,
}

impl IndexPuts {
    /// Adds the records to the batch, each column family's in key order.
    pub(super) fn put_into(&self, wb: &mut WriteBatch, db: &DB) {
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
pub(super) struct WriteJob {
    pub(super) wb: WriteBatch,
    pub(super) indexes: IndexPuts,
    pub(super) spent: Option<Spent>,
}

/// What a written batch leaves behind: the buffers later batches looked up while it was in
/// flight, held only until the write thread frees them.
pub(super) struct Spent {
    pub(super) _events: BatchEvents,
    pub(super) _dedupe: Arc<HashMap<Vec<u8>, u64>>,
    pub(super) _heads: Arc<Vec<(HeadKind, String, u64)>>,
}

/// The thread that writes `submit`ted batches, one at a time, in order (started on first use).
pub(super) struct Writer {
    pub(super) jobs: std::sync::mpsc::SyncSender<WriteJob>,
    pub(super) done: std::sync::mpsc::Receiver<Result<(), rocksdb::Error>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(db: Arc<DB>) -> std::io::Result<Writer> {
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
