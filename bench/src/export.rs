//! Export of the whole ledger (`query::export`) into a sink that discards it, in each record
//! format, against a raw scan of the same entries (each read and touched) in the same run. The
//! targets are 500k entries/s native and 200k/s OCSF.

use crate::append::Built;
use crate::rows::{NO_TARGET, Row, per_sec};
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::Seq;
use idledger_proto::export::RecordFormat;
use idledger_query::export::{ExportOptions, Lines, export};
use std::time::Instant;

pub fn export_rows(r: &LedgerReader<'_>, built: &Built) -> anyhow::Result<Vec<Row>> {
    let t = Instant::now();
    let mut touched = 0u64;
    r.scan(Seq(0), |_, b| -> Result<(), ReadError> {
        touched = touched.wrapping_add(u64::from(b[b.len() / 2]));
        Ok(())
    })?;
    std::hint::black_box(touched);
    let scan = per_sec(built.size, t.elapsed());
    let formats = [
        (
            RecordFormat::Native,
            "export, native JSON lines, to a discarding sink",
            Some(500_000.0),
        ),
        (
            RecordFormat::Ocsf,
            "export, OCSF records, to a discarding sink",
            Some(200_000.0),
        ),
        (
            RecordFormat::Cef,
            "export, CEF lines, to a discarding sink",
            None,
        ),
    ];
    let mut rows = Vec::new();
    for (format, name, target) in formats {
        let t = Instant::now();
        let options = ExportOptions {
            format,
            ..ExportOptions::default()
        };
        let summary = export(r, &options, &mut Lines(std::io::sink()))?;
        let rate = per_sec(summary.entries, t.elapsed());
        anyhow::ensure!(
            summary.entries == built.size,
            "exported {} of {} entries as {format}",
            summary.entries,
            built.size
        );
        rows.push(Row {
            name,
            measured: format!("{rate:.0} entries/s"),
            baseline: format!("raw scan {scan:.0} entries/s ({:.2}x)", rate / scan),
            target: target.map_or(NO_TARGET.into(), |t| format!("≥ {t:.0}/s")),
            pass: target.is_none_or(|t| rate >= t),
        });
    }
    Ok(rows)
}
