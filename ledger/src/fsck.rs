//! Full verification: recompute every leaf hash, chain link and back-link, every checkpoint's
//! root and signature along the key chain of custody, the stored tiles, indexes and positions,
//! and, given an auditor's checkpoint, that the log is an append-only extension of it.

use crate::reader::{LedgerReader, ReadError};
use crate::store::*;
use crate::tree::{TILE_WIDTH, decode_tile};
use ed25519_dalek::Verifier as _;
use idledger_proto::Hash;
use idledger_proto::checkpoint::Checkpoint;
use idledger_proto::decode::content_hash;
use idledger_proto::entry::{Body, Entry, Origin, SystemRecord};
use idledger_proto::hash::{leaf_hash, node_hash};
use idledger_proto::merkle::reference::naive_root;
use idledger_proto::note::{VerifierKey, parse_note};
use idledger_proto::proof::verify_checkpoint;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// What kind of damage a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// An entry's bytes differ from what the chain, tiles or checkpoints commit to.
    ModifiedEntry,
    /// An index below the tree size has no entry.
    MissingEntry,
    /// An entry exists at or beyond the committed tree size.
    InsertedEntry,
    /// An entry sits at an index other than the one inside its bytes.
    ReorderedEntries,
    /// The log is shorter than, or diverges from, a checkpoint it signed or an auditor holds.
    TruncatedOrRolledBack,
    /// A signature by a known key does not verify.
    ForgedSignature,
    /// A checkpoint has no signature by an active key.
    MissingSignature,
    /// A checkpoint is signed only by keys outside the chain of custody.
    UnknownKey,
    /// An index, tile, back-link or position disagrees with the entries.
    IndexMismatch,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::ModifiedEntry => "modified entry",
            FailureClass::MissingEntry => "missing entry",
            FailureClass::InsertedEntry => "inserted entry",
            FailureClass::ReorderedEntries => "reordered entries",
            FailureClass::TruncatedOrRolledBack => "truncated or rolled-back log",
            FailureClass::ForgedSignature => "forged signature",
            FailureClass::MissingSignature => "missing signature",
            FailureClass::UnknownKey => "unknown key",
            FailureClass::IndexMismatch => "index mismatch",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub class: FailureClass,
    /// The entry index (or, for checkpoints, the tree size) where it was found.
    pub index: u64,
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default)]
pub struct FsckReport {
    pub tree_size: u64,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub bytes_hashed: u64,
    /// The first findings in index order of discovery (at most `MAX_KEPT_FINDINGS`).
    pub findings: Vec<Finding>,
    pub counts: BTreeMap<FailureClass, u64>,
    /// Set when a trusted checkpoint was given and the log extends it.
    pub extends_trusted: Option<u64>,
    /// The verifier keys the chain of custody ends with.
    pub final_keys: Vec<String>,
}

pub const MAX_KEPT_FINDINGS: usize = 1000;

impl FsckReport {
    pub fn ok(&self) -> bool {
        self.counts.is_empty()
    }
    pub fn first(&self) -> Option<&Finding> {
        self.findings.first()
    }
    fn add(&mut self, class: FailureClass, index: u64, detail: String) {
        *self.counts.entry(class).or_default() += 1;
        if self.findings.len() < MAX_KEPT_FINDINGS {
            self.findings.push(Finding {
                class,
                index,
                detail,
            });
        }
    }
}

/// An auditor's trust anchor: a key, and optionally a checkpoint they kept earlier.
#[derive(Clone, Debug)]
pub struct Trust {
    pub key: VerifierKey,
    pub checkpoint_note: Option<String>,
}

pub struct FsckOptions<'a> {
    pub trust: Option<Trust>,
    pub threads: usize,
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

impl std::fmt::Debug for FsckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsckOptions")
            .field("trust", &self.trust)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Default for FsckOptions<'_> {
    fn default() -> Self {
        FsckOptions {
            trust: None,
            threads: 2,
            progress: None,
        }
    }
}

const CHUNK: usize = 8192;

struct Decoded {
    key: u64,
    leaf: Hash,
    len: usize,
    entry: Result<Entry, String>,
    content: Option<Hash>,
}

fn decode_all(items: &[(u64, Vec<u8>)]) -> Vec<Decoded> {
    items
        .iter()
        .map(|(key, bytes)| {
            let entry = Entry::decode(bytes).map_err(|e| e.to_string());
            let content = entry
                .as_ref()
                .ok()
                .and_then(|e| e.event().map(content_hash));
            Decoded {
                key: *key,
                leaf: leaf_hash(bytes),
                len: bytes.len(),
                entry,
                content,
            }
        })
        .collect()
}

/// A compact range of perfect subtrees: roots at any size while walking leaves in order.
#[derive(Default)]
struct CompactRange {
    stack: Vec<(u32, Hash)>,
}

impl CompactRange {
    fn push(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
    }
    fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => idledger_proto::hash::empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
        }
    }
}

/// Verifies everything the ledger stores.
pub fn fsck(reader: &LedgerReader<'_>, opts: &FsckOptions<'_>) -> Result<FsckReport, ReadError> {
    let db = reader.db();
    let cf = |n| db.cf_handle(n).expect("column family exists");
    let size = reader.size()?.0;
    let origin = reader.origin().to_owned();
    let mut report = FsckReport {
        tree_size: size,
        ..FsckReport::default()
    };

    let mut checkpoints: Vec<(u64, String)> = Vec::new();
    {
        let mut it = db.raw_iterator_cf(cf(CF_CHECKPOINTS));
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            checkpoints.push((
                be_u64(k).unwrap_or(u64::MAX),
                String::from_utf8_lossy(v).into_owned(),
            ));
            it.next();
        }
        it.status()?;
    }
    let trusted_checkpoint = match &opts.trust {
        Some(Trust {
            key,
            checkpoint_note: Some(note),
        }) => match verify_checkpoint(note, Some(&origin), std::slice::from_ref(key)) {
            Ok(v) => Some(v.checkpoint),
            Err(e) => {
                let class = match e {
                    idledger_proto::proof::TlogProofError::Note(
                        idledger_proto::note::NoteError::UnknownKey { .. },
                    ) => FailureClass::UnknownKey,
                    _ => FailureClass::ForgedSignature,
                };
                report.add(class, 0, format!("trusted checkpoint does not verify: {e}"));
                None
            }
        },
        _ => None,
    };

    // Walk state.
    let mut expected: u64 = 0;
    let mut prev_leaf: Option<Hash> = None;
    let mut range = CompactRange::default();
    let mut cp_next = 0usize;
    let mut active_keys: Vec<VerifierKey> = Vec::new();
    let mut known_keys: Vec<VerifierKey> = Vec::new();
    let mut heads: HashMap<(HeadKind, String), u64> = HashMap::new();
    let mut resources: HashSet<Vec<u8>> = HashSet::new();
    let mut max_offsets: HashMap<(String, i32), i64> = HashMap::new();
    let mut event_entries = 0u64;
    let mut tile_cache: Option<(u64, Vec<Hash>)> = None;
    let mut trusted_root_seen: Option<Hash> = None;
    let dedupe_cf = cf(CF_DEDUPE);

    let check_checkpoints_up_to = |tree: u64,
                                   range: &CompactRange,
                                   active: &[VerifierKey],
                                   known: &[VerifierKey],
                                   report: &mut FsckReport,
                                   cp_next: &mut usize| {
        while *cp_next < checkpoints.len() && checkpoints[*cp_next].0 == tree {
            let (cp_size, note) = &checkpoints[*cp_next];
            check_checkpoint(*cp_size, note, &origin, range.root(), active, known, report);
            report.checkpoints_checked += 1;
            *cp_next += 1;
        }
    };
    if let Some(t) = &trusted_checkpoint {
        if t.size.0 == 0 {
            trusted_root_seen = Some(range.root());
        }
    }
    check_checkpoints_up_to(
        0,
        &range,
        &active_keys,
        &known_keys,
        &mut report,
        &mut cp_next,
    );

    let mut it = db.raw_iterator_cf(cf(CF_ENTRIES));
    it.seek_to_first();
    loop {
        let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            match (it.key(), it.value()) {
                (Some(k), Some(v)) => {
                    let key = be_u64(k).unwrap_or(u64::MAX);
                    chunk.push((key, v.to_vec()));
                    it.next();
                }
                _ => break,
            }
        }
        it.status()?;
        if chunk.is_empty() {
            break;
        }
        let threads = opts.threads.max(1);
        let decoded: Vec<Decoded> = if threads == 1 {
            decode_all(&chunk)
        } else {
            let per = chunk.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .chunks(per)
                    .map(|part| s.spawn(move || decode_all(part)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("verification worker does not panic"))
                    .collect()
            })
        };
        for d in decoded {
            report.bytes_hashed += d.len as u64;
            if d.key >= size {
                report.add(
                    FailureClass::InsertedEntry,
                    d.key,
                    format!("entry {} is beyond the committed tree size {size}", d.key),
                );
                continue;
            }
            if d.key > expected {
                report.add(
                    FailureClass::MissingEntry,
                    expected,
                    format!("entries {expected} to {} are missing", d.key - 1),
                );
                // The tree cannot be recomputed past a hole; later roots will not match.
                while expected < d.key {
                    range.push(Hash::ZERO);
                    expected += 1;
                    check_checkpoints_up_to(
                        expected,
                        &range,
                        &active_keys,
                        &known_keys,
                        &mut report,
                        &mut cp_next,
                    );
                }
                prev_leaf = None;
            }
            report.entries_checked += 1;
            // The level-0 tile holds the leaf hash the tree committed to.
            let tile_index = d.key / TILE_WIDTH as u64;
            if tile_cache.as_ref().map(|(i, _)| *i) != Some(tile_index) {
                let bytes = db
                    .get_cf(cf(CF_TILES), tile_key(0, tile_index))?
                    .unwrap_or_default();
                tile_cache = Some((
                    tile_index,
                    decode_tile(0, tile_index, &bytes).unwrap_or_default(),
                ));
            }
            let tile_hash = tile_cache
                .as_ref()
                .and_then(|(_, t)| t.get((d.key % TILE_WIDTH as u64) as usize).copied());
            match &d.entry {
                Err(e) => report.add(
                    FailureClass::ModifiedEntry,
                    d.key,
                    format!("entry {} does not decode: {e}", d.key),
                ),
                Ok(entry) if entry.seq != d.key => report.add(
                    FailureClass::ReorderedEntries,
                    d.key,
                    format!("entry at index {} says it is entry {}", d.key, entry.seq),
                ),
                Ok(entry) => {
                    if tile_hash != Some(d.leaf) {
                        report.add(
                            FailureClass::ModifiedEntry,
                            d.key,
                            format!(
                                "entry {} does not hash to the leaf the tree committed to",
                                d.key
                            ),
                        );
                    } else if let Some(p) = prev_leaf {
                        if entry.prev_leaf_hash() != p {
                            report.add(
                                FailureClass::ModifiedEntry,
                                d.key.saturating_sub(1),
                                format!("entry {} does not chain to entry {}", d.key, d.key - 1),
                            );
                        }
                    } else if d.key == 0 && entry.prev_leaf_hash() != Hash::ZERO {
                        report.add(
                            FailureClass::ModifiedEntry,
                            0,
                            "entry 0 must chain to the zero hash".into(),
                        );
                    }
                    check_entry(
                        entry,
                        d.content,
                        &mut heads,
                        &mut resources,
                        &mut max_offsets,
                        &mut active_keys,
                        &mut known_keys,
                        &mut event_entries,
                        &mut report,
                        |k| db.get_cf(dedupe_cf, k).ok().flatten(),
                    );
                }
            }
            range.push(d.leaf);
            prev_leaf = Some(d.leaf);
            expected = d.key + 1;
            if let Some(t) = &trusted_checkpoint {
                if t.size.0 == expected {
                    trusted_root_seen = Some(range.root());
                }
            }
            check_checkpoints_up_to(
                expected,
                &range,
                &active_keys,
                &known_keys,
                &mut report,
                &mut cp_next,
            );
        }
        if let Some(p) = opts.progress {
            p(expected.min(size), size);
        }
    }
    if expected < size {
        report.add(
            FailureClass::MissingEntry,
            expected,
            format!("entries {expected} to {} are missing", size - 1),
        );
    }
    for (cp_size, _) in &checkpoints[cp_next..] {
        report.add(
            FailureClass::TruncatedOrRolledBack,
            *cp_size,
            format!("a checkpoint was signed for size {cp_size} but the log has {size} entries"),
        );
    }
    report.final_keys = active_keys.iter().map(ToString::to_string).collect();

    if let Some(Trust { key, .. }) = &opts.trust {
        if !known_keys.contains(key) {
            report.add(
                FailureClass::UnknownKey,
                0,
                format!("the trusted key {key} never signed for this log"),
            );
        }
    }
    if let Some(t) = &trusted_checkpoint {
        if t.size.0 > size {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                size,
                format!(
                    "the trusted checkpoint has {} entries; the log has {size}",
                    t.size.0
                ),
            );
        } else if trusted_root_seen != Some(t.root) {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                t.size.0,
                format!("the log's first {} entries differ from the trusted checkpoint: not an append-only extension", t.size.0),
            );
        } else {
            report.extends_trusted = Some(t.size.0);
        }
    }

    check_indexes(
        reader,
        size,
        &heads,
        &resources,
        &max_offsets,
        event_entries,
        &mut report,
    )?;
    check_upper_tiles(reader, size, &mut report)?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)] // One walk's state, threaded through a single call site.
fn check_entry(
    entry: &Entry,
    content: Option<Hash>,
    heads: &mut HashMap<(HeadKind, String), u64>,
    resources: &mut HashSet<Vec<u8>>,
    max_offsets: &mut HashMap<(String, i32), i64>,
    active_keys: &mut Vec<VerifierKey>,
    known_keys: &mut Vec<VerifierKey>,
    event_entries: &mut u64,
    report: &mut FsckReport,
    dedupe_get: impl Fn(&[u8]) -> Option<Vec<u8>>,
) {
    let seq = entry.seq;
    if let Origin::Kafka(k) = &entry.origin {
        let slot = max_offsets
            .entry((k.topic.clone(), k.partition))
            .or_insert(-1);
        *slot = (*slot).max(k.offset);
    }
    match &entry.body {
        Body::Event(e) => {
            *event_entries += 1;
            let ev = &e.event;
            let first_of_grant = ev
                .grant_id
                .as_ref()
                .is_some_and(|g| !heads.contains_key(&(HeadKind::Grant, g.clone())));
            let mut link = |kind: HeadKind, id: &str, stated: Option<u64>, name: &str| {
                let key = (kind, id.to_owned());
                let actual = heads.get(&key).copied();
                if actual != stated {
                    report.add(
                        FailureClass::IndexMismatch,
                        seq,
                        format!("entry {seq}: back-link to previous {name} entry is {stated:?}, the log has {actual:?}"),
                    );
                }
                heads.insert(key, seq);
            };
            link(
                HeadKind::Subject,
                &ev.subject.id,
                e.links.prev_subject,
                "subject",
            );
            if let Some(g) = &ev.grant_id {
                link(HeadKind::Grant, g, e.links.prev_grant, "grant");
                if first_of_grant {
                    if let Some(r) = &ev.resource {
                        resources.insert(resource_key(r, g));
                    }
                }
            }
            if let Some(c) = &ev.credential {
                link(
                    HeadKind::Credential,
                    &c.id,
                    e.links.prev_credential,
                    "credential",
                );
            }
            let stored = dedupe_get(&dedupe_key(&ev.source, &ev.id));
            let ok = stored.as_deref().is_some_and(|v| {
                be_u64(v) == Some(seq) && v.get(8..40).and_then(Hash::from_slice) == content
            });
            if !ok {
                report.add(
                    FailureClass::IndexMismatch,
                    seq,
                    format!("entry {seq}: deduplication index does not point at it"),
                );
            }
        }
        Body::System(record) => {
            let parse = |text: &str| VerifierKey::parse(text).ok();
            match record {
                SystemRecord::Genesis { verifier_key, .. }
                | SystemRecord::KeyAdded { verifier_key } => match parse(verifier_key) {
                    Some(k) => {
                        if seq != 0 && matches!(record, SystemRecord::Genesis { .. }) {
                            report.add(
                                FailureClass::ModifiedEntry,
                                seq,
                                "a genesis record after entry 0".into(),
                            );
                        }
                        active_keys.push(k.clone());
                        known_keys.push(k);
                    }
                    None => report.add(
                        FailureClass::ModifiedEntry,
                        seq,
                        format!("entry {seq}: unparsable verifier key"),
                    ),
                },
                SystemRecord::KeyRetired { verifier_key } => {
                    active_keys.retain(|k| k.to_string() != *verifier_key)
                }
            }
        }
        Body::Quarantined(_) => {}
    }
}

fn check_checkpoint(
    cp_size: u64,
    note: &str,
    origin: &str,
    root: Hash,
    active: &[VerifierKey],
    known: &[VerifierKey],
    report: &mut FsckReport,
) {
    let parsed = match parse_note(note) {
        Ok(p) => p,
        Err(idledger_proto::note::NoteError::NoSignatures) => {
            report.add(
                FailureClass::MissingSignature,
                cp_size,
                format!("checkpoint {cp_size} has no signature"),
            );
            return;
        }
        Err(e) => {
            report.add(
                FailureClass::MissingSignature,
                cp_size,
                format!("checkpoint {cp_size} is not a signed note: {e}"),
            );
            return;
        }
    };
    let mut by_active = false;
    let mut unknown = false;
    for sig in &parsed.signatures {
        match known
            .iter()
            .find(|k| k.name() == sig.name && k.id() == sig.key_id)
        {
            Some(k) => {
                let s = ed25519_dalek::Signature::from_bytes(&sig.signature);
                if k.key().verify(parsed.text.as_bytes(), &s).is_err() {
                    report.add(
                        FailureClass::ForgedSignature,
                        cp_size,
                        format!("checkpoint {cp_size}: signature by {k} does not verify"),
                    );
                    return;
                }
                by_active |= active.contains(k);
            }
            None => unknown = true,
        }
    }
    if !by_active {
        let class = if unknown {
            FailureClass::UnknownKey
        } else {
            FailureClass::MissingSignature
        };
        report.add(
            class,
            cp_size,
            format!("checkpoint {cp_size} is not signed by a key active at that size"),
        );
        return;
    }
    match Checkpoint::parse(&parsed.text) {
        Ok((cp, _)) if cp.origin == origin && cp.size.0 == cp_size => {
            if cp.root != root {
                report.add(
                    FailureClass::ModifiedEntry,
                    cp_size,
                    format!("checkpoint {cp_size}: the entries do not hash to its signed root (an entry below {cp_size} was changed)"),
                );
            }
        }
        Ok((cp, _)) => report.add(
            FailureClass::IndexMismatch,
            cp_size,
            format!(
                "checkpoint stored under size {cp_size} is for {} size {}",
                cp.origin, cp.size
            ),
        ),
        Err(e) => report.add(
            FailureClass::ForgedSignature,
            cp_size,
            format!("checkpoint {cp_size}: {e}"),
        ),
    }
}

fn check_indexes(
    reader: &LedgerReader<'_>,
    size: u64,
    heads: &HashMap<(HeadKind, String), u64>,
    resources: &HashSet<Vec<u8>>,
    max_offsets: &HashMap<(String, i32), i64>,
    event_entries: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let cf = |n| db.cf_handle(n).expect("column family exists");
    let mut stored_heads = 0u64;
    let mut it = db.raw_iterator_cf(cf(CF_HEADS));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        stored_heads += 1;
        let kind = match k.first() {
            Some(b's') => Some(HeadKind::Subject),
            Some(b'g') => Some(HeadKind::Grant),
            Some(b'c') => Some(HeadKind::Credential),
            _ => None,
        };
        let id = String::from_utf8_lossy(&k[1.min(k.len())..]).into_owned();
        let want = kind.and_then(|kind| heads.get(&(kind, id.clone())).copied());
        if want.is_none() || want != be_u64(v) {
            report.add(
                FailureClass::IndexMismatch,
                be_u64(v).unwrap_or(size),
                format!(
                    "head index for `{id}` is {:?}, the log says {want:?}",
                    be_u64(v)
                ),
            );
        }
        it.next();
    }
    it.status()?;
    if stored_heads != heads.len() as u64 {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "{stored_heads} head index entries for {} ids in the log",
                heads.len()
            ),
        );
    }
    let mut stored_dedupe = 0u64;
    let mut it = db.raw_iterator_cf(cf(CF_DEDUPE));
    it.seek_to_first();
    while it.valid() {
        stored_dedupe += 1;
        it.next();
    }
    it.status()?;
    if stored_dedupe != event_entries {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!("{stored_dedupe} deduplication keys for {event_entries} events"),
        );
    }
    let mut stored_resources = 0u64;
    let mut it = db.raw_iterator_cf(cf(CF_RESOURCES));
    it.seek_to_first();
    while let Some(k) = it.key() {
        stored_resources += 1;
        if !resources.contains(k) {
            report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "resource index key {:?} is not backed by an entry",
                    String::from_utf8_lossy(k)
                ),
            );
        }
        it.next();
    }
    it.status()?;
    if stored_resources != resources.len() as u64 {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "{stored_resources} resource index entries for {} in the log",
                resources.len()
            ),
        );
    }
    let positions = reader.positions()?;
    for ((topic, partition), max) in max_offsets {
        let stored = positions
            .iter()
            .find(|p| &p.topic == topic && p.partition == *partition);
        match stored {
            Some(p) if p.next_offset > *max => {}
            _ => report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "position for {topic}/{partition} is {:?} but entries reach offset {max}",
                    stored.map(|p| p.next_offset)
                ),
            ),
        }
    }
    Ok(())
}

/// Every stored tile above level 0 must hold the roots of the full tiles below it.
fn check_upper_tiles(
    reader: &LedgerReader<'_>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let cf = db.cf_handle(CF_TILES).expect("tiles column family exists");
    let mut it = db.raw_iterator_cf(cf);
    it.seek(tile_key(1, 0));
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let (level, index) = (k[0], be_u64(&k[1..]).unwrap_or(0));
        let hashes = decode_tile(level, index, v).unwrap_or_default();
        for (j, h) in hashes.iter().enumerate() {
            let below_index = index * TILE_WIDTH as u64 + j as u64;
            let below = db
                .get_cf(cf, tile_key(level - 1, below_index))?
                .unwrap_or_default();
            let below = decode_tile(level - 1, below_index, &below).unwrap_or_default();
            if below.len() != TILE_WIDTH || naive_root(&below) != *h {
                report.add(
                    FailureClass::IndexMismatch,
                    size,
                    format!(
                        "tile level {level} index {index} hash {j} does not match the tile below"
                    ),
                );
            }
        }
        it.next();
    }
    it.status()?;
    Ok(())
}
