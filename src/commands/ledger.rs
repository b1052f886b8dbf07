//! Ledger commands: init, vkey, checkpoint, prove, consistency, verify-proof,
//! rotate-key.

use crate::output::line;
use anyhow::{Context as _, bail};
use idledger_ledger::{KeyDir, Ledger, ReadOnlyLedger, TokenRef};
use idledger_proto::{Seq, TreeSize};
use std::path::Path;

pub fn init(
    dir: &Path,
    keys: &Path,
    origin: Option<String>,
    token: Option<TokenRef>,
) -> anyhow::Result<()> {
    let origin = match origin {
        Some(o) => o,
        None => {
            let mut n = [0u8; 4];
            getrandom::fill(&mut n)
                .map_err(|e| anyhow::anyhow!("no random bytes from the operating system: {e}"))?;
            format!("idledger.local/{}", hex::encode(n))
        }
    };
    let ledger = match &token {
        None => Ledger::init(dir, keys, &origin),
        Some(t) => Ledger::init_with_token(dir, keys, &origin, t),
    }
    .with_context(|| format!("cannot create a ledger in {}", dir.display()))?;
    let key_files: Vec<String> = ledger
        .verifier_keys()
        .iter()
        .map(|k| ledger.key_dir().held_path(k).display().to_string())
        .collect();
    match &token {
        None => eprintln!(
            "created ledger {} with origin {origin}\nits signing key is {} (outside the data directory: keep it there, and out of the data's backups)\nverifier key (give it to auditors):",
            dir.display(),
            key_files.join(", ")
        ),
        Some(t) => eprintln!(
            "created ledger {} with origin {origin}\nits signing key is in the {t}, referenced by {}; every command that signs reads the PIN from {}\nverifier key (give it to auditors):",
            dir.display(),
            key_files.join(", "),
            pin_source(t)
        ),
    }
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
    let (log_note, _) = idledger_proto::cosigned::strip_cosignatures(note);
    idledger_proto::note::parse_note(&log_note)
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!("the stored checkpoint is damaged ({e}); run `idledger verify`")
        })
}

pub fn checkpoint(dir: &Path) -> anyhow::Result<()> {
    let ro = open_read(dir)?;
    let (_, note) = ro.reader().latest_checkpoint_cosigned()?;
    well_formed(&note)?;
    crate::output::text(&note)?;
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

/// Where a token's PIN is read, for messages.
fn pin_source(token: &TokenRef) -> String {
    match &token.pin {
        idledger_ledger::pkcs11::PinSource::Env(var) => format!("the variable {var}"),
        idledger_ledger::pkcs11::PinSource::File(path) => format!("the file {}", path.display()),
    }
}

pub fn rotate_key(
    dir: &Path,
    keys: &Path,
    finish: bool,
    token: Option<TokenRef>,
) -> anyhow::Result<()> {
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
        let new = match &token {
            None => ledger.add_key()?,
            Some(t) => ledger.add_token_key(t)?,
        };
        let place = match &token {
            None => "a new signing key".to_owned(),
            Some(t) => format!("the signing key in the {t}"),
        };
        eprintln!(
            "added {place}; checkpoints now carry both signatures until `idledger rotate-key --finish`"
        );
        line(new)?;
    }
    Ok(())
}
