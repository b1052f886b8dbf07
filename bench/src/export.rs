//! Export of the whole ledger as a native stream (`query::export`) into a sink that discards it,
//! against a raw scan of the same entries (each read and touched) in the same run. The target is
//! 500k entries/s.

use crate::append::Built;
use crate::rows::{Row, per_sec};
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::Seq;
use idledger_query::export::{ExportOptions, export};
use std::time::Instant;

pub fn export_rows(r: &LedgerReader<'_>, built: &Built) -> anyhow::Result<Row> {
    let t = Instant::now();
    let mut touched = 0u64;
    r.scan(Seq(0), |_, b| -> Result<(), ReadError> {
        touched = touched.wrapping_add(u64::from(b[b.len() / 2]));
        Ok(())
    })?;
    std::hint::black_box(touched);
    let scan = per_sec(built.size, t.elapsed());
    let t = Instant::now();
    let summary = export(r, &ExportOptions::default(), &mut std::io::sink())?;
    let rate = per_sec(summary.entries, t.elapsed());
    anyhow::ensure!(
        summary.entries == built.size,
        "exported {} of {} entries",
        summary.entries,
        built.size
    );
    Ok(Row {
        name: "export, native JSON lines, to a discarding sink",
        measured: format!("{:.0} entries/s", rate),
        baseline: format!("raw scan {:.0} entries/s ({:.2}x)", scan, rate / scan),
        target: "≥ 500000/s".into(),
        pass: rate >= 500_000.0,
    })
}
