//! `history --follow` and `grant --follow`: after the answer, each new entry about the subject
//! or the grant as soon as a checkpoint covers it, as a table row (or a JSON line with
//! `--json`), until stopped. Each look opens the ledger afresh beside the running writer (a
//! reader kept open across a writer that closes and reopens can stop seeing its writes).

use crate::output::line;
use crate::settings::Output;
use anyhow::Context as _;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::Seq;
use idledger_proto::entry::{Body, Entry};
use idledger_proto::printable::printable;
use std::path::Path;
use std::time::Duration;

/// What a followed answer is about.
pub enum About {
    Subject(String),
    Grant(String),
}

impl About {
    fn matches(&self, entry: &Entry) -> bool {
        let Body::Event(e) = &entry.body else {
            return false;
        };
        match self {
            About::Subject(id) => e.event.subject.id == *id,
            About::Grant(id) => e.event.grant_id.as_deref() == Some(id.as_str()),
        }
    }
}

/// Where the log is covered by a checkpoint, as a fresh reader sees it.
fn covered(dir: &Path) -> anyhow::Result<(ReadOnlyLedger, u64)> {
    let ro = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    let r = ro.reader();
    let size = r.latest_checkpoint()?.0.0.min(r.size()?.0);
    Ok((ro, size))
}

/// Prints each entry about `about` from index `from` on (where the answer before it ended), as
/// a checkpoint covers it, looking every `every` (nothing without `every`).
pub fn follow(
    dir: &Path,
    every: Option<Duration>,
    from: u64,
    out: &Output,
    about: &About,
) -> anyhow::Result<()> {
    let Some(every) = every else {
        return Ok(());
    };
    let mut next = from;
    if !out.json {
        line(format!("following from entry {next} (Ctrl-C to stop)"))?;
    }
    loop {
        std::thread::sleep(every);
        let (ro, size) = covered(dir)?;
        let r = ro.reader();
        for index in next..size {
            let entry = r.entry(Seq(index))?;
            if !about.matches(&entry) {
                continue;
            }
            if out.json {
                line(serde_json::to_string(&entry)?)?;
            } else {
                let cells: Vec<String> = super::query::describe_entry(&entry)
                    .iter()
                    .map(|c| printable(c).into_owned())
                    .collect();
                line(cells.join("  "))?;
            }
        }
        next = next.max(size);
    }
}
