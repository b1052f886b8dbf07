//! The lines around the entries in each record format: the start line and the checkpoint lines
//! (native JSON in `native` and `ocsf` streams, CEF in `cef` ones), and an entry's line in the
//! format asked for (`idledger_proto::export` writes each).

use crate::answers::QueryError;
use idledger_proto::export::{EXPORT_FORMAT, EntryRecord, Line, LineProof, RecordFormat};
use idledger_proto::hash::Hash;
use idledger_proto::view::EntryView;

/// Appends the start line of a stream from `from`, on the tree's `frontier` there.
pub(super) fn write_start(
    buf: &mut Vec<u8>,
    format: RecordFormat,
    origin: &str,
    from: u64,
    frontier: &[Hash],
    filtered: bool,
) -> Result<(), QueryError> {
    match format {
        RecordFormat::Cef => {
            idledger_proto::export::write_cef_start(buf, origin, from, frontier, filtered);
            Ok(())
        }
        RecordFormat::Native | RecordFormat::Ocsf => json_line(
            buf,
            &Line::Start {
                format: EXPORT_FORMAT.into(),
                origin: origin.to_owned(),
                from,
                frontier: frontier.iter().map(Hash::to_base64).collect(),
                filtered,
            },
        ),
    }
}

/// Appends the line of the checkpoint of `size`.
pub(super) fn write_checkpoint(
    buf: &mut Vec<u8>,
    format: RecordFormat,
    size: u64,
    note: String,
) -> Result<(), QueryError> {
    match format {
        RecordFormat::Cef => {
            idledger_proto::export::write_cef_checkpoint(buf, size, &note);
            Ok(())
        }
        RecordFormat::Native | RecordFormat::Ocsf => {
            json_line(buf, &Line::Checkpoint { size, note })
        }
    }
}

/// Appends the line of the entry at `index` (its leaf `leaf`, with the RFC 6962 hash
/// `leaf_hash`, viewed as `entry`).
pub(super) fn write_entry(
    buf: &mut Vec<u8>,
    format: RecordFormat,
    origin: &str,
    (index, leaf, leaf_hash): (u64, &[u8], Hash),
    entry: &EntryView<'_>,
    proof: Option<&LineProof>,
) {
    let record = EntryRecord {
        origin,
        index,
        leaf,
        leaf_hash,
        proof,
    };
    idledger_proto::export::write_entry(buf, format, &record, entry);
}

fn json_line(buf: &mut Vec<u8>, line: &Line) -> Result<(), QueryError> {
    serde_json::to_writer(&mut *buf, line).map_err(|e| QueryError::Encode(e.to_string()))
}
