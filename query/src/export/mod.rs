//! `idledger export`: the log as an export stream (`idledger_proto::export`, docs/EXPORT.md),
//! JSON lines for a SIEM's file or stream input, each entry with its index, leaf hash, leaf
//! bytes and the entry as JSON, and the signed checkpoints that vouch for them.
//!
//! A whole range is contiguous: it starts with the tree's frontier at its first index and
//! carries the stored checkpoint at each batch boundary once `checkpoint_every` entries have
//! passed, and at its end, so `verify-export` rebuilds the signed tree from the lines alone. A
//! filtered stream leaves entries out, so each entry line then carries its inclusion proof
//! against the checkpoint at the stream's end (as every line does with `proofs`).

use crate::answers::QueryError;
use idledger_ledger::LedgerReader;
use idledger_proto::event::SubjectKind;
use idledger_proto::export::RecordFormat;
use idledger_proto::view::{BodyView, EntryView};
use idledger_proto::{Seq, Timestamp, TreeSize};

mod lines;
mod pipeline;
mod sink;
#[cfg(test)]
mod tests;
pub use sink::{Collected, ExportSink, Lines, Record};

/// Which entries a filtered export keeps; empty lists keep everything.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    /// Event types (`access.granted`, ...).
    pub types: Vec<String>,
    pub sources: Vec<String>,
    /// Subject ids.
    pub subjects: Vec<String>,
    /// `Some(true)`: human subjects only; `Some(false)`: non-human only.
    pub human: Option<bool>,
    /// `Some(true)`: quarantined entries only; `Some(false)`: none of them.
    pub quarantined: Option<bool>,
}

impl ExportFilter {
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
            && self.sources.is_empty()
            && self.subjects.is_empty()
            && self.human.is_none()
            && self.quarantined.is_none()
    }

    fn keeps(&self, entry: &EntryView<'_>) -> bool {
        let quarantined = matches!(entry.body, BodyView::Quarantined(_));
        if self.quarantined.is_some_and(|q| q != quarantined) {
            return false;
        }
        let event = entry.event();
        let wants_event = !self.types.is_empty()
            || !self.sources.is_empty()
            || !self.subjects.is_empty()
            || self.human.is_some();
        let Some(event) = event else {
            return !wants_event;
        };
        (self.types.is_empty() || self.types.iter().any(|t| t == event.kind.as_str()))
            && (self.sources.is_empty() || self.sources.iter().any(|s| s == event.source))
            && (self.subjects.is_empty() || self.subjects.iter().any(|s| s == event.subject.id))
            && self
                .human
                .is_none_or(|h| h == (event.subject.kind == SubjectKind::Human))
    }
}

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The first index.
    pub from: u64,
    /// Stop before this index (rounded down to a checkpoint's size); default: the log's end.
    pub to: Option<u64>,
    /// Carry a checkpoint once at least this many entries have passed since the last one.
    pub checkpoint_every: u64,
    /// Every entry line carries its inclusion proof (always, with a filter).
    pub proofs: bool,
    /// How entries (and, in CEF, the start and checkpoint lines) are written.
    pub format: RecordFormat,
    pub filter: ExportFilter,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            from: 0,
            to: None,
            checkpoint_every: 10_000,
            proofs: false,
            format: RecordFormat::Native,
            filter: ExportFilter::default(),
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub entries: u64,
    pub checkpoints: u64,
    /// The index after the last exported one (a checkpoint's size).
    pub end: u64,
}

/// Writes the export stream of `opts` to `out`: the start line, then the entries.
pub fn export(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    out: &mut dyn ExportSink,
) -> Result<ExportSummary, QueryError> {
    let (latest, _) = reader.latest_checkpoint()?;
    let wanted_end = opts.to.unwrap_or(latest.0).min(latest.0);
    if opts.from >= wanted_end {
        return Err(QueryError::BadRequest(format!(
            "nothing to export from {} to {wanted_end}: the log's latest checkpoint covers entries 0 to {}",
            opts.from,
            latest.0.saturating_sub(1)
        )));
    }
    let frontier = reader.frontier(TreeSize(opts.from))?;
    let mut buf = Vec::with_capacity(4096);
    lines::write_start(
        &mut buf,
        opts.format,
        reader.origin(),
        opts.from,
        &frontier,
        !opts.filter.is_empty(),
    )?;
    out.record(Record::Start { from: opts.from }, &buf)?;
    match entries(reader, opts, opts.from, wanted_end, out)? {
        Some(summary) => Ok(summary),
        None => Err(QueryError::BadRequest(format!(
            "no checkpoint ends between {} and {wanted_end}",
            opts.from + 1
        ))),
    }
}

/// Continues a stream whose last record was `last` (a restart after a crash, a round that
/// failed part way): as `export_more` from where `last` leaves off, except that a stream cut
/// right after the entry that ends a checkpoint has not carried that checkpoint yet, so it is
/// written first and every entry in the stream ends up vouched for. `None` when there is
/// nothing to write.
pub fn export_after(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    last: Record,
    out: &mut dyn ExportSink,
) -> Result<Option<ExportSummary>, QueryError> {
    let from = last.resume_from();
    let mut carried = 0;
    if let Record::Entry { .. } = last
        && let Some(note) = reader.checkpoint_at_cosigned(TreeSize(from))?
    {
        let mut buf = Vec::with_capacity(1024);
        lines::write_checkpoint(&mut buf, opts.format, from, note)?;
        out.record(Record::Checkpoint { size: from }, &buf)?;
        carried = 1;
    }
    match export_more(reader, opts, from, out)? {
        Some(mut summary) => {
            summary.checkpoints += carried;
            Ok(Some(summary))
        }
        None if carried > 0 => {
            out.flush()?;
            Ok(Some(ExportSummary {
                entries: 0,
                checkpoints: carried,
                end: from,
            }))
        }
        None => Ok(None),
    }
}

/// Continues a stream (`--follow`): the entries from `from` up to the latest checkpoint, and
/// that checkpoint; `None` when no checkpoint beyond `from` has been signed yet.
pub fn export_more(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    from: u64,
    out: &mut dyn ExportSink,
) -> Result<Option<ExportSummary>, QueryError> {
    let (latest, _) = reader.latest_checkpoint()?;
    // A reader beside a running writer catches up one column family at a time: what it may
    // export is what both the checkpoints and the entries it sees cover.
    let size = reader.size()?.0;
    let until = opts.to.unwrap_or(u64::MAX).min(latest.0).min(size);
    if until <= from {
        return Ok(None);
    }
    entries(reader, opts, from, until, out)
}

/// The first index whose entry the ledger received at or after `time` (the log's size if
/// none): a binary search over `received_at`, which the writer stamps per batch from its clock
/// and so rises with the index unless that clock was set back.
pub fn index_at_time(reader: &LedgerReader<'_>, time: Timestamp) -> Result<u64, QueryError> {
    let size = reader.size()?.0;
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let entry = reader.entry(Seq(mid))?;
        if entry.received_at < time {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// The entry lines from `from` to the last checkpoint at or below `until`, with checkpoint
/// lines; `None` when no checkpoint ends in that range.
fn entries(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    from: u64,
    until: u64,
    out: &mut dyn ExportSink,
) -> Result<Option<ExportSummary>, QueryError> {
    let sizes = reader.checkpoint_sizes(from + 1, until)?;
    if sizes.is_empty() {
        return Ok(None);
    }
    pipeline::write_range(reader, opts, from, sizes, out).map(Some)
}
