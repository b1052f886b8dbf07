//! `verify_export`: the offline check of an export stream in any record format, with the
//! verifier keys alone (docs/EXPORT.md, "What `verify-export` checks").
//!
//! Each entry line on its own: the leaf hashes to the stated hash, decodes, is the entry at the
//! stated index, and what the line shows (native JSON, OCSF record, CEF line) is exactly what
//! idledger writes for that leaf. A contiguous stream then rebuilds the signed tree from the
//! frontier and the leaves; a filtered stream or an extract proves each entry on its own.

use super::cef::parse::parse_cef;
use super::cef::write_cef_entry_as;
use super::ocsf::write_ocsf_entry_as;
use super::read::{EntryLine, ReadLine, Shown, Start, cef_difference, json_difference, read_line};
use super::{EXPORT_FORMAT, EntryRecord, LineProof, RecordFormat, VerifiedExport, entry_json};
use crate::cosigned::check_witnesses;
use crate::entry::Entry;
use crate::hash::{Hash, leaf_hash};
use crate::merkle::compact::CompactRange;
use crate::merkle::verify_inclusion;
use crate::note::VerifierKey;
use crate::proof::verify_checkpoint;
use crate::tree_size::{Seq, TreeSize};
use crate::witness_policy::Policy;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Checks every line of an export stream against the trusted keys. Lines that do not parse,
/// entries whose leaf, hash or record disagree, entries out of place, checkpoints that do not
/// verify or do not match the entries before them, entries no checkpoint covers, and a stream
/// whose entries come in more than one record format are findings.
pub fn verify_export(text: &str, keys: &[VerifierKey]) -> VerifiedExport {
    verify_export_witnessed(text, keys, None)
}

/// `verify_export`, and with a witness `policy`, the checkpoints the result rests on must be
/// cosigned by witnesses meeting its quorum: in a contiguous stream the last one (every entry
/// before it is in its tree), otherwise each checkpoint an entry's proof leads to. The policy's
/// log keys are trusted beside `keys`.
pub fn verify_export_witnessed(
    text: &str,
    keys: &[VerifierKey],
    policy: Option<&Policy>,
) -> VerifiedExport {
    let mut trusted = keys.to_vec();
    for key in policy.iter().flat_map(|p| &p.logs) {
        if !trusted.contains(key) {
            trusted.push(key.clone());
        }
    }
    let mut verifier = Verifier {
        keys: &trusted,
        policy,
        witnessed: BTreeMap::new(),
        out: VerifiedExport::default(),
        origin: None,
        started: false,
        rebuild: None,
        filtered: false,
        checkpoints: BTreeMap::new(),
        proven: Vec::new(),
        seen: HashSet::new(),
        entry_format: None,
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match read_line(raw) {
            Ok(ReadLine::Start(start)) => verifier.start(line_no, start),
            Ok(ReadLine::Entry(entry)) => verifier.entry(line_no, &entry),
            Ok(ReadLine::Checkpoint { size, note }) => verifier.checkpoint(line_no, size, &note),
            Ok(ReadLine::Resume) => {}
            Err(why) => verifier.out.findings.push(format!("line {line_no}: {why}")),
        }
    }
    verifier.finish()
}

/// What the check has learned so far.
struct Verifier<'k> {
    keys: &'k [VerifierKey],
    policy: Option<&'k Policy>,
    /// With a policy: each verified checkpoint's line, and whether its cosignatures meet the
    /// quorum (why not, if not).
    witnessed: BTreeMap<u64, (usize, Result<(), String>)>,
    out: VerifiedExport,
    /// The log the stream is of: named by its start line, or else by the first checkpoint or
    /// record that names one. Every checkpoint must be this log's.
    origin: Option<String>,
    /// A start line was read.
    started: bool,
    rebuild: Option<Rebuild>,
    filtered: bool,
    /// Verified checkpoints by size: root and origin.
    checkpoints: BTreeMap<u64, (Hash, String)>,
    /// Entries waiting for the checkpoint their proof names.
    proven: Vec<Proven>,
    seen: HashSet<u64>,
    /// The record format of the first entry line, and its line.
    entry_format: Option<(RecordFormat, usize)>,
}

/// An entry proven against a checkpoint that may come later in the file.
struct Proven {
    line_no: usize,
    index: u64,
    leaf: Hash,
    proof: LineProof,
    /// The log the record names, if it names one.
    origin: Option<String>,
}

/// State of a contiguous check: the tree rebuilt so far, and where the next entry must be.
struct Rebuild {
    /// The start line's index: the rebuilt range begins there.
    from: u64,
    /// The size of the last checkpoint the entries before it built.
    settled: Option<u64>,
    range: CompactRange,
    next: u64,
    prev_leaf: Option<Hash>,
    /// Entries since the last checkpoint line vouched for them: (line, index).
    pending: Vec<(usize, u64)>,
    /// An entry was out of place: the signed tree cannot be rebuilt from the lines any more
    /// (reported once, at that entry).
    broken: bool,
}

impl Verifier<'_> {
    fn start(&mut self, line_no: usize, start: Start) {
        if start.format != EXPORT_FORMAT || self.started {
            self.out.findings.push(format!(
                "line {line_no}: a second start line, or format `{}` (expected {EXPORT_FORMAT})",
                start.format
            ));
            return;
        }
        self.started = true;
        if !start.filtered && self.out.entries > 0 {
            // Entries before it are in no rebuild, so nothing would tie them to the range.
            self.out.findings.push(format!(
                "line {line_no}: the start line of a contiguous stream comes after entry lines"
            ));
        }
        if let Some(named) = &self.origin
            && *named != start.origin
        {
            self.out.findings.push(format!(
                "line {line_no}: the start line names the log `{}`, the lines before it `{named}`",
                start.origin
            ));
        }
        self.origin = Some(start.origin);
        self.filtered = start.filtered;
        match frontier_range(start.from, &start.frontier) {
            Some(range) if !start.filtered => {
                self.rebuild = Some(Rebuild {
                    from: start.from,
                    settled: None,
                    range,
                    next: start.from,
                    prev_leaf: None,
                    pending: Vec::new(),
                    broken: false,
                });
                self.check_earlier_checkpoint(line_no);
            }
            Some(_) => {}
            None => self.out.findings.push(format!(
                "line {line_no}: the frontier is not {} base64 hashes",
                start.from.count_ones()
            )),
        }
    }

    fn entry(&mut self, line_no: usize, line: &EntryLine) {
        self.out.entries += 1;
        let index = line.index;
        match self.entry_format {
            None => self.entry_format = Some((line.format, line_no)),
            Some((format, first)) if format != line.format => self.out.findings.push(format!(
                "line {line_no}: entry {index} is in format `{}`, the stream's entries are in format `{format}` (line {first}): a stream holds one record format",
                line.format
            )),
            Some(_) => {}
        }
        if let (Some(named), Some(origin)) = (&line.origin, &self.origin)
            && named != origin
        {
            self.out.findings.push(format!(
                "line {line_no}: entry {index} names the log `{named}`, the stream is `{origin}`'s"
            ));
        }
        if self.origin.is_none() {
            self.origin.clone_from(&line.origin);
        }
        let Some((leaf, prev_leaf)) = check_entry(line_no, line, &mut self.out) else {
            return;
        };
        if let Some(r) = self.rebuild.as_mut() {
            place(r, line_no, index, &leaf, &prev_leaf, &mut self.out);
            self.check_earlier_checkpoint(line_no);
        }
        if !self.seen.insert(index) {
            self.out.findings.push(format!(
                "line {line_no}: entry {index} appears more than once (inserted)"
            ));
        }
        match &line.proof {
            Some(proof) => self.proven.push(Proven {
                line_no,
                index,
                leaf,
                proof: proof.clone(),
                origin: line.origin.clone(),
            }),
            None if self.rebuild.is_none() || self.filtered => self.out.findings.push(format!(
                "line {line_no}: entry {index} carries no proof and the stream is not contiguous from a start line"
            )),
            None => {}
        }
    }

    /// A checkpoint read before the rebuild reached its size must have the root the rebuild
    /// reaches there: two trees of one size are a fork.
    fn check_earlier_checkpoint(&mut self, line_no: usize) {
        let Some(r) = self.rebuild.as_ref().filter(|r| !r.broken) else {
            return;
        };
        let size = r.range.size();
        if let Some((root, _)) = self.checkpoints.get(&size)
            && r.range.root() != *root
        {
            self.out.findings.push(format!(
                "line {line_no}: the tree rebuilt to here is not the signed checkpoint of size {size} earlier in the stream: the log signed two trees of one size (a fork)"
            ));
        }
    }

    fn checkpoint(&mut self, line_no: usize, size: u64, note: &str) {
        let cp = match verify_checkpoint(note, self.origin.as_deref(), self.keys) {
            Ok(v) if v.checkpoint.size.0 == size => {
                if let Some((root, _)) = self.checkpoints.get(&size)
                    && *root != v.checkpoint.root
                {
                    self.out.findings.push(format!(
                        "line {line_no}: a second checkpoint of size {size} with another root: the log signed two trees of one size (a fork)"
                    ));
                    return;
                }
                if let Some(policy) = self.policy {
                    let met = check_witnesses(&v, policy)
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    // Copies of one checkpoint: it is witnessed if any copy shows it.
                    if !matches!(self.witnessed.get(&size), Some((_, Ok(())))) {
                        self.witnessed.insert(size, (line_no, met));
                    }
                }
                v.checkpoint
            }
            Ok(v) => {
                self.out.findings.push(format!(
                    "line {line_no}: the checkpoint says size {}, the line {size}",
                    v.checkpoint.size
                ));
                return;
            }
            Err(e) => {
                self.out
                    .findings
                    .push(format!("line {line_no}: checkpoint of size {size}: {e}"));
                return;
            }
        };
        if let Some(r) = self.rebuild.as_mut() {
            settle(r, line_no, &cp.root, size, &mut self.out);
        }
        if self.origin.is_none() {
            self.origin = Some(cp.origin.clone());
        }
        self.checkpoints.insert(size, (cp.root, cp.origin));
        self.out.checkpoints.push(size);
    }

    fn finish(mut self) -> VerifiedExport {
        let proof_sizes: BTreeSet<u64> = self.proven.iter().map(|p| p.proof.size).collect();
        for proven in std::mem::take(&mut self.proven) {
            check_proof(&proven, &self.checkpoints, &mut self.out);
        }
        let contiguous = self
            .rebuild
            .as_ref()
            .filter(|r| !r.broken && r.pending.is_empty())
            .and_then(|r| Some(r.from..r.settled?));
        if let Some(r) = self.rebuild.as_ref().filter(|r| !r.broken)
            && let Some((line_no, index)) = r.pending.first()
        {
            self.out.findings.push(format!(
                "line {line_no}: entry {index} and the {} entries after it are covered by no checkpoint in the stream (cut off, or the checkpoint was removed)",
                r.pending.len() - 1
            ));
        }
        if self.out.entries == 0 {
            self.out.findings.push("the stream holds no entries".into());
        }
        if self.policy.is_some() {
            let resting_on: BTreeSet<u64> = match &contiguous {
                Some(range) => BTreeSet::from([range.end]),
                None => proof_sizes,
            };
            for size in resting_on {
                match self.witnessed.get(&size) {
                    Some((_, Ok(()))) => self.out.witnessed.push(size),
                    Some((line_no, Err(why))) => self.out.findings.push(format!(
                        "line {line_no}: the checkpoint of size {size}, which entries rest on, is not witnessed as the policy requires: {why}"
                    )),
                    // No such checkpoint: its entries are findings already.
                    None => {}
                }
            }
        }
        self.out.contiguous = contiguous;
        self.out.origin = self.origin;
        self.out
    }
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
/// at its index, and what the line shows is what idledger writes for that leaf. Returns the
/// leaf hash and the entry's chain link when it holds.
fn check_entry(line_no: usize, line: &EntryLine, out: &mut VerifiedExport) -> Option<(Hash, Hash)> {
    let index = line.index;
    let mut bad = |why: String| {
        out.findings
            .push(format!("line {line_no}: entry {index} was changed: {why}"));
        None
    };
    let Ok(bytes) = B64.decode(&line.leaf) else {
        return bad("its leaf is not base64".into());
    };
    let hash = leaf_hash(&bytes);
    if Hash::from_base64(&line.leaf_hash) != Some(hash) {
        return bad("its leaf does not hash to the stated leaf hash".into());
    }
    let entry = match Entry::decode(&bytes) {
        Ok(e) => e,
        Err(e) => return bad(format!("its leaf does not decode: {e}")),
    };
    if entry.seq != index {
        return bad(format!("its leaf is entry {}", entry.seq));
    }
    let record = EntryRecord {
        origin: line.origin.as_deref().unwrap_or_default(),
        index,
        leaf: &bytes,
        leaf_hash: hash,
        proof: line.proof.as_ref(),
    };
    if let Some(difference) = shown_difference(&line.shown, &record, &entry) {
        let what = match line.format {
            RecordFormat::Native => "the JSON shown",
            RecordFormat::Ocsf => "the OCSF record shown",
            RecordFormat::Cef => "the CEF line shown",
        };
        return bad(format!(
            "{what} is not the entry its leaf holds: {difference}"
        ));
    }
    Some((hash, entry.prev_leaf_hash()))
}

/// How what a line shows differs from what idledger writes for its leaf, if it does: OCSF
/// records are compared as JSON values (a SIEM may reorder members), CEF lines by header and
/// extension pairs after unescaping (a SIEM may reorder pairs).
fn shown_difference(shown: &Shown, record: &EntryRecord<'_>, entry: &Entry) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    match shown {
        Shown::Native(json) => json_difference(json, &entry_json(entry)),
        Shown::Ocsf {
            record: json,
            producer,
        } => {
            write_ocsf_entry_as(&mut buf, record, entry, producer);
            match serde_json::from_slice(&buf) {
                Ok(expected) => json_difference(json, &expected),
                Err(_) => Some("idledger cannot write its record again".into()),
            }
        }
        Shown::Cef(line) => {
            write_cef_entry_as(&mut buf, record, entry, &line.device_version);
            let expected = std::str::from_utf8(&buf)
                .ok()
                .and_then(|text| parse_cef(text).ok());
            match expected {
                Some(expected) => cef_difference(line, &expected),
                None => Some("idledger cannot write its line again".into()),
            }
        }
    }
}

/// A contiguous stream's next entry: at the next index, chained to the one before.
fn place(
    r: &mut Rebuild,
    line_no: usize,
    index: u64,
    leaf: &Hash,
    prev_leaf: &Hash,
    out: &mut VerifiedExport,
) {
    if r.broken {
        return;
    }
    if index == u64::MAX {
        out.findings.push(format!(
            "line {line_no}: entry {index} is past the largest tree a log can have"
        ));
        r.broken = true;
        return;
    }
    if index != r.next {
        let what = if Some(index) == r.next.checked_add(1) {
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
        && prev != *prev_leaf
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
    } else {
        r.settled = Some(size);
    }
    r.pending.clear();
}

fn check_proof(
    proven: &Proven,
    checkpoints: &BTreeMap<u64, (Hash, String)>,
    out: &mut VerifiedExport,
) {
    let Proven {
        line_no,
        index,
        leaf,
        proof,
        origin,
    } = proven;
    let Some((root, log)) = checkpoints.get(&proof.size) else {
        out.findings.push(format!(
            "line {line_no}: entry {index} is proven against a checkpoint of size {} the stream does not carry",
            proof.size
        ));
        return;
    };
    if let Some(named) = origin
        && named != log
    {
        out.findings.push(format!(
            "line {line_no}: entry {index} names the log `{named}`, its checkpoint is `{log}`'s"
        ));
    }
    let path: Option<Vec<Hash>> = proof.path.iter().map(|h| Hash::from_base64(h)).collect();
    let ok = path.is_some_and(|path| {
        verify_inclusion(leaf, Seq(*index), TreeSize(proof.size), &path, root).is_ok()
    });
    if !ok {
        out.findings.push(format!(
            "line {line_no}: entry {index} is not in the signed tree of size {} (changed, or not this log's)",
            proof.size
        ));
    }
}
