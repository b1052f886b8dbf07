//! What the server keeps for its entry streams (`/v1/entries`): a slot per open stream (at most
//! `max_followers`), the pool their rounds read the ledger in, the watcher that catches up with
//! the writer and tells followers the size checkpoints now cover, the stop signal, and the
//! account of what the streams hold (for `/metrics`).
//!
//! The watcher runs while anyone follows: every `REFRESH_INTERVAL` it catches the shared reader
//! up with the writer (on the streams' pool, never on the API's) and publishes the covered size.

use super::ServerState;
use super::stream_body::Shared;
use idledger_ledger::LedgerReader;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// How often followers learn of new checkpoints, at most.
pub(crate) const WATCH_INTERVAL: std::time::Duration = super::REFRESH_INTERVAL;

/// The server's entry streams.
#[derive(Debug)]
pub(crate) struct Streams {
    /// One per open stream (`max_followers`).
    slots: Arc<Semaphore>,
    max: usize,
    /// Permits for the streams' ledger reads (`STREAM_READS`).
    rounds: Arc<Semaphore>,
    /// The size the latest checkpoint and the stored entries both cover, as last seen.
    covered: watch::Sender<u64>,
    watching: AtomicBool,
    /// Followers waiting for a newer checkpoint (not busy sending, nor blocked on their client).
    waiting: Arc<AtomicUsize>,
    /// Set when the server stops: every stream ends with a resume record.
    stopping: watch::Sender<bool>,
    /// Every stream's shared queue (for the held-bytes account), dropped ones pruned.
    open: Mutex<Vec<Weak<Shared>>>,
    pub(crate) refused: AtomicU64,
    pub(crate) cut_stalled: AtomicU64,
    pub(crate) cut_lagging: AtomicU64,
}

/// What the streams hold right now, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// Streams still producing.
    pub streams: u64,
    /// Bytes held for all streams' clients (queued, or in a round being sent).
    pub bytes: u64,
    /// The most bytes held for any one stream.
    pub max_bytes: u64,
}

impl Streams {
    pub(crate) fn new(max_followers: usize, round_permits: usize) -> Streams {
        Streams {
            slots: Arc::new(Semaphore::new(max_followers)),
            max: max_followers,
            rounds: Arc::new(Semaphore::new(round_permits)),
            covered: watch::channel(0).0,
            watching: AtomicBool::new(false),
            waiting: Arc::new(AtomicUsize::new(0)),
            stopping: watch::channel(false).0,
            open: Mutex::new(Vec::new()),
            refused: AtomicU64::new(0),
            cut_stalled: AtomicU64::new(0),
            cut_lagging: AtomicU64::new(0),
        }
    }

    /// A slot for one more stream, if fewer than `max_followers` are open.
    pub(crate) fn slot(&self) -> Option<OwnedSemaphorePermit> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().ok();
        if slot.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        slot
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A permit for one round's ledger reads.
    pub(crate) async fn round_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.rounds).acquire_owned().await.ok()
    }

    pub(crate) fn register(&self, shared: &Arc<Shared>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|w| w.strong_count() > 0);
        open.push(Arc::downgrade(shared));
    }

    pub(crate) fn held(&self) -> Held {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut held = Held {
            streams: (self.max - self.slots.available_permits()) as u64,
            ..Held::default()
        };
        for shared in open.iter().filter_map(Weak::upgrade) {
            let bytes = shared.held_bytes() as u64;
            held.bytes += bytes;
            held.max_bytes = held.max_bytes.max(bytes);
        }
        held
    }

    /// Publishes a covered size a request saw (the watcher's may be older).
    pub(crate) fn saw_covered(&self, size: u64) {
        self.covered.send_if_modified(|seen| {
            let grew = size > *seen;
            if grew {
                *seen = size;
            }
            grew
        });
    }

    /// Told each time the covered size changes.
    pub(crate) fn covered(&self) -> watch::Receiver<u64> {
        self.covered.subscribe()
    }

    /// Told when the server stops.
    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Counts a follower as waiting for a newer checkpoint until the guard is dropped.
    pub(crate) fn waiting(&self) -> Waiting {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(Arc::clone(&self.waiting))
    }
}

/// A follower waiting for a newer checkpoint (`Streams::waiting`).
#[derive(Debug)]
pub(crate) struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The size a stream may export up to: what both the latest checkpoint and the stored entries
/// cover (a reader beside a running writer catches up one column family at a time).
pub(crate) fn covered_size(reader: &LedgerReader<'_>) -> Result<u64, idledger_ledger::ReadError> {
    let (latest, _) = reader.latest_checkpoint()?;
    Ok(latest.0.min(reader.size()?.0))
}

impl ServerState {
    /// Ends every entry stream with a resume record (the server is stopping).
    pub fn stop_streams(&self) {
        self.streams.stop();
    }

    /// Starts the watcher if it is not running (it runs for the server's life, idle while
    /// nobody follows).
    pub(crate) fn watch_for_followers(self: &Arc<ServerState>) {
        if self.streams.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(watch_checkpoints(weak));
    }
}

/// Every `WATCH_INTERVAL` while a follower waits for a newer checkpoint: catch up with the writer
/// and publish the covered size. Ends with the server.
///
/// Catching up replays what the writer wrote since into the reader's memory, work in proportion
/// to what was written whatever the interval: it is done only while a follower has use for it,
/// never for followers that are all busy sending or held by clients that take nothing.
async fn watch_checkpoints(state: Weak<ServerState>) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = state.upgrade() else {
            return;
        };
        if s.streams.waiting.load(Ordering::Acquire) == 0 {
            continue;
        }
        let Some(permit) = s.streams.round_permit().await else {
            return;
        };
        let looking = Arc::clone(&s);
        let looked = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            looking.refresh_now();
            covered_size(&looking.ledger.current().reader())
        })
        .await;
        match looked {
            Ok(Ok(size)) => s.streams.saw_covered(size),
            Ok(Err(e)) => tracing::warn!(error = %e, "followers cannot read the latest checkpoint"),
            Err(e) => tracing::warn!(error = %e, "looking for new checkpoints failed"),
        }
    }
}
