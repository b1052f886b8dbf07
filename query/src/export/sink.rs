//! Where an export's records go, one at a time (`ExportSink`): lines to a file or standard
//! output (`Lines`), records kept in memory to be written whole later (`Collected`), and, in the
//! binary and the HTTP server, a Kafka topic and a follower's connection. Each record comes with
//! what it is (`Record`), so a sink can key or route it without parsing the line.

use crate::answers::QueryError;
use std::io::Write;
use std::ops::Range;

/// What one record of an export stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// The stream's start: entries follow from index `from`.
    Start { from: u64 },
    /// The entry at `index`.
    Entry { index: u64 },
    /// A signed checkpoint vouching for the entries before `size`.
    Checkpoint { size: u64 },
}

impl Record {
    /// The index the stream goes on from after this record: a resumed export starts there.
    pub fn resume_from(self) -> u64 {
        match self {
            Record::Start { from } => from,
            Record::Entry { index } => index + 1,
            Record::Checkpoint { size } => size,
        }
    }
}

/// A destination for export records.
pub trait ExportSink {
    /// One record; `line` is its text without a line ending.
    fn record(&mut self, record: Record, line: &[u8]) -> Result<(), QueryError>;
    /// Everything given so far is written (or, for a remote sink, acknowledged).
    fn flush(&mut self) -> Result<(), QueryError>;
}

/// Records as lines, each ended by `\n`: a file, standard output, a pipe.
#[derive(Debug)]
pub struct Lines<W: Write>(pub W);

impl<W: Write> ExportSink for Lines<W> {
    fn record(&mut self, _record: Record, line: &[u8]) -> Result<(), QueryError> {
        self.0.write_all(line).map_err(QueryError::Write)?;
        self.0.write_all(b"\n").map_err(QueryError::Write)
    }

    fn flush(&mut self) -> Result<(), QueryError> {
        self.0.flush().map_err(QueryError::Write)
    }
}

/// Records held in memory, to be given to another sink whole (a `--follow` round is written
/// whole or not at all) or inspected.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    records: Vec<(Record, Range<usize>)>,
    bytes: Vec<u8>,
}

impl Collected {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The records and their lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Record, &[u8])> {
        self.records
            .iter()
            .map(|(record, range)| (*record, &self.bytes[range.clone()]))
    }

    /// Gives every record, in order, to `sink` (without flushing it).
    pub fn replay(&self, sink: &mut dyn ExportSink) -> Result<(), QueryError> {
        self.iter()
            .try_for_each(|(record, line)| sink.record(record, line))
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.bytes.clear();
    }
}

impl ExportSink for Collected {
    fn record(&mut self, record: Record, line: &[u8]) -> Result<(), QueryError> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.records.push((record, start..self.bytes.len()));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), QueryError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collected_records_replay_as_lines_in_order() {
        let mut collected = Collected::default();
        let given = [
            (Record::Start { from: 4 }, "s"),
            (Record::Entry { index: 4 }, "e4"),
            (Record::Checkpoint { size: 5 }, "c5"),
        ];
        for (record, line) in given {
            collected
                .record(record, line.as_bytes())
                .expect("memory takes a record");
        }
        let mut lines = Lines(Vec::new());
        collected.replay(&mut lines).expect("a Vec takes lines");
        assert_eq!(lines.0, b"s\ne4\nc5\n");
        assert_eq!(collected.len(), 3);
    }

    #[test]
    fn each_record_says_where_a_resumed_export_starts() {
        let cases = [
            (Record::Start { from: 7 }, 7),
            (Record::Entry { index: 7 }, 8),
            (Record::Checkpoint { size: 9 }, 9),
        ];
        for (record, from) in cases {
            assert_eq!(record.resume_from(), from, "{record:?}");
        }
    }
}
