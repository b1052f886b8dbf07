//! Offline proof checks, with verifier keys or a witness policy and nothing from the ledger:
//! `verify-proof` (a tlog-proof or a proof bundle) and `verify-consistency` (two checkpoints
//! and the consistency proof between them). With a policy, the checkpoint a proof ends at must
//! also be cosigned by witnesses meeting its quorum. Exit code 1 when a check fails, 2 when an
//! input cannot be read.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::{Context as _, bail};
use idledger_proto::cosigned::check_witnesses;
use idledger_proto::merkle;
use idledger_proto::printable::{printable, printable_json};
use idledger_proto::proof::{VerifiedCheckpoint, verify_checkpoint};
use idledger_proto::witness_policy::Policy;
use idledger_proto::{Hash, VerifierKey};
use std::path::Path;

/// The keys to trust: those passed, and a policy's log keys.
fn trusted_keys(
    vkeys: &[String],
    policy: Option<&Path>,
) -> anyhow::Result<(Vec<VerifierKey>, Option<Policy>)> {
    let mut keys = super::read_vkeys(vkeys)?;
    let policy = match policy {
        Some(path) => Some(super::read_policy(path)?),
        None => None,
    };
    if let Some(p) = &policy {
        for k in &p.logs {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    if keys.is_empty() {
        bail!("pass --vkey KEY (the log's verifier key) or --policy FILE (a witness policy)");
    }
    Ok((keys, policy))
}

/// With a policy, the checkpoint's cosignatures must meet its quorum; prints who cosigned.
fn witnessed(checkpoint: &VerifiedCheckpoint, policy: Option<&Policy>) -> anyhow::Result<()> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let w = check_witnesses(checkpoint, policy)
        .map_err(|e| VerificationFailed(format!("witnesses: {e}")))?;
    let by: Vec<String> = w
        .cosigned_by
        .iter()
        .map(|(n, t)| format!("{} at {t}", printable(n)))
        .collect();
    line(format!(
        "witnessed: cosigned by {} (quorum {} met)",
        by.join(", "),
        printable(&w.quorum)
    ))?;
    Ok(())
}

fn read_input(file: &str, what: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .with_context(|| format!("cannot read the {what} from standard input"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {what} file {file}"))
    }
}

pub fn verify_proof(vkeys: &[String], policy: Option<&Path>, file: &str) -> anyhow::Result<()> {
    let (keys, policy) = trusted_keys(vkeys, policy)?;
    let text = read_input(file, "proof")?;
    if text.trim_start().starts_with('{') {
        let v = idledger_proto::bundle::verify_bundle(&text, None, &keys)
            .map_err(|e| VerificationFailed(format!("proof bundle: {e}")))?;
        crate::output::text(&v.describe())?;
        witnessed(&v.checkpoint, policy.as_ref())?;
        line("ok: the bundle verifies")?;
        return Ok(());
    }
    let v = idledger_proto::proof::verify_entry_proof(&text, None, &keys)
        .map_err(|e| VerificationFailed(format!("tlog-proof: {e}")))?;
    let cp = &v.checkpoint.checkpoint;
    line(format!(
        "ok: entry {} is in the log `{}` under the signed checkpoint of size {} (root {})",
        v.entry.seq,
        printable(&cp.origin),
        cp.size,
        cp.root.to_base64()
    ))?;
    witnessed(&v.checkpoint, policy.as_ref())?;
    line(format!("leaf hash {}", v.leaf_hash))?;
    line(printable_json(&serde_json::to_string_pretty(&v.entry)?))?;
    Ok(())
}

/// A consistency proof as `idledger consistency` prints it: one base64 hash per line.
fn parse_proof(text: &str) -> anyhow::Result<Vec<Hash>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            Hash::from_base64(l.trim()).with_context(|| {
                format!(
                    "proof line {}: not the base64 of a 32-byte hash: {}",
                    i + 1,
                    printable(l)
                )
            })
        })
        .collect()
}

pub fn verify_consistency(
    vkeys: &[String],
    policy: Option<&Path>,
    old: &str,
    new: &str,
    proof: &str,
) -> anyhow::Result<()> {
    let (keys, policy) = trusted_keys(vkeys, policy)?;
    let old_note = read_input(old, "old checkpoint")?;
    let new_note = read_input(new, "new checkpoint")?;
    let proof = parse_proof(&read_input(proof, "consistency proof")?)?;
    let old = verify_checkpoint(&old_note, None, &keys)
        .map_err(|e| VerificationFailed(format!("old checkpoint: {e}")))?;
    let new = verify_checkpoint(&new_note, Some(&old.checkpoint.origin), &keys)
        .map_err(|e| VerificationFailed(format!("new checkpoint: {e}")))?;
    let (o, n) = (&old.checkpoint, &new.checkpoint);
    merkle::verify_consistency(o.size, n.size, &o.root, &n.root, &proof).map_err(|e| {
        VerificationFailed(format!(
            "the checkpoint of size {} is not an append-only extension of the one of size {} under this proof: {e}",
            n.size, o.size
        ))
    })?;
    witnessed(&new, policy.as_ref())?;
    line(format!(
        "ok: the log `{}` at size {} (root {}) is an append-only extension of size {} (root {})",
        printable(&n.origin),
        n.size,
        n.root.to_base64(),
        o.size,
        o.root.to_base64()
    ))?;
    Ok(())
}
