//! The entries of an export range, read and rendered on every core and written in order: one
//! worker per core reads whole chunks of the range from the log (each with its own iterator) and
//! renders each chunk's entry lines (decode, filter, line), and the calling thread writes the
//! rendered chunks to the sink in index order, with the checkpoint lines between them. Each
//! entry's leaf hash is read from the stored level-0 tile that holds it, the hash the tree
//! commits to (`verify-export` recomputes it from the leaf). Chunks in flight are bounded, so
//! memory does not grow with the range.

use super::lines;
use super::{ExportOptions, ExportSink, ExportSummary, Record};
use crate::answers::QueryError;
use idledger_ledger::{ChunkCursor, LedgerReader, ReadError};
use idledger_proto::export::LineProof;
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::tiles::TILE_WIDTH;
use idledger_proto::view::EntryView;
use idledger_proto::{Seq, TreeSize};
use std::ops::Range;

/// Entries per chunk a worker reads and renders at a time (in unit tests, few enough that every
/// test ledger spans chunks).
const CHUNK_ENTRIES: u64 = if cfg!(test) { 5 } else { 2048 };

/// A chunk's lines: for each of its entries in order from `first`, the line's bytes in `bytes`,
/// or `None` when the filter left the entry out.
struct Rendered {
    first: u64,
    bytes: Vec<u8>,
    lines: Vec<Option<Range<usize>>>,
}

/// What every worker needs: the reader (for tiles and proofs), the options and the range's end.
#[derive(Clone, Copy)]
struct Renderer<'r> {
    reader: &'r LedgerReader<'r>,
    opts: &'r ExportOptions,
    /// The checkpoint every proof is against.
    end: u64,
    proofs: bool,
}

impl Renderer<'_> {
    /// Reads and renders the entries under `cursor`, which must follow one another.
    fn render(&self, cursor: &mut ChunkCursor<'_>) -> Result<Rendered, QueryError> {
        let filtered = !self.opts.filter.is_empty();
        let mut out = Rendered {
            first: 0,
            bytes: Vec::with_capacity(CHUNK_ENTRIES as usize * 1536),
            lines: Vec::with_capacity(CHUNK_ENTRIES as usize),
        };
        let mut hashes = StoredLeafHashes::new(self.reader);
        while let Some((index, leaf)) = cursor.next_entry()? {
            if out.lines.is_empty() {
                out.first = index;
            } else if index != out.first + out.lines.len() as u64 {
                return Err(ReadError::NoEntry(out.first + out.lines.len() as u64).into());
            }
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
                (index, leaf, hashes.get(index, leaf)?),
                &entry,
                proof.as_ref(),
            );
            out.lines.push(Some(at..out.bytes.len()));
        }
        Ok(out)
    }
}

/// The leaf hashes of the stored level-0 tiles, one tile held at a time. A leaf whose tile is
/// missing or shorter than it (a reader that has not caught up with the tile yet) is hashed.
struct StoredLeafHashes<'r> {
    reader: &'r LedgerReader<'r>,
    /// The tile held: its index and hashes.
    tile: Option<(u64, Vec<u8>)>,
}

impl<'r> StoredLeafHashes<'r> {
    fn new(reader: &'r LedgerReader<'r>) -> Self {
        StoredLeafHashes { reader, tile: None }
    }

    fn get(&mut self, index: u64, leaf: &[u8]) -> Result<Hash, ReadError> {
        let tile = index / TILE_WIDTH;
        if self.tile.as_ref().is_none_or(|(held, _)| *held != tile) {
            let hashes = self.reader.tile(0, tile)?.unwrap_or_default();
            self.tile = Some((tile, hashes));
        }
        let at = (index % TILE_WIDTH) as usize * 32;
        let stored = self
            .tile
            .as_ref()
            .and_then(|(_, hashes)| hashes.get(at..at + 32))
            .and_then(|h| <[u8; 32]>::try_from(h).ok());
        Ok(stored.map_or_else(|| leaf_hash(leaf), Hash))
    }
}

/// Writes rendered chunks in order, with a checkpoint line at each boundary due.
struct Writer<'w, 'r> {
    reader: &'r LedgerReader<'r>,
    opts: &'r ExportOptions,
    out: &'w mut dyn ExportSink,
    boundaries: std::iter::Peekable<std::vec::IntoIter<u64>>,
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
            let note = self
                .reader
                .checkpoint_at_cosigned(TreeSize(boundary))?
                .unwrap_or_default();
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
        since_checkpoint: 0,
        summary: ExportSummary {
            end,
            ..ExportSummary::default()
        },
        line: Vec::with_capacity(1024),
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut expected = from;
    reader.par_chunks(
        from,
        Some(end),
        workers,
        CHUNK_ENTRIES,
        |cursor| renderer.render(cursor),
        |rendered| {
            if !rendered.lines.is_empty() && rendered.first != expected {
                return Err(ReadError::NoEntry(expected).into());
            }
            expected += rendered.lines.len() as u64;
            writer.write(&rendered)
        },
    )?;
    if expected < end {
        return Err(ReadError::NoEntry(expected).into());
    }
    writer.out.flush()?;
    Ok(writer.summary)
}
