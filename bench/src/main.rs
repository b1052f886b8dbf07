//! `idledger-bench`: measures every performance target of idledger and prints each figure
//! against its limit, with a baseline measured in the same run on the same data (one function
//! per benchmark, in the modules below). Not part of the product binary.

mod append;
mod decode;
mod events;
mod export;
mod follow;
mod formats;
mod ingest;
mod reads;
mod rows;
mod verify;

use clap::Parser;
use idledger_ledger::ReadOnlyLedger;
use rows::Row;

#[derive(Debug, Parser)]
#[command(
    name = "idledger-bench",
    about = "Measure every idledger performance target against a baseline measured in the same run"
)]
struct Args {
    /// Smaller sizes, for a quick look.
    #[arg(long)]
    quick: bool,
    /// Only these benchmarks (decode, formats, append, verify, proof, replay, history, export,
    /// ingest, follow).
    #[arg(long = "only", value_delimiter = ',')]
    only: Vec<String>,
    /// Ledger size for append, verify, proof, replay and history (default 10M; 200k quick), and
    /// events appended for follow (default 200k; 50k quick).
    #[arg(long)]
    entries: Option<usize>,
    /// Backlog for the ingest benchmark (default 5M; 100k quick).
    #[arg(long)]
    ingest_events: Option<usize>,
}

const NAMES: [&str; 10] = [
    "decode", "formats", "append", "verify", "proof", "replay", "history", "export", "ingest",
    "follow",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(unknown) = args.only.iter().find(|o| !NAMES.contains(&o.as_str())) {
        anyhow::bail!("no benchmark `{unknown}`; they are {}", NAMES.join(", "));
    }
    let want = |n: &str| args.only.is_empty() || args.only.iter().any(|o| o == n);
    let tmp = tempfile::tempdir()?;
    let mut rows: Vec<Row> = Vec::new();
    if want("decode") {
        rows.push(decode::decode()?);
    }
    if want("formats") {
        rows.extend(formats::formats()?);
    }
    let on_ledger = ["append", "verify", "proof", "replay", "history", "export"];
    if on_ledger.iter().any(|n| want(n)) {
        let entries = args
            .entries
            .unwrap_or(if args.quick { 200_000 } else { 10_000_000 });
        let (built, appended) = append::build(tmp.path(), entries)?;
        rows.extend(appended);
        let ro = ReadOnlyLedger::open(&built.dir)?;
        let r = ro.reader();
        if want("verify") {
            rows.extend(verify::verify(&r, &built)?);
        }
        if want("proof") {
            rows.push(reads::proof(&r, &built, args.quick)?);
        }
        if want("replay") {
            rows.extend(reads::replay(&r)?);
        }
        if want("history") {
            rows.push(reads::history(&r, &built, args.quick)?);
        }
        if want("export") {
            rows.extend(export::export_rows(&r, &built)?);
        }
    }
    if want("ingest") {
        // A backlog of five million in full (the memory target's size), held by the dev
        // broker as lz4 batches over enough partitions.
        let messages = args
            .ingest_events
            .unwrap_or(if args.quick { 100_000 } else { 5_000_000 });
        rows.extend(ingest::ingest(tmp.path(), messages)?);
    }
    if want("follow") {
        // `--entries` events appended, alone and beside HTTP followers (default 200k; 50k quick).
        let entries = args
            .entries
            .unwrap_or(if args.quick { 50_000 } else { 200_000 });
        rows.extend(follow::follow(tmp.path(), entries)?);
    }
    println!(
        "idledger-bench ({}; 2-core machine figures are what the targets are set for)",
        if args.quick {
            "quick sizes: targets at full size are only judged at full size"
        } else {
            "full sizes"
        }
    );
    rows::print(&rows);
    Ok(())
}
