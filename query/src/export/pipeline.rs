//! The entries of an export range, rendered on every core and written in order: the calling
//! thread scans the leaves and hands them out in chunks, one worker per core renders each
//! chunk's entry lines (decode, filter, leaf hash, line), and the calling thread writes the
//! rendered chunks to the sink in index order, with the checkpoint lines between them. Chunks in
//! flight are bounded, so memory does not grow with the range.

use super::lines;
use super::{ExportOptions, ExportSink, ExportSummary, Record};
use crate::answers::QueryError;
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::export::LineProof;
use idledger_proto::view::EntryView;
use idledger_proto::{Seq, TreeSize};
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Entries per chunk a worker renders at a time.
const CHUNK_ENTRIES: usize = 512;

/// Chunks queued to each worker at most (and as many rendered ones waiting to be written).
const CHUNKS_IN_FLIGHT: usize = 2;

/// Leaves scanned from the log, to be rendered.
#[derive(Default)]
struct Chunk {
    first: u64,
    leaves: Vec<u8>,
    ends: Vec<usize>,
}

/// A chunk's lines: for each of its entries in order, the line's bytes in `bytes`, or `None`
/// when the filter left the entry out.
struct Rendered {
    first: u64,
    bytes: Vec<u8>,
    lines: Vec<Option<Range<usize>>>,
}

/// What every worker needs: the reader (for proofs), the options and the range's end.
#[derive(Clone, Copy)]
struct Renderer<'r> {
    reader: &'r LedgerReader<'r>,
    opts: &'r ExportOptions,
    /// The checkpoint every proof is against.
    end: u64,
    proofs: bool,
}

impl Renderer<'_> {
    fn render(&self, chunk: Chunk) -> Result<Rendered, QueryError> {
        let filtered = !self.opts.filter.is_empty();
        let mut out = Rendered {
            first: chunk.first,
            bytes: Vec::with_capacity(chunk.leaves.len() * 3),
            lines: Vec::with_capacity(chunk.ends.len()),
        };
        let mut start = 0;
        for (i, &stop) in chunk.ends.iter().enumerate() {
            let index = chunk.first + i as u64;
            let leaf = &chunk.leaves[start..stop];
            start = stop;
            let entry =
                EntryView::decode(leaf).map_err(|source| ReadError::BadEntry { index, source })?;
            if filtered && !self.opts.filter.keeps(&entry) {
                out.lines.push(None);
                continue;
            }
            let proof = if self.proofs {
                let path = self
                    .reader
                    .inclusion_proof(Seq(index), TreeSize(self.end))?;
                Some(LineProof {
                    size: self.end,
                    path: path.iter().map(|h| h.to_base64()).collect(),
                })
            } else {
                None
            };
            let at = out.bytes.len();
            lines::write_entry(
                &mut out.bytes,
                self.opts.format,
                self.reader.origin(),
                (index, leaf),
                &entry,
                proof.as_ref(),
            );
            out.lines.push(Some(at..out.bytes.len()));
        }
        Ok(out)
    }
}

/// Writes rendered chunks in order, with a checkpoint line at each boundary due.
struct Writer<'w, 'r> {
    reader: &'r LedgerReader<'r>,
    opts: &'r ExportOptions,
    out: &'w mut dyn ExportSink,
    boundaries: std::iter::Peekable<std::vec::IntoIter<u64>>,
    /// The latest checkpoint's size and its cosigned note (served as the ledger serves it).
    latest: (u64, String),
    since_checkpoint: u64,
    summary: ExportSummary,
    line: Vec<u8>,
}

impl Writer<'_, '_> {
    fn write(&mut self, rendered: &Rendered) -> Result<(), QueryError> {
        for (i, line) in rendered.lines.iter().enumerate() {
            let index = rendered.first + i as u64;
            if let Some(range) = line {
                self.out
                    .record(Record::Entry { index }, &rendered.bytes[range.clone()])?;
                self.summary.entries += 1;
            }
            self.since_checkpoint += 1;
            self.after(index)?;
        }
        Ok(())
    }

    /// The checkpoint line due after the entry at `index`, if one is.
    fn after(&mut self, index: u64) -> Result<(), QueryError> {
        let end = self.summary.end;
        while let Some(boundary) = self.boundaries.next_if(|&b| b <= index + 1) {
            let last = boundary == end;
            if boundary != index + 1
                || !(last || self.since_checkpoint >= self.opts.checkpoint_every)
            {
                continue;
            }
            let note = if boundary == self.latest.0 {
                self.latest.1.clone()
            } else {
                self.reader
                    .checkpoint_at(TreeSize(boundary))?
                    .unwrap_or_default()
            };
            self.line.clear();
            lines::write_checkpoint(&mut self.line, self.opts.format, boundary, note)?;
            self.out
                .record(Record::Checkpoint { size: boundary }, &self.line)?;
            self.summary.checkpoints += 1;
            self.since_checkpoint = 0;
        }
        Ok(())
    }
}

/// Why the scan stopped early.
enum Stop {
    Done,
    Failed(QueryError),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Stop {
        Stop::Failed(e.into())
    }
}

impl From<QueryError> for Stop {
    fn from(e: QueryError) -> Stop {
        Stop::Failed(e)
    }
}

/// The entry lines from `from` to `end` (a checkpoint's size), with the checkpoint lines at
/// `boundaries` (the checkpoint sizes in the range, ascending, `end` last).
pub(super) fn write_range(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    from: u64,
    boundaries: Vec<u64>,
    out: &mut dyn ExportSink,
) -> Result<ExportSummary, QueryError> {
    let end = *boundaries
        .last()
        .ok_or_else(|| QueryError::BadRequest("an empty range".into()))?;
    let (latest, latest_note) = reader.latest_checkpoint_cosigned()?;
    let renderer = Renderer {
        reader,
        opts,
        end,
        proofs: opts.proofs || !opts.filter.is_empty(),
    };
    let mut writer = Writer {
        reader,
        opts,
        out,
        boundaries: boundaries.into_iter().peekable(),
        latest: (latest.0, latest_note),
        since_checkpoint: 0,
        summary: ExportSummary {
            end,
            ..ExportSummary::default()
        },
        line: Vec::with_capacity(1024),
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    std::thread::scope(|scope| -> Result<(), QueryError> {
        let lanes: Vec<Lane> = (0..workers)
            .map(|_| {
                let (to_worker, inbox) = sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
                let (outbox, from_worker) = sync_channel(CHUNKS_IN_FLIGHT);
                scope.spawn(move || work(renderer, inbox, outbox));
                Lane {
                    to_worker,
                    from_worker,
                }
            })
            .collect();
        let mut dispatch = Dispatch {
            lanes,
            sent: 0,
            written: 0,
            chunk: Chunk::default(),
        };
        dispatch.chunk.first = from;
        let scanned = reader.scan(Seq(from), |seq, leaf| -> Result<(), Stop> {
            if seq.0 >= end {
                return Err(Stop::Done);
            }
            dispatch.chunk.leaves.extend_from_slice(leaf);
            dispatch.chunk.ends.push(dispatch.chunk.leaves.len());
            if dispatch.chunk.ends.len() == CHUNK_ENTRIES {
                dispatch.send(seq.0 + 1, &mut writer)?;
            }
            Ok(())
        });
        match scanned {
            Ok(()) | Err(Stop::Done) => {}
            Err(Stop::Failed(e)) => return Err(e),
        }
        if !dispatch.chunk.ends.is_empty() {
            let next = dispatch.chunk.first + dispatch.chunk.ends.len() as u64;
            dispatch.send(next, &mut writer)?;
        }
        dispatch.drain(&mut writer)
    })?;
    writer.out.flush()?;
    Ok(writer.summary)
}

/// One worker's queues.
struct Lane {
    to_worker: SyncSender<Chunk>,
    from_worker: Receiver<Result<Rendered, QueryError>>,
}

/// Chunks handed out round-robin, and written back in the order they were handed out.
struct Dispatch {
    lanes: Vec<Lane>,
    sent: usize,
    written: usize,
    chunk: Chunk,
}

impl Dispatch {
    /// Hands the current chunk to the next worker (writing what is ready first, so no more
    /// than `CHUNKS_IN_FLIGHT` chunks wait per worker); the next chunk starts at `next`.
    fn send(&mut self, next: u64, writer: &mut Writer<'_, '_>) -> Result<(), QueryError> {
        let chunk = std::mem::replace(
            &mut self.chunk,
            Chunk {
                first: next,
                leaves: Vec::with_capacity(CHUNK_ENTRIES * 640),
                ends: Vec::with_capacity(CHUNK_ENTRIES),
            },
        );
        if self.sent - self.written >= self.lanes.len() * CHUNKS_IN_FLIGHT {
            self.write_next(writer)?;
        }
        let lane = &self.lanes[self.sent % self.lanes.len()];
        lane.to_worker
            .send(chunk)
            .map_err(|_| QueryError::Encode("an export worker stopped".into()))?;
        self.sent += 1;
        Ok(())
    }

    fn write_next(&mut self, writer: &mut Writer<'_, '_>) -> Result<(), QueryError> {
        let lane = &self.lanes[self.written % self.lanes.len()];
        let rendered = lane
            .from_worker
            .recv()
            .map_err(|_| QueryError::Encode("an export worker stopped".into()))??;
        self.written += 1;
        writer.write(&rendered)
    }

    /// Writes every chunk still out; the workers then stop as their queues close.
    fn drain(mut self, writer: &mut Writer<'_, '_>) -> Result<(), QueryError> {
        while self.written < self.sent {
            self.write_next(writer)?;
        }
        Ok(())
    }
}

/// A worker: renders each chunk it is given until its queue closes (or the writer stops
/// taking results, after a failure).
fn work(
    renderer: Renderer<'_>,
    inbox: Receiver<Chunk>,
    outbox: SyncSender<Result<Rendered, QueryError>>,
) {
    for chunk in inbox {
        if outbox.send(renderer.render(chunk)).is_err() {
            return;
        }
    }
}
