//! `idledger append`: lines from a file or standard input into the ledger without Kafka, each
//! read in the chosen input format (docs/FORMATS.md) with the same validation, quarantine and
//! dedupe as ingest. A line that maps to several events (an OCSF record, a CloudTrail log
//! file) appends each; a record outside idledger's scope is counted and named, not appended.

use crate::output::line;
use anyhow::Context as _;
use idledger_ledger::{Item, Ledger, Outcome, Submission};
use idledger_proto::entry::Origin;
use idledger_proto::formats::message::{Decoded, decode_message};
use idledger_proto::formats::{FormatSettings, InputFormat, Message};
use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

/// What became of the lines so far.
#[derive(Default)]
struct Tally {
    appended: u64,
    quarantined: u64,
    duplicates: u64,
    /// Records outside idledger's scope, by `format:kind`.
    out_of_scope: BTreeMap<String, u64>,
}

pub fn append(
    dir: &Path,
    keys: &Path,
    input: &str,
    batch: usize,
    format: InputFormat,
    settings: &FormatSettings,
) -> anyhow::Result<()> {
    let mut ledger = Ledger::open(dir, keys)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let reader: Box<dyn std::io::BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot read {input}"))?,
        ))
    };
    let label = if input == "-" {
        "stdin".to_owned()
    } else {
        input.to_owned()
    };
    let mut tally = Tally::default();
    let mut pending: Vec<(u64, Submission)> = Vec::new();
    for (n, raw) in reader.split(b'\n').enumerate() {
        let mut raw = raw.with_context(|| format!("cannot read {label}"))?;
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_no = n as u64 + 1;
        let message = Message {
            payload: &raw,
            headers: &[],
        };
        for decoded in decode_message(format, settings, message) {
            let item = match decoded {
                Decoded::Event(event) => Item::Event(event),
                Decoded::Rejected(rejection) => Item::Rejected(rejection),
                Decoded::OutOfScope { format, kind } => {
                    let key = format!("{format}:{kind}");
                    eprintln!("line {line_no}: outside idledger's scope ({key}), not appended");
                    *tally.out_of_scope.entry(key).or_default() += 1;
                    continue;
                }
            };
            let origin = Origin::Local {
                label: label.clone(),
                line: line_no,
            };
            pending.push((line_no, Submission { origin, item }));
        }
        if pending.len() >= batch.max(1) {
            flush(&mut ledger, &mut pending, &mut tally)?;
        }
    }
    flush(&mut ledger, &mut pending, &mut tally)?;
    let mut summary = format!(
        "appended {}, quarantined {}, duplicates skipped {}",
        tally.appended, tally.quarantined, tally.duplicates
    );
    if !tally.out_of_scope.is_empty() {
        let kinds: Vec<String> = tally
            .out_of_scope
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        summary.push_str(&format!(", outside scope {}", kinds.join(", ")));
    }
    line(format!("{summary}; tree size {}", ledger.size()))?;
    Ok(())
}

/// Appends the pending submissions as one batch and reports each line's outcome.
fn flush(
    ledger: &mut Ledger,
    pending: &mut Vec<(u64, Submission)>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let lines: Vec<u64> = pending.iter().map(|(l, _)| *l).collect();
    let subs: Vec<Submission> = pending.drain(..).map(|(_, s)| s).collect();
    let reasons: Vec<Option<String>> = subs
        .iter()
        .map(|s| match &s.item {
            Item::Rejected(r) => Some(r.reason.to_string()),
            _ => None,
        })
        .collect();
    let report = ledger.append(subs, &[])?;
    for (i, o) in report.outcomes.iter().enumerate() {
        match o {
            Outcome::Appended(_) => tally.appended += 1,
            Outcome::Duplicate(first) => {
                tally.duplicates += 1;
                eprintln!("line {}: duplicate of entry {first}, skipped", lines[i]);
            }
            Outcome::Quarantined(seq) => {
                tally.quarantined += 1;
                let why = reasons[i].clone().unwrap_or_else(|| {
                    "same source and id as an earlier event but different content".into()
                });
                eprintln!("line {}: quarantined as entry {seq}: {why}", lines[i]);
            }
        }
    }
    Ok(())
}
