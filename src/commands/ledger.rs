//! Ledger commands: init, vkey, checkpoint, append, prove, consistency, verify-proof,
//! rotate-key.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::{Context as _, bail};
use idledger_ledger::{Item, KeyDir, Ledger, Outcome, ReadOnlyLedger, Submission};
use idledger_proto::entry::Origin;
use idledger_proto::printable::{printable, printable_json};
use idledger_proto::{Seq, TreeSize, decode_event};
use std::io::BufRead as _;
use std::path::Path;

pub fn init(dir: &Path, keys: &Path, origin: Option<String>) -> anyhow::Result<()> {
    let origin = match origin {
        Some(o) => o,
        None => {
            let mut n = [0u8; 4];
            getrandom::fill(&mut n)
                .map_err(|e| anyhow::anyhow!("no random bytes from the operating system: {e}"))?;
            format!("idledger.local/{}", hex::encode(n))
        }
    };
    let ledger = Ledger::init(dir, keys, &origin)
        .with_context(|| format!("cannot create a ledger in {}", dir.display()))?;
    let key_files: Vec<String> = ledger
        .verifier_keys()
        .iter()
        .map(|k| ledger.key_dir().key_path(k).display().to_string())
        .collect();
    eprintln!(
        "created ledger {} with origin {origin}\nits signing key is {} (outside the data directory: keep it there, and out of the data's backups)\nverifier key (give it to auditors):",
        dir.display(),
        key_files.join(", ")
    );
    for k in ledger.verifier_keys() {
        line(k)?;
    }
    Ok(())
}

fn open_read(dir: &Path) -> anyhow::Result<ReadOnlyLedger> {
    ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))
}

/// The verifier keys held in the key directory whose signatures the ledger's latest checkpoint
/// carries: what an operator hands auditors. Never a key the ledger's own files merely name
/// (anyone who can write them could name theirs).
pub fn vkey(dir: &Path, keys: &Path) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let reader = ro.reader();
    let held = KeyDir::for_data(keys, dir)?.held_keys(reader.origin())?;
    let (_, note) = reader.latest_checkpoint()?;
    let signed_by = idledger_proto::note::parse_note(&note)
        .ok()
        .and_then(|n| n.check_signatures(&held).ok())
        .map(|(signed_by, _)| signed_by)
        .unwrap_or_default();
    if signed_by.is_empty() {
        bail!(
            "{} holds no key that signed this ledger's latest checkpoint: run `vkey` where the ledger's signing key is (--key-dir), or get the verifier key from its operator",
            keys.display()
        );
    }
    for k in signed_by {
        line(k)?;
    }
    Ok(())
}

/// A stored note is printed only if it is a well-formed signed note (which holds no control
/// character but its newlines): the database could hold anything.
fn well_formed(note: &str) -> anyhow::Result<()> {
    idledger_proto::note::parse_note(note)
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!("the stored checkpoint is damaged ({e}); run `idledger verify`")
        })
}

pub fn checkpoint(dir: &Path) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let (_, note) = ro.reader().latest_checkpoint()?;
    well_formed(&note)?;
    crate::output::text(&note)?;
    Ok(())
}

pub fn append(dir: &Path, keys: &Path, input: &str, batch: usize) -> anyhow::Result<()> {
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
    let (mut appended, mut quarantined, mut duplicates) = (0u64, 0u64, 0u64);
    let mut pending: Vec<(u64, Submission)> = Vec::new();
    let mut flush =
        |ledger: &mut Ledger, pending: &mut Vec<(u64, Submission)>| -> anyhow::Result<()> {
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
                    Outcome::Appended(_) => appended += 1,
                    Outcome::Duplicate(first) => {
                        duplicates += 1;
                        eprintln!("line {}: duplicate of entry {first}, skipped", lines[i]);
                    }
                    Outcome::Quarantined(seq) => {
                        quarantined += 1;
                        let why = reasons[i].clone().unwrap_or_else(|| {
                            "same source and id as an earlier event but different content".into()
                        });
                        eprintln!("line {}: quarantined as entry {seq}: {why}", lines[i]);
                    }
                }
            }
            Ok(())
        };
    for (n, raw) in reader.split(b'\n').enumerate() {
        let mut raw = raw.with_context(|| format!("cannot read {label}"))?;
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_no = n as u64 + 1;
        let item = match decode_event(&raw) {
            Ok(v) => Item::Event(v),
            Err(r) => Item::Rejected(r),
        };
        pending.push((
            line_no,
            Submission {
                origin: Origin::Local {
                    label: label.clone(),
                    line: line_no,
                },
                item,
            },
        ));
        if pending.len() >= batch.max(1) {
            flush(&mut ledger, &mut pending)?;
        }
    }
    flush(&mut ledger, &mut pending)?;
    line(format!(
        "appended {appended}, quarantined {quarantined}, duplicates skipped {duplicates}; tree size {}",
        ledger.size()
    ))?;
    Ok(())
}

pub fn prove(dir: &Path, index: u64) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let r = ro.reader();
    let (size, _) = r.latest_checkpoint()?;
    if index >= size.0 {
        bail!(
            "index {index} is not in the ledger: the latest checkpoint covers entries 0 to {}",
            size.0.saturating_sub(1)
        );
    }
    let proof = r.tlog_proof(Seq(index))?;
    well_formed(&proof.checkpoint_note)?;
    crate::output::text(&proof.to_text())?;
    Ok(())
}

pub fn consistency(dir: &Path, from: u64, to: Option<u64>) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let r = ro.reader();
    let to = match to {
        Some(t) => t,
        None => r.latest_checkpoint()?.0.0,
    };
    for h in r.consistency_proof(TreeSize(from), TreeSize(to))? {
        line(h.to_base64())?;
    }
    Ok(())
}

/// `idledger tiles export`: the latest checkpoint's tiles into `out`.
pub fn tiles_export(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let summary = idledger_query::tiles::export(&ro.reader(), out)?;
    line(format!(
        "exported tree size {} to {}: {} files written, {} full tiles already there",
        summary.size,
        out.display(),
        summary.written,
        summary.unchanged
    ))?;
    Ok(())
}

pub fn verify_proof(vkeys: &[String], file: &str) -> anyhow::Result<()> {
    let keys = super::read_vkeys(vkeys)?;
    let text = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read proof file {file}"))?
    };
    if text.trim_start().starts_with('{') {
        match idledger_proto::bundle::verify_bundle(&text, None, &keys) {
            Ok(v) => {
                crate::output::text(&v.describe())?;
                line("ok: the bundle verifies")?;
                Ok(())
            }
            Err(e) => Err(VerificationFailed(format!("proof bundle: {e}")).into()),
        }
    } else {
        match idledger_proto::proof::verify_entry_proof(&text, None, &keys) {
            Ok(v) => {
                let cp = &v.checkpoint.checkpoint;
                line(format!(
                    "ok: entry {} is in the log `{}` under the signed checkpoint of size {} (root {})",
                    v.entry.seq,
                    printable(&cp.origin),
                    cp.size,
                    cp.root.to_base64()
                ))?;
                line(format!("leaf hash {}", v.leaf_hash))?;
                line(printable_json(&serde_json::to_string_pretty(&v.entry)?))?;
                Ok(())
            }
            Err(e) => Err(VerificationFailed(format!("tlog-proof: {e}")).into()),
        }
    }
}

pub fn rotate_key(dir: &Path, keys: &Path, finish: bool) -> anyhow::Result<()> {
    let mut ledger = Ledger::open(dir, keys)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    if finish {
        let keys = ledger.verifier_keys();
        if keys.len() < 2 {
            bail!(
                "no rotation in progress: only one signing key ({}); run `idledger rotate-key` first",
                keys[0]
            );
        }
        for old in &keys[..keys.len() - 1] {
            ledger.retire_key(old)?;
            eprintln!("retired {old}");
        }
    } else {
        let new = ledger.add_key()?;
        eprintln!(
            "added a new signing key; checkpoints now carry both signatures until `idledger rotate-key --finish`"
        );
        line(new)?;
    }
    Ok(())
}
