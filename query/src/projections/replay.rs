//! Replay: two worker threads read the log in chunks and prepare each leaf, while the calling
//! thread applies the chunks in order, from the last applied entry to the log's current size.

use super::Projections;
use super::apply::next_seq;
use super::prepared::{Fact, LeafChunk, Prepared};
use crate::answers::QueryError;
use idledger_ledger::{ChunkCursor, LedgerReader, ReadError};
use idledger_proto::view::{BodyView, EntryView};

/// Entries per unit of parallel reading during replay.
pub(super) const REPLAY_CHUNK: u64 = 4096;

impl Projections {
    /// Replays the whole log.
    pub fn replay(reader: &LedgerReader<'_>) -> Result<Projections, QueryError> {
        let mut p = Projections::default();
        p.catch_up(reader)?;
        Ok(p)
    }

    /// Applies the entries appended since the last call. Two threads read the leaves
    /// in chunks while this one applies them in order.
    pub fn catch_up(&mut self, reader: &LedgerReader<'_>) -> Result<(), QueryError> {
        let size = reader.size()?.0;
        let mut expected = self.size;
        reader.par_chunks(
            self.size,
            Some(size),
            2,
            REPLAY_CHUNK,
            |cursor| -> Result<LeafChunk, QueryError> { Ok(read_chunk(cursor)?) },
            |chunk| {
                expected = self.apply_chunk(&chunk, expected)?;
                Ok(())
            },
        )?;
        if expected < size {
            return Err(ReadError::NoEntry(expected).into());
        }
        Ok(())
    }

    /// Applies a chunk's leaves, which must follow one another from `expected`; the index after
    /// the last of them.
    fn apply_chunk(&mut self, chunk: &LeafChunk, mut expected: u64) -> Result<u64, QueryError> {
        for item in &chunk.items {
            if item.seq() != expected {
                return Err(ReadError::NoEntry(expected).into());
            }
            match item {
                Prepared::Fact(f) => self.apply_fact(f, &chunk.bytes)?,
                Prepared::Leaf { seq, start, end } => {
                    let view = EntryView::decode(&chunk.bytes[*start..*end]).map_err(|source| {
                        ReadError::BadEntry {
                            index: *seq,
                            source,
                        }
                    })?;
                    self.apply(&view)?;
                }
            }
            expected = next_seq(expected)?;
        }
        Ok(expected)
    }
}

/// A replay worker's part: reads a chunk's leaves, decoding (and so validating) each, and
/// prepares each for the applying thread.
fn read_chunk(cursor: &mut ChunkCursor<'_>) -> Result<LeafChunk, ReadError> {
    let mut chunk = LeafChunk {
        bytes: Vec::with_capacity(REPLAY_CHUNK as usize * 700),
        items: Vec::with_capacity(REPLAY_CHUNK as usize),
    };
    while let Some((index, v)) = cursor.next_entry()? {
        let start = chunk.bytes.len();
        chunk.bytes.extend_from_slice(v);
        let view = EntryView::decode(&chunk.bytes[start..])
            .map_err(|source| ReadError::BadEntry { index, source })?;
        let fact = match &view.body {
            BodyView::Event(e) => Fact::of(&chunk.bytes, view.seq, &e.event),
            _ => None,
        };
        chunk.items.push(match fact {
            Some(f) => Prepared::Fact(f),
            None => Prepared::Leaf {
                seq: view.seq,
                start,
                end: chunk.bytes.len(),
            },
        });
    }
    Ok(chunk)
}
