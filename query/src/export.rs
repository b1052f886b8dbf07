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
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use idledger_ledger::LedgerReader;
use idledger_proto::entry::{Body, Entry};
use idledger_proto::event::SubjectKind;
use idledger_proto::export::{EXPORT_FORMAT, Line, LineProof};
use idledger_proto::hash::leaf_hash;
use idledger_proto::{Seq, Timestamp, TreeSize};
use std::io::Write;

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

    fn keeps(&self, entry: &Entry) -> bool {
        let quarantined = matches!(entry.body, Body::Quarantined(_));
        if self.quarantined.is_some_and(|q| q != quarantined) {
            return false;
        }
        let event = match &entry.body {
            Body::Event(e) => Some(&e.event),
            _ => None,
        };
        let wants_event = !self.types.is_empty()
            || !self.sources.is_empty()
            || !self.subjects.is_empty()
            || self.human.is_some();
        let Some(event) = event else {
            return !wants_event;
        };
        (self.types.is_empty() || self.types.iter().any(|t| t == event.kind.as_str()))
            && (self.sources.is_empty() || self.sources.contains(&event.source))
            && (self.subjects.is_empty() || self.subjects.contains(&event.subject.id))
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
    pub filter: ExportFilter,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            from: 0,
            to: None,
            checkpoint_every: 10_000,
            proofs: false,
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
    out: &mut dyn Write,
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
    write_line(
        out,
        &mut buf,
        &Line::Start {
            format: EXPORT_FORMAT.into(),
            origin: reader.origin().to_owned(),
            from: opts.from,
            frontier: frontier.iter().map(|h| h.to_base64()).collect(),
            filtered: !opts.filter.is_empty(),
        },
    )?;
    match entries(reader, opts, opts.from, wanted_end, out)? {
        Some(summary) => Ok(summary),
        None => Err(QueryError::BadRequest(format!(
            "no checkpoint ends between {} and {wanted_end}",
            opts.from + 1
        ))),
    }
}

/// Continues a stream (`--follow`): the entries from `from` up to the latest checkpoint, and
/// that checkpoint; `None` when no checkpoint beyond `from` has been signed yet.
pub fn export_more(
    reader: &LedgerReader<'_>,
    opts: &ExportOptions,
    from: u64,
    out: &mut dyn Write,
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
    out: &mut dyn Write,
) -> Result<Option<ExportSummary>, QueryError> {
    let (latest, latest_note) = reader.latest_checkpoint_cosigned()?;
    let sizes = reader.checkpoint_sizes(from + 1, until)?;
    let Some(&end) = sizes.last() else {
        return Ok(None);
    };
    let filtered = !opts.filter.is_empty();
    let proofs = opts.proofs || filtered;
    let mut summary = ExportSummary {
        end,
        ..ExportSummary::default()
    };
    let mut buf = Vec::with_capacity(4096);
    let mut boundaries = sizes.iter().copied().peekable();
    let mut since_checkpoint = 0u64;
    let mut failure: Option<QueryError> = None;
    let scanned = reader.scan(Seq(from), |seq, bytes| -> Result<(), Stop> {
        if seq.0 >= end {
            return Err(Stop::Done);
        }
        let entry = Entry::decode(bytes).map_err(|source| {
            Stop::Failed(
                idledger_ledger::ReadError::BadEntry {
                    index: seq.0,
                    source,
                }
                .into(),
            )
        })?;
        if !filtered || opts.filter.keeps(&entry) {
            let proof = if proofs {
                let path = reader
                    .inclusion_proof(seq, TreeSize(end))
                    .map_err(|e| Stop::Failed(e.into()))?;
                Some(LineProof {
                    size: end,
                    path: path.iter().map(|h| h.to_base64()).collect(),
                })
            } else {
                None
            };
            write_entry(out, &mut buf, seq.0, bytes, &entry, proof.as_ref())
                .map_err(Stop::Failed)?;
            summary.entries += 1;
        }
        since_checkpoint += 1;
        while boundaries.peek().is_some_and(|&b| b <= seq.0 + 1) {
            let boundary = boundaries.next().unwrap_or(end);
            let last = boundary == end;
            if boundary == seq.0 + 1 && (last || since_checkpoint >= opts.checkpoint_every) {
                let note = if boundary == latest.0 {
                    latest_note.clone()
                } else {
                    reader
                        .checkpoint_at(TreeSize(boundary))
                        .map_err(|e| Stop::Failed(e.into()))?
                        .unwrap_or_default()
                };
                write_line(
                    out,
                    &mut buf,
                    &Line::Checkpoint {
                        size: boundary,
                        note,
                    },
                )
                .map_err(Stop::Failed)?;
                summary.checkpoints += 1;
                since_checkpoint = 0;
            }
        }
        Ok(())
    });
    match scanned {
        Ok(()) | Err(Stop::Done) => {}
        Err(Stop::Failed(e)) => failure = Some(e),
    }
    if let Some(e) = failure {
        return Err(e);
    }
    out.flush()
        .map_err(|e| QueryError::Encode(format!("cannot write the export: {e}")))?;
    Ok(Some(summary))
}

/// Why a scan stopped early.
enum Stop {
    Done,
    Failed(QueryError),
}

impl From<idledger_ledger::ReadError> for Stop {
    fn from(e: idledger_ledger::ReadError) -> Stop {
        Stop::Failed(e.into())
    }
}

/// An entry line, written member by member (the entry straight from its struct, not through a
/// JSON value): the same bytes `Line::Entry` serializes to, without building one per entry.
fn write_entry(
    out: &mut dyn Write,
    buf: &mut Vec<u8>,
    index: u64,
    leaf: &[u8],
    entry: &Entry,
    proof: Option<&LineProof>,
) -> Result<(), QueryError> {
    let encode = |e: serde_json::Error| QueryError::Encode(e.to_string());
    buf.clear();
    let hash = leaf_hash(leaf).to_base64();
    write!(
        buf,
        r#"{{"kind":"entry","index":{index},"leaf_hash":"{hash}","leaf":""#
    )
    .map_err(|e| QueryError::Encode(e.to_string()))?;
    let mut encoded = String::with_capacity(leaf.len() * 4 / 3 + 4);
    B64.encode_string(leaf, &mut encoded);
    buf.extend_from_slice(encoded.as_bytes());
    buf.extend_from_slice(br#"","entry":"#);
    serde_json::to_writer(&mut *buf, entry).map_err(encode)?;
    if let Some(p) = proof {
        buf.extend_from_slice(br#","proof":"#);
        serde_json::to_writer(&mut *buf, p).map_err(encode)?;
    }
    buf.extend_from_slice(b"}\n");
    out.write_all(buf)
        .map_err(|e| QueryError::Encode(format!("cannot write the export: {e}")))
}

fn write_line(out: &mut dyn Write, buf: &mut Vec<u8>, line: &Line) -> Result<(), QueryError> {
    buf.clear();
    serde_json::to_writer(&mut *buf, line).map_err(|e| QueryError::Encode(e.to_string()))?;
    buf.push(b'\n');
    out.write_all(buf)
        .map_err(|e| QueryError::Encode(format!("cannot write the export: {e}")))
}
