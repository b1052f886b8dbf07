//! Proof bundles: the answer to a question (a history, a grant episode) as a set of C2SP
//! tlog-proofs under one signed checkpoint, plus the back-link chain they form, verifiable
//! offline with the verifier key alone.

use crate::entry::{Body, Entry};
use crate::note::VerifierKey;
use crate::proof::{TlogProofError, VerifiedCheckpoint, verify_checkpoint, verify_entry_proof};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

pub const BUNDLE_FORMAT: &str = "idledger-proof-bundle@v1";
/// Most proofs one bundle may carry.
pub const MAX_BUNDLE_PROOFS: usize = 100_000;

/// Which back-link a chain follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainKind {
    Subject,
    Grant,
    Credential,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    pub kind: ChainKind,
    pub id: String,
}

/// The serialized bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    pub format: String,
    /// The signed checkpoint every proof is under, verbatim.
    pub checkpoint: String,
    #[serde(default)]
    pub chain: Option<Chain>,
    /// tlog-proof@v1 texts, one per entry, in index order.
    pub proofs: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a proof bundle: {0}")]
    Malformed(String),
    #[error("checkpoint: {0}")]
    Checkpoint(TlogProofError),
    #[error("proof {position} (entry {index}): {source}")]
    Proof {
        position: usize,
        index: String,
        source: TlogProofError,
    },
    #[error("proof {0} is under a different checkpoint than the bundle")]
    OtherCheckpoint(usize),
    #[error("entries are not in increasing index order at proof {0}")]
    Order(usize),
    #[error("entry {index} is not about {kind:?} `{id}`")]
    NotInChain {
        index: u64,
        kind: ChainKind,
        id: String,
    },
    #[error(
        "gap: entry {index} links back to {linked:?}, but the previous entry in the bundle is {previous}"
    )]
    Gap {
        index: u64,
        linked: Option<u64>,
        previous: u64,
    },
}

/// What a bundle proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub checkpoint: VerifiedCheckpoint,
    pub entries: Vec<Entry>,
    pub chain: Option<Chain>,
    /// The first entry of the chain has no back-link: the bundle starts at the first entry ever
    /// recorded about the chain's id.
    pub chain_from_start: bool,
}

fn chain_link(entry: &Entry, chain: &Chain) -> Result<Option<u64>, ()> {
    let Body::Event(e) = &entry.body else {
        return Err(());
    };
    let ev = &e.event;
    let (matches, link) = match chain.kind {
        ChainKind::Subject => (ev.subject.id == chain.id, e.links.prev_subject),
        ChainKind::Grant => (
            ev.grant_id.as_deref() == Some(chain.id.as_str()),
            e.links.prev_grant,
        ),
        ChainKind::Credential => (
            ev.credential.as_ref().is_some_and(|c| c.id == chain.id),
            e.links.prev_credential,
        ),
    };
    if matches { Ok(link) } else { Err(()) }
}

impl ProofBundle {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a bundle of strings serializes")
    }
}

/// Verifies a bundle: the checkpoint is signed by a trusted key, every proof is under that same
/// checkpoint and verifies, and (when the bundle names a chain) each entry links back to the
/// previous one, so nothing between the first and last entry was left out.
pub fn verify_bundle(
    json: &str,
    origin: Option<&str>,
    keys: &[VerifierKey],
) -> Result<VerifiedBundle, BundleError> {
    let bundle: ProofBundle =
        serde_json::from_str(json).map_err(|e| BundleError::Malformed(e.to_string()))?;
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Malformed(format!(
            "format is `{}`, expected `{BUNDLE_FORMAT}`",
            bundle.format
        )));
    }
    if bundle.proofs.len() > MAX_BUNDLE_PROOFS {
        return Err(BundleError::Malformed(format!(
            "more than {MAX_BUNDLE_PROOFS} proofs"
        )));
    }
    let checkpoint =
        verify_checkpoint(&bundle.checkpoint, origin, keys).map_err(BundleError::Checkpoint)?;
    let mut entries: Vec<Entry> = Vec::with_capacity(bundle.proofs.len());
    for (position, text) in bundle.proofs.iter().enumerate() {
        let index = text
            .lines()
            .find_map(|l| l.strip_prefix("index "))
            .unwrap_or("?")
            .to_owned();
        let v = verify_entry_proof(text, Some(&checkpoint.checkpoint.origin), keys).map_err(
            |source| BundleError::Proof {
                position,
                index,
                source,
            },
        )?;
        if v.checkpoint.checkpoint != checkpoint.checkpoint {
            return Err(BundleError::OtherCheckpoint(position));
        }
        if entries.last().is_some_and(|prev| prev.seq >= v.entry.seq) {
            return Err(BundleError::Order(position));
        }
        entries.push(v.entry);
    }
    let mut chain_from_start = false;
    if let Some(chain) = &bundle.chain {
        let mut previous: Option<u64> = None;
        for entry in &entries {
            let link = chain_link(entry, chain).map_err(|()| BundleError::NotInChain {
                index: entry.seq,
                kind: chain.kind,
                id: chain.id.clone(),
            })?;
            match previous {
                None => chain_from_start = link.is_none(),
                Some(p) if link != Some(p) => {
                    return Err(BundleError::Gap {
                        index: entry.seq,
                        linked: link,
                        previous: p,
                    });
                }
                Some(_) => {}
            }
            previous = Some(entry.seq);
        }
    }
    Ok(VerifiedBundle {
        checkpoint,
        entries,
        chain: bundle.chain,
        chain_from_start,
    })
}

impl VerifiedBundle {
    /// What the bundle proves, in plain words.
    pub fn describe(&self) -> String {
        let cp = &self.checkpoint.checkpoint;
        let signers: Vec<String> = self
            .checkpoint
            .note
            .verified_by
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "The log `{}` signed a checkpoint of {} entries with root {} (signed by {}).",
            cp.origin,
            cp.size.0,
            cp.root.to_base64(),
            signers.join(", ")
        );
        let _ = writeln!(
            out,
            "Each of the {} entries in this bundle is in that log at the index shown:",
            self.entries.len()
        );
        for e in &self.entries {
            let what = match &e.body {
                Body::Event(ev) => format!(
                    "{} {} ({}/{}) at {}",
                    ev.event.kind, ev.event.subject.id, ev.event.source, ev.event.id, ev.event.time
                ),
                Body::Quarantined(r) => format!("quarantined input: {}", r.reason),
                Body::System(s) => format!("system record {s:?}"),
            };
            let _ = writeln!(out, "  entry {}: {what}", e.seq);
        }
        if let Some(chain) = &self.chain {
            let (first, last) = (
                self.entries.first().map(|e| e.seq),
                self.entries.last().map(|e| e.seq),
            );
            if let (Some(first), Some(last)) = (first, last) {
                let _ = writeln!(
                    out,
                    "The entries about {:?} `{}` form an unbroken back-link chain from entry {first} to entry {last}: none between them is missing.",
                    chain.kind, chain.id
                );
                if self.chain_from_start {
                    let _ = writeln!(
                        out,
                        "Entry {first} has no earlier link: it is the first entry ever recorded about `{}`.",
                        chain.id
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "Entry {first} links to an earlier entry: the bundle does not cover the start of this history."
                    );
                }
                let _ = writeln!(
                    out,
                    "Entries about `{}` after entry {last}, if any, are not covered by this bundle.",
                    chain.id
                );
            }
        }
        out
    }
}
