//! Proof bundles: the answer to a question (a history, a grant's story, who had access) with
//! C2SP tlog-proofs of every entry it relies on, under one signed checkpoint, verifiable offline
//! with the auditor's verifier key alone.
//!
//! Version 2 (written now) carries the question and the answer as given, the back-link chains
//! the entries form (each complete from the id's first entry through a stated one), and, when
//! the checkpoint's key is not the auditor's, the key records that hand custody from the
//! auditor's key to it. Verification checks every proof against the one checkpoint (verified
//! once), every chain, and recomputes the answer from the proven entries: an answer that does
//! not follow from them is refused. Version 1 (proofs and at most one chain, no answer) is
//! still read.

pub mod claim;
mod describe;
#[cfg(test)]
mod tests;

use crate::entry::{Body, Entry, SystemRecord};
use crate::hash::leaf_hash;
use crate::merkle::verify_inclusion;
use crate::note::VerifierKey;
use crate::proof::{
    TlogProof, TlogProofError, VerifiedCheckpoint, verify_checkpoint, verify_entry_proof,
};
use claim::{Answered, Claim, ClaimError};
use serde::{Deserialize, Serialize};

/// The format written.
pub const BUNDLE_FORMAT: &str = "idledger-proof-bundle@v2";
/// The first format, still read.
pub const BUNDLE_FORMAT_V1: &str = "idledger-proof-bundle@v1";
/// Most proofs one bundle may carry.
pub const MAX_BUNDLE_PROOFS: usize = 100_000;
/// Most key records one bundle may carry.
pub const MAX_KEY_RECORDS: usize = 1_000;
/// Most chains one bundle may state (an access answer states one per grant, and its
/// subjects').
pub const MAX_CHAINS: usize = 20_000;

/// Which back-link a chain follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainKind {
    Subject,
    Grant,
    Credential,
}

/// A version 1 chain: the bundle's entries about `id` link back to each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    pub kind: ChainKind,
    pub id: String,
}

/// A version 2 chain: the bundle holds every entry about `id` from the first one ever recorded
/// through entry `through`, each linking back to the one before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpan {
    pub kind: ChainKind,
    pub id: String,
    pub through: u64,
}

/// The serialized bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofBundle {
    pub format: String,
    /// The signed checkpoint every proof is under, verbatim.
    pub checkpoint: String,
    /// tlog-proofs of the key records (`KeyAdded`, `KeyRetired`) from the log's first key to the
    /// checkpoint's, each under a checkpoint the keys trusted before it signed, in index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_records: Vec<String>,
    /// Version 1 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainSpan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// tlog-proof@v1 texts, one per entry, in index order.
    pub proofs: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a proof bundle: {0}")]
    Malformed(String),
    #[error("the bundle proves no entry")]
    Empty,
    #[error("key record {position}: {source}")]
    KeyRecord {
        position: usize,
        source: TlogProofError,
    },
    #[error(
        "key record {position} (entry {index}) is not a key record, or not after the one before"
    )]
    NotAKeyRecord { position: usize, index: u64 },
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
        "gap: entry {index} links back to {linked:?}, but the previous entry in the bundle is {previous:?}"
    )]
    Gap {
        index: u64,
        linked: Option<u64>,
        previous: Option<u64>,
    },
    #[error("the chain of {kind:?} `{id}` does not reach entry {through}")]
    ChainEnd {
        kind: ChainKind,
        id: String,
        through: u64,
    },
    #[error("answer: {0}")]
    Claim(#[from] ClaimError),
}

/// What a bundle proves.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedBundle {
    pub checkpoint: VerifiedCheckpoint,
    pub entries: Vec<Entry>,
    /// Version 1's chain.
    pub chain: Option<Chain>,
    /// Version 1: the first entry of the chain has no back-link, so the bundle starts at the
    /// first entry ever recorded about the chain's id.
    pub chain_from_start: bool,
    /// Version 2's chains, each complete from the start.
    pub chains: Vec<ChainSpan>,
    /// The key records followed from the auditor's keys to the checkpoint's (entry indexes).
    pub key_records: Vec<u64>,
    /// The answer, recomputed from the proven entries (equal to the one the bundle states).
    pub answered: Option<Answered>,
}

/// The entry's back-link for `kind`, if it is an event about `id`; `Err` if it is not about it.
pub(crate) fn chain_link(entry: &Entry, kind: ChainKind, id: &str) -> Result<Option<u64>, ()> {
    let Body::Event(e) = &entry.body else {
        return Err(());
    };
    let ev = &e.event;
    let (matches, link) = match kind {
        ChainKind::Subject => (ev.subject.id == id, e.links.prev_subject),
        ChainKind::Grant => (ev.grant_id.as_deref() == Some(id), e.links.prev_grant),
        ChainKind::Credential => (
            ev.credential.as_ref().is_some_and(|c| c.id == id),
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

/// Verifies a bundle against the auditor's keys (see the top of this file).
pub fn verify_bundle(
    json: &str,
    origin: Option<&str>,
    keys: &[VerifierKey],
) -> Result<VerifiedBundle, BundleError> {
    let bundle: ProofBundle =
        serde_json::from_str(json).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let v2 = match bundle.format.as_str() {
        BUNDLE_FORMAT => true,
        BUNDLE_FORMAT_V1 => false,
        other => {
            return Err(BundleError::Malformed(format!(
                "format is `{other}`, expected `{BUNDLE_FORMAT}` or `{BUNDLE_FORMAT_V1}`"
            )));
        }
    };
    let v2_only =
        !bundle.chains.is_empty() || bundle.claim.is_some() || !bundle.key_records.is_empty();
    if (v2 && bundle.chain.is_some()) || (!v2 && v2_only) {
        return Err(BundleError::Malformed(format!(
            "fields of another version in a `{}` bundle",
            bundle.format
        )));
    }
    if bundle.proofs.is_empty() {
        return Err(BundleError::Empty);
    }
    if bundle.proofs.len() > MAX_BUNDLE_PROOFS
        || bundle.key_records.len() > MAX_KEY_RECORDS
        || bundle.chains.len() > MAX_CHAINS
    {
        return Err(BundleError::Malformed(format!(
            "more than {MAX_BUNDLE_PROOFS} proofs, {MAX_KEY_RECORDS} key records or {MAX_CHAINS} chains"
        )));
    }
    let mut stated = std::collections::HashSet::new();
    if let Some(span) = bundle
        .chains
        .iter()
        .find(|s| !stated.insert((s.kind, s.id.as_str())))
    {
        return Err(BundleError::Malformed(format!(
            "the chain of {:?} `{}` is stated twice",
            span.kind,
            crate::printable::printable(&span.id)
        )));
    }
    let (trusted, key_records) = follow_key_records(&bundle.key_records, origin, keys)?;
    let checkpoint =
        verify_checkpoint(&bundle.checkpoint, origin, &trusted).map_err(BundleError::Checkpoint)?;
    let entries = prove_entries(&bundle, &checkpoint)?;
    let mut chain_from_start = false;
    if let Some(chain) = &bundle.chain {
        chain_from_start = check_v1_chain(&entries, chain)?;
    }
    let chained = chain_entries(&entries, &bundle.chains)?;
    let answered = match &bundle.claim {
        Some(c) => Some(claim::check(c, &chained)?),
        None => None,
    };
    Ok(VerifiedBundle {
        checkpoint,
        entries,
        chain: bundle.chain,
        chain_from_start,
        chains: bundle.chains,
        key_records,
        answered,
    })
}

/// Recomputes a claim's answer from entries and the chains stated over them (both as a
/// verified bundle holds them), as `verify_bundle` does.
pub fn check_claim(
    claim: &Claim,
    entries: &[Entry],
    spans: &[ChainSpan],
) -> Result<Answered, BundleError> {
    let chained = chain_entries(entries, spans)?;
    Ok(claim::check(claim, &chained)?)
}

/// Follows the key records from the auditor's keys: each must be a `KeyAdded` or `KeyRetired`
/// entry proven under a checkpoint signed by a key trusted so far, in index order; an added key
/// is trusted from then on, a retired one no longer.
fn follow_key_records(
    records: &[String],
    origin: Option<&str>,
    keys: &[VerifierKey],
) -> Result<(Vec<VerifierKey>, Vec<u64>), BundleError> {
    let mut trusted = keys.to_vec();
    let mut indexes: Vec<u64> = Vec::new();
    for (position, text) in records.iter().enumerate() {
        let v = verify_entry_proof(text, origin, &trusted)
            .map_err(|source| BundleError::KeyRecord { position, source })?;
        let index = v.entry.seq;
        let not_a_record = BundleError::NotAKeyRecord { position, index };
        if indexes.last().is_some_and(|&last| last >= index) {
            return Err(not_a_record);
        }
        let key = |text: &str| {
            VerifierKey::parse(text)
                .ok()
                .filter(|k| k.name() == v.checkpoint.checkpoint.origin)
        };
        match &v.entry.body {
            Body::System(SystemRecord::KeyAdded { verifier_key }) => {
                let k = key(verifier_key).ok_or(not_a_record)?;
                if !trusted.contains(&k) {
                    trusted.push(k);
                }
            }
            Body::System(SystemRecord::KeyRetired { verifier_key }) => {
                let k = key(verifier_key).ok_or(not_a_record)?;
                trusted.retain(|t| *t != k);
            }
            _ => return Err(not_a_record),
        }
        indexes.push(index);
    }
    Ok((trusted, indexes))
}

/// Every proof under the bundle's checkpoint (byte for byte, verified once above), its leaf
/// included at its index, entries in increasing order.
fn prove_entries(
    bundle: &ProofBundle,
    checkpoint: &VerifiedCheckpoint,
) -> Result<Vec<Entry>, BundleError> {
    let cp = &checkpoint.checkpoint;
    let mut entries: Vec<Entry> = Vec::with_capacity(bundle.proofs.len());
    for (position, text) in bundle.proofs.iter().enumerate() {
        let fail = |index: String, source: TlogProofError| BundleError::Proof {
            position,
            index,
            source,
        };
        let proof = TlogProof::parse(text).map_err(|e| fail("?".into(), e))?;
        let index = proof.index.0.to_string();
        if proof.checkpoint_note != bundle.checkpoint {
            return Err(BundleError::OtherCheckpoint(position));
        }
        let leaf = proof
            .extra
            .as_deref()
            .ok_or_else(|| fail(index.clone(), TlogProofError::NoLeaf))?;
        verify_inclusion(
            &leaf_hash(leaf),
            proof.index,
            cp.size,
            &proof.path,
            &cp.root,
        )
        .map_err(|e| fail(index.clone(), e.into()))?;
        let entry = Entry::decode(leaf).map_err(|e| fail(index.clone(), e.into()))?;
        if entry.seq != proof.index.0 {
            return Err(fail(
                index,
                TlogProofError::SeqMismatch {
                    index: proof.index.0,
                    found: entry.seq,
                },
            ));
        }
        if entries.last().is_some_and(|prev| prev.seq >= entry.seq) {
            return Err(BundleError::Order(position));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Version 1: every entry is about the chain's id and links to the previous one; returns
/// whether the first has no earlier link.
fn check_v1_chain(entries: &[Entry], chain: &Chain) -> Result<bool, BundleError> {
    let mut previous: Option<u64> = None;
    let mut from_start = false;
    for entry in entries {
        let link =
            chain_link(entry, chain.kind, &chain.id).map_err(|()| BundleError::NotInChain {
                index: entry.seq,
                kind: chain.kind,
                id: chain.id.clone(),
            })?;
        match previous {
            None => from_start = link.is_none(),
            Some(p) if link != Some(p) => {
                return Err(BundleError::Gap {
                    index: entry.seq,
                    linked: link,
                    previous: Some(p),
                });
            }
            Some(_) => {}
        }
        previous = Some(entry.seq);
    }
    Ok(from_start)
}

/// The entries of each version 2 chain, as `claim` reads them.
pub(crate) type Chained<'e> = std::collections::HashMap<(ChainKind, &'e str), Vec<&'e Entry>>;

/// Version 2: for every chain, the bundle's entries about its id up to `through` start at the
/// first entry ever recorded about it, link each to the one before, and end at `through`.
/// One pass over the entries, whatever the number of chains.
fn chain_entries<'e>(
    entries: &'e [Entry],
    spans: &'e [ChainSpan],
) -> Result<Chained<'e>, BundleError> {
    let through: std::collections::HashMap<(ChainKind, &str), u64> = spans
        .iter()
        .map(|s| ((s.kind, s.id.as_str()), s.through))
        .collect();
    let mut chained: Chained<'e> = spans
        .iter()
        .map(|s| ((s.kind, s.id.as_str()), Vec::new()))
        .collect();
    for entry in entries {
        let Body::Event(e) = &entry.body else {
            continue;
        };
        let ev = &e.event;
        let on = [
            (
                ChainKind::Subject,
                Some(ev.subject.id.as_str()),
                e.links.prev_subject,
            ),
            (ChainKind::Grant, ev.grant_id.as_deref(), e.links.prev_grant),
            (
                ChainKind::Credential,
                ev.credential.as_ref().map(|c| c.id.as_str()),
                e.links.prev_credential,
            ),
        ];
        for (kind, id, link) in on {
            let Some(id) = id else { continue };
            let Some((key, end)) = through.get_key_value(&(kind, id)) else {
                continue;
            };
            if entry.seq > *end {
                continue;
            }
            let list = chained.get_mut(key).expect("every span has a list");
            let previous = list.last().map(|p| p.seq);
            if link != previous {
                return Err(BundleError::Gap {
                    index: entry.seq,
                    linked: link,
                    previous,
                });
            }
            list.push(entry);
        }
    }
    for span in spans {
        let last = chained[&(span.kind, span.id.as_str())]
            .last()
            .map(|e| e.seq);
        if last != Some(span.through) {
            return Err(BundleError::ChainEnd {
                kind: span.kind,
                id: span.id.clone(),
                through: span.through,
            });
        }
    }
    Ok(chained)
}
