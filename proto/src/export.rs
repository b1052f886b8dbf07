//! The export stream (docs/EXPORT.md): JSON lines a SIEM can ingest, each entry line carrying
//! what an auditor needs to prove it came from the signed log, and the offline check of such a
//! stream (`verify_export`), with the verifier keys alone.
//!
//! Lines, each a JSON object with a `kind`:
//! - `start`: the stream's origin, the index it starts at, and the roots of the perfect subtrees
//!   of the tree before it (its frontier), so the entries that follow can be hashed onto it;
//! - `entry`: index, leaf hash, the leaf bytes (base64) and the entry as JSON, and with proofs
//!   an inclusion proof against a checkpoint the stream carries;
//! - `checkpoint`: a signed checkpoint note whose size is where the entries before it end.
//!
//! A contiguous stream is checked by rebuilding the tree: the frontier and the leaves up to each
//! checkpoint must hash to its signed root, so a changed, dropped, reordered or inserted entry
//! cannot pass; the index and chain link of each entry name where it happened. A filtered stream
//! (or a SIEM extract of some of its lines) is checked line by line through each entry's proof.

use crate::entry::Entry;
use crate::hash::{Hash, leaf_hash};
use crate::merkle::compact::CompactRange;
use crate::merkle::verify_inclusion;
use crate::note::VerifierKey;
use crate::proof::verify_checkpoint;
use crate::tree_size::{Seq, TreeSize};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` of a stream's start line.
pub const EXPORT_FORMAT: &str = "idledger-export/v1";

/// One line of an export stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Start {
        format: String,
        origin: String,
        from: u64,
        /// Base64 roots of the perfect subtrees of the first `from` leaves, largest first.
        frontier: Vec<String>,
        /// Entries were left out by a filter: every entry line carries its own proof.
        #[serde(default)]
        filtered: bool,
    },
    Entry {
        index: u64,
        /// Base64 of the RFC 6962 leaf hash.
        leaf_hash: String,
        /// Base64 of the leaf's bytes.
        leaf: String,
        entry: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<LineProof>,
    },
    Checkpoint {
        size: u64,
        note: String,
    },
}

/// An entry's inclusion proof against the checkpoint of `size` the stream carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineProof {
    pub size: u64,
    /// Base64 hashes of the audit path, the leaf's sibling first.
    pub path: Vec<String>,
}

/// What a verified export established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedExport {
    pub entries: u64,
    /// The sizes of the checkpoints that vouched for entries.
    pub checkpoints: Vec<u64>,
    /// Findings, each naming its line (1-based) and entry.
    pub findings: Vec<String>,
}

impl VerifiedExport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty() && self.entries > 0
    }
}

/// The JSON an entry line shows for a leaf: the decoded entry, as serde writes it.
pub fn entry_json(entry: &Entry) -> serde_json::Value {
    serde_json::to_value(entry).unwrap_or(serde_json::Value::Null)
}

/// State of a contiguous check: the tree rebuilt so far, and where the next entry must be.
struct Rebuild {
    range: CompactRange,
    next: u64,
    prev_leaf: Option<Hash>,
    /// Entries since the last checkpoint line vouched for them: (line, index).
    pending: Vec<(usize, u64)>,
    /// An entry was out of place: the signed tree cannot be rebuilt from the lines any more
    /// (reported once, at that entry).
    broken: bool,
}

/// Checks every line of an export stream against the trusted keys. Lines that do not parse,
/// entries whose leaf, hash or JSON disagree, entries out of place, checkpoints that do not
/// verify or do not match the entries before them, and entries no checkpoint covers are
/// findings.
pub fn verify_export(text: &str, keys: &[VerifierKey]) -> VerifiedExport {
    let mut out = VerifiedExport::default();
    let mut origin: Option<String> = None;
    let mut rebuild: Option<Rebuild> = None;
    let mut filtered = false;
    // Checkpoints by size (verified root), and entries waiting for one (line, index, leaf, proof).
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut proven: Vec<(usize, u64, Hash, LineProof)> = Vec::new();
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = match serde_json::from_str(raw) {
            Ok(l) => l,
            Err(e) => {
                out.findings
                    .push(format!("line {line_no}: not an export line: {e}"));
                continue;
            }
        };
        match line {
            Line::Start {
                format,
                origin: o,
                from,
                frontier,
                filtered: f,
            } => {
                if format != EXPORT_FORMAT || origin.is_some() {
                    out.findings.push(format!(
                        "line {line_no}: a second start line, or format `{format}` (expected {EXPORT_FORMAT})"
                    ));
                    continue;
                }
                origin = Some(o);
                filtered = f;
                match frontier_range(from, &frontier) {
                    Some(range) if !f => {
                        rebuild = Some(Rebuild {
                            range,
                            next: from,
                            prev_leaf: None,
                            pending: Vec::new(),
                            broken: false,
                        });
                    }
                    Some(_) => {}
                    None => out.findings.push(format!(
                        "line {line_no}: the frontier is not {} base64 hashes",
                        from.count_ones()
                    )),
                }
            }
            Line::Entry {
                index,
                leaf_hash: stated,
                leaf,
                entry,
                proof,
            } => {
                out.entries += 1;
                let Some(leaf) = check_entry(line_no, index, &stated, &leaf, &entry, &mut out)
                else {
                    continue;
                };
                if let Some(r) = rebuild.as_mut() {
                    place(r, line_no, index, &leaf, &entry, &mut out);
                }
                if !seen.insert(index) {
                    out.findings.push(format!(
                        "line {line_no}: entry {index} appears more than once (inserted)"
                    ));
                }
                match proof {
                    Some(p) => proven.push((line_no, index, leaf, p)),
                    None if rebuild.is_none() || filtered => out.findings.push(format!(
                        "line {line_no}: entry {index} carries no proof and the stream is not contiguous from a start line"
                    )),
                    None => {}
                }
            }
            Line::Checkpoint { size, note } => {
                let checked = verify_checkpoint(&note, origin.as_deref(), keys);
                let cp = match checked {
                    Ok(v) if v.checkpoint.size.0 == size => v.checkpoint,
                    Ok(v) => {
                        out.findings.push(format!(
                            "line {line_no}: the checkpoint says size {}, the line {size}",
                            v.checkpoint.size
                        ));
                        continue;
                    }
                    Err(e) => {
                        out.findings
                            .push(format!("line {line_no}: checkpoint of size {size}: {e}"));
                        continue;
                    }
                };
                if let Some(r) = rebuild.as_mut() {
                    settle(r, line_no, &cp.root, size, &mut out);
                }
                checkpoints.insert(size, cp.root);
                out.checkpoints.push(size);
            }
        }
    }
    for (line_no, index, leaf, proof) in proven {
        check_proof(line_no, index, &leaf, &proof, &checkpoints, &mut out);
    }
    if let Some(r) = rebuild.as_ref().filter(|r| !r.broken)
        && let Some((line_no, index)) = r.pending.first()
    {
        out.findings.push(format!(
            "line {line_no}: entry {index} and the {} entries after it are covered by no checkpoint in the stream (cut off, or the checkpoint was removed)",
            r.pending.len() - 1
        ));
    }
    if out.entries == 0 {
        out.findings.push("the stream holds no entries".into());
    }
    out
}

fn frontier_range(from: u64, frontier: &[String]) -> Option<CompactRange> {
    if frontier.len() != from.count_ones() as usize {
        return None;
    }
    let hashes: Vec<Hash> = frontier
        .iter()
        .map(|h| Hash::from_base64(h))
        .collect::<Option<_>>()?;
    let mut it = hashes.into_iter();
    CompactRange::from_nodes(from, |_, _| it.next().ok_or(())).ok()
}

/// An entry line's own consistency: the leaf decodes, hashes to the stated hash, is the entry
/// at `index`, and the JSON shown is the leaf's. Returns the leaf hash when it holds.
fn check_entry(
    line_no: usize,
    index: u64,
    stated: &str,
    leaf: &str,
    json: &serde_json::Value,
    out: &mut VerifiedExport,
) -> Option<Hash> {
    let mut bad = |why: String| {
        out.findings
            .push(format!("line {line_no}: entry {index} was changed: {why}"));
        None
    };
    let Ok(bytes) = B64.decode(leaf) else {
        return bad("its leaf is not base64".into());
    };
    let hash = leaf_hash(&bytes);
    if Hash::from_base64(stated) != Some(hash) {
        return bad("its leaf does not hash to the stated leaf hash".into());
    }
    let entry = match Entry::decode(&bytes) {
        Ok(e) => e,
        Err(e) => return bad(format!("its leaf does not decode: {e}")),
    };
    if entry.seq != index {
        return bad(format!("its leaf is entry {}", entry.seq));
    }
    if &entry_json(&entry) != json {
        return bad("the JSON shown is not the entry its leaf holds".into());
    }
    Some(hash)
}

/// A contiguous stream's next entry: at the next index, chained to the one before.
fn place(
    r: &mut Rebuild,
    line_no: usize,
    index: u64,
    leaf: &Hash,
    json: &serde_json::Value,
    out: &mut VerifiedExport,
) {
    if r.broken {
        return;
    }
    if index != r.next {
        let what = if index == r.next + 1 {
            format!("entry {} was dropped before it", r.next)
        } else if index > r.next {
            format!("entries {} to {} were dropped before it", r.next, index - 1)
        } else {
            format!(
                "it comes after entry {} (reordered or inserted)",
                r.next.saturating_sub(1)
            )
        };
        out.findings.push(format!(
            "line {line_no}: entry {index} is out of place: {what}"
        ));
        // The rest cannot rebuild the signed tree: this finding stands for them.
        r.broken = true;
        return;
    }
    if let Some(prev) = r.prev_leaf
        && json.get("prev_leaf_hash").and_then(|v| v.as_str()) != Some(&prev.to_hex())
    {
        out.findings.push(format!(
            "line {line_no}: entry {index} does not chain to entry {}",
            index - 1
        ));
    }
    r.range.push(*leaf, |_, _, _| {});
    r.prev_leaf = Some(*leaf);
    r.next = index + 1;
    r.pending.push((line_no, index));
}

/// A checkpoint line in a contiguous stream: the entries so far must build its root.
fn settle(r: &mut Rebuild, line_no: usize, root: &Hash, size: u64, out: &mut VerifiedExport) {
    if r.broken {
        return;
    }
    if r.range.size() != size {
        out.findings.push(format!(
            "line {line_no}: a checkpoint of size {size} after entry {}: entries are missing or extra",
            r.next.saturating_sub(1)
        ));
    } else if r.range.root() != *root {
        out.findings.push(format!(
            "line {line_no}: the entries before it do not hash to the signed root of size {size} (one was changed, or the frontier is not this log's)"
        ));
    }
    r.pending.clear();
}

fn check_proof(
    line_no: usize,
    index: u64,
    leaf: &Hash,
    proof: &LineProof,
    checkpoints: &BTreeMap<u64, Hash>,
    out: &mut VerifiedExport,
) {
    let Some(root) = checkpoints.get(&proof.size) else {
        out.findings.push(format!(
            "line {line_no}: entry {index} is proven against a checkpoint of size {} the stream does not carry",
            proof.size
        ));
        return;
    };
    let path: Option<Vec<Hash>> = proof.path.iter().map(|h| Hash::from_base64(h)).collect();
    let ok = path.is_some_and(|path| {
        verify_inclusion(leaf, Seq(index), TreeSize(proof.size), &path, root).is_ok()
    });
    if !ok {
        out.findings.push(format!(
            "line {line_no}: entry {index} is not in the signed tree of size {} (changed, or not this log's)",
            proof.size
        ));
    }
}
