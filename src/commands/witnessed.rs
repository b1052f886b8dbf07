//! `idledger verify-checkpoint`: a cosigned checkpoint checked offline against a witness policy
//! (`idledger_proto::witness_policy`, `idledger_proto::cosigned`). Exit code 1 when the log
//! signature or a policy witness's cosignature is bad or the quorum is not met, 2 when the
//! policy file cannot be read or parsed.

use crate::VerificationFailed;
use crate::output::line;
use anyhow::Context as _;
use idledger_proto::cosigned::verify_cosigned;
use idledger_proto::printable::printable;
use std::path::Path;

pub fn verify(policy: &Path, checkpoint: &str) -> anyhow::Result<()> {
    let policy = super::read_policy(policy)?;
    let note = if checkpoint == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read the checkpoint from standard input")?;
        s
    } else {
        std::fs::read_to_string(checkpoint)
            .with_context(|| format!("cannot read checkpoint file {checkpoint}"))?
    };
    let ok = verify_cosigned(&note, &policy)
        .map_err(|e| VerificationFailed(format!("cosigned checkpoint: {e}")))?;
    let cp = &ok.checkpoint.checkpoint;
    let signers: Vec<String> = ok
        .checkpoint
        .note
        .verified_by
        .iter()
        .map(ToString::to_string)
        .collect();
    let witnesses: Vec<String> = ok
        .cosigned_by
        .iter()
        .map(|(name, _)| printable(name).into_owned())
        .collect();
    for (name, time) in &ok.cosigned_by {
        line(format!("cosignature by {} at {time}", printable(name)))?;
    }
    if ok.ignored > 0 {
        line(format!(
            "note: {} cosignatures by keys the policy does not name were ignored",
            ok.ignored
        ))?;
    }
    line(format!(
        "ok: checkpoint of `{}` at size {} (root {}) signed by {}, cosigned by {} (quorum {} met)",
        printable(&cp.origin),
        cp.size,
        cp.root.to_base64(),
        printable(&signers.join(", ")),
        witnesses.join(", "),
        printable(&ok.quorum)
    ))?;
    Ok(())
}
