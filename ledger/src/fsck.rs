//! Full verification: recompute every leaf hash, chain link and back-link, every checkpoint's
//! root and signature along the key chain of custody, the stored tiles, indexes and positions,
//! and, given an auditor's checkpoint, that the log is an append-only extension of it.

use crate::reader::{ChunkCursor, LedgerReader, ReadError};
use crate::store::*;
use crate::tree::{SUBTREE_HASHES, TILE_HEIGHT, TILE_WIDTH, decode_tile, subtree_slot};
use ed25519_dalek::Verifier as _;
use idledger_proto::Hash;
use idledger_proto::checkpoint::Checkpoint;
use idledger_proto::entry::{BackLinks, SystemRecord};
use idledger_proto::hash::{leaf_hash, node_hash};
use idledger_proto::note::{VerifierKey, parse_note};
use idledger_proto::proof::verify_checkpoint;
use idledger_proto::view::{BodyView, EntryView, OriginView};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// How many bytes the tile (or interior hashes) at (level, index) must hold.
type ExpectedBytes<'a> = dyn Fn(u32, u64) -> usize + 'a;

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
    /// An entry holds secret material that ingest never keeps (a secret-named member or a PEM
    /// private key block): secret values must never be stored, only fingerprints.
    SecretMaterial,
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
            FailureClass::SecretMaterial => "secret material",
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
    /// Where the log records holes in its input: Kafka offsets gone from the broker before
    /// ingest read them (`OffsetsUnavailable` entries; the first `MAX_KEPT_FINDINGS`). Not
    /// failures: the log says where they are.
    pub unavailable_offsets: Vec<UnavailableOffsets>,
    /// Offsets in all `OffsetsUnavailable` entries.
    pub unavailable_offsets_total: u64,
}

/// One `OffsetsUnavailable` entry: offsets `first..end` of a partition, recorded at `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnavailableOffsets {
    pub index: u64,
    pub topic: String,
    pub partition: i32,
    pub first: i64,
    pub end: i64,
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
    /// Entries per unit of parallel work (tests use small chunks to cross many boundaries).
    pub chunk_entries: u64,
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

impl std::fmt::Debug for FsckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsckOptions")
            .field("trust", &self.trust)
            .field("threads", &self.threads)
            .field("chunk_entries", &self.chunk_entries)
            .finish()
    }
}

impl Default for FsckOptions<'_> {
    fn default() -> Self {
        FsckOptions {
            trust: None,
            threads: 2,
            chunk_entries: 4096,
            progress: None,
        }
    }
}

/// Keyed 64-bit fingerprints of ids and index records. The key is random per run, so nobody can
/// make two different records collide on purpose; indexes are compared as multisets of
/// fingerprints, and any disagreement is then located exactly by a slower second pass.
struct Fingerprints {
    state: std::hash::RandomState,
}

impl Fingerprints {
    fn of(&self, bytes: &[u8]) -> u64 {
        self.of_parts(&[bytes])
    }
    /// The fingerprint of the parts' concatenation.
    fn of_parts(&self, parts: &[&[u8]]) -> u64 {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = self.state.build_hasher();
        for p in parts {
            h.write(p);
        }
        h.finish()
    }
}

/// A `HashMap` hasher for keys that are already keyed fingerprints.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type FingerprintMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<PassThrough>>;

/// What one stored entry says, extracted by a worker: its hash and, for events, fingerprints of
/// the ids the sequential checks need. Nothing here borrows the entry's bytes.
struct Walked {
    key: u64,
    leaf: Hash,
    len: u32,
    facts: Result<Facts, String>,
}

struct Facts {
    seq: u64,
    prev: Hash,
    /// Topic fingerprint, partition, offset.
    kafka: Option<(u64, i32, i64)>,
    body: BodyFacts,
    /// Where the entry holds secret material, if it does.
    secret: Option<String>,
}

enum BodyFacts {
    Event {
        links: BackLinks,
        subject: u64,
        grant: Option<u64>,
        credential: Option<u64>,
        /// Fingerprint of the `resources` record this entry makes if it is its grant's first.
        resource: Option<u64>,
        /// Fingerprint of the `dedupe` record that must point at this entry.
        dedupe: u64,
    },
    System(SystemRecord),
    Quarantined,
}

/// One chunk's results, in key order, and the names behind its topic fingerprints.
struct ChunkOut {
    walked: Vec<Walked>,
    topics: Vec<(u64, String)>,
}

/// Hashes and parses one chunk of entries.
fn walk_chunk(cursor: &mut ChunkCursor<'_>, fp: &Fingerprints) -> ChunkOut {
    let mut out = ChunkOut {
        walked: Vec::new(),
        topics: Vec::new(),
    };
    while let Some((k, v)) = cursor.next() {
        let key = be_u64(k).filter(|_| k.len() == 8).unwrap_or(u64::MAX);
        out.walked.push(walk_entry(key, v, fp, &mut out.topics));
    }
    out
}

fn walk_entry(
    key: u64,
    bytes: &[u8],
    fp: &Fingerprints,
    topics: &mut Vec<(u64, String)>,
) -> Walked {
    let print = |parts: &[&[u8]]| fp.of_parts(parts);
    let facts = EntryView::decode(bytes)
        .map_err(|e| e.to_string())
        .map(|view| {
            // The highest offset of a partition this entry accounts for: its message's, or the
            // last of a range recorded as unavailable.
            let mut kafka_offset = |topic: &str, partition: i32, offset: i64| {
                let t = print(&[topic.as_bytes()]);
                if !topics.iter().any(|(f, _)| *f == t) {
                    topics.push((t, topic.to_owned()));
                }
                Some((t, partition, offset))
            };
            let kafka = match (&view.origin, &view.body) {
                (OriginView::Kafka(k), _) => kafka_offset(k.topic, k.partition, k.offset),
                (
                    _,
                    BodyView::System(SystemRecord::OffsetsUnavailable {
                        topic,
                        partition,
                        end,
                        ..
                    }),
                ) => kafka_offset(topic, *partition, end.saturating_sub(1)),
                _ => None,
            };
            let secret = idledger_proto::decode::secret_in_entry(bytes, &view);
            let body = match view.body {
                BodyView::Event(e) => {
                    let ev = &e.event;
                    let seq = key.to_be_bytes();
                    let source_len = (ev.source.len() as u16).to_be_bytes();
                    BodyFacts::Event {
                        subject: print(&[b"s", ev.subject.id.as_bytes()]),
                        grant: ev.grant_id.map(|g| print(&[b"g", g.as_bytes()])),
                        credential: ev
                            .credential
                            .as_ref()
                            .map(|c| print(&[b"c", c.id.as_bytes()])),
                        resource: match (ev.resource, ev.grant_id) {
                            (Some(r), Some(g)) => {
                                Some(print(&[r.as_bytes(), &[0], g.as_bytes(), &seq]))
                            }
                            _ => None,
                        },
                        dedupe: print(&[&source_len, ev.source.as_bytes(), ev.id.as_bytes(), &seq]),
                        links: e.links,
                    }
                }
                BodyView::System(record) => BodyFacts::System(record),
                BodyView::Quarantined(_) => BodyFacts::Quarantined,
            };
            Facts {
                seq: view.seq,
                prev: Hash(view.prev_leaf_hash),
                kafka,
                body,
                secret,
            }
        });
    Walked {
        key,
        leaf: leaf_hash(bytes),
        len: bytes.len() as u32,
        facts,
    }
}

/// A compact range of perfect subtrees: roots at any size while walking leaves in order.
#[derive(Default)]
struct CompactRange {
    stack: Vec<(u32, Hash)>,
    leaves: u64,
}

impl CompactRange {
    /// Adds a leaf; `completed(height, index, hash)` sees every perfect subtree it completes (the
    /// nodes upper tiles and the interior hashes of full tiles store).
    fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, Hash)) {
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, node_hash(&left, &node.1));
            completed(node.0, ((self.leaves + 1) >> node.0) - 1, node.1);
        }
        self.stack.push(node);
        self.leaves += 1;
    }
    fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => idledger_proto::hash::empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
        }
    }
}

/// The stored tile holding each level's current node, read once per 256 nodes.
struct TileCursor {
    cached: Vec<Option<(u64, Vec<Hash>)>>,
}

impl TileCursor {
    fn hash(&mut self, db: &rocksdb::DB, level: u8, node: u64) -> Result<Option<Hash>, ReadError> {
        let tile = node / TILE_WIDTH as u64;
        let slot = &mut self.cached;
        if slot.len() <= level as usize {
            slot.resize(level as usize + 1, None);
        }
        let entry = &mut slot[level as usize];
        if entry.as_ref().map(|(i, _)| *i) != Some(tile) {
            let cf = db.cf_handle(CF_TILES).expect("tiles column family exists");
            let bytes = db.get_cf(cf, tile_key(level, tile))?.unwrap_or_default();
            *entry = Some((tile, decode_tile(level, tile, &bytes).unwrap_or_default()));
        }
        Ok(entry
            .as_ref()
            .and_then(|(_, t)| t.get((node % TILE_WIDTH as u64) as usize).copied()))
    }
}

/// The stored interior hashes of the full tile holding each level's current node.
struct SubtreeCursor {
    cached: Vec<Option<(u64, Vec<u8>)>>,
}

impl SubtreeCursor {
    /// The stored hash of the node at `height` within tile level `level` (`node` counts nodes
    /// at that height): `None` when its tile is not full at tree size `size` (nothing is stored
    /// then), `Some(None)` when it should be stored and is not.
    fn hash(
        &mut self,
        db: &rocksdb::DB,
        size: u64,
        level: u8,
        height: u32,
        node: u64,
    ) -> Result<Option<Option<Hash>>, ReadError> {
        let start = node << height;
        let tile = start / TILE_WIDTH as u64;
        let full_tiles = (size >> (TILE_HEIGHT * u32::from(level))) / TILE_WIDTH as u64;
        if tile >= full_tiles {
            return Ok(None);
        }
        if self.cached.len() <= level as usize {
            self.cached.resize(level as usize + 1, None);
        }
        let entry = &mut self.cached[level as usize];
        if entry.as_ref().map(|(i, _)| *i) != Some(tile) {
            let cf = db
                .cf_handle(CF_SUBTREES)
                .expect("subtrees column family exists");
            let bytes = db.get_cf(cf, tile_key(level, tile))?.unwrap_or_default();
            *entry = Some((tile, bytes));
        }
        let bytes = entry
            .as_ref()
            .map(|(_, b)| b.as_slice())
            .unwrap_or_default();
        let slot = subtree_slot(height, ((start % TILE_WIDTH as u64) >> height) as usize);
        Ok(Some(
            bytes
                .get(slot * 32..slot * 32 + 32)
                .filter(|_| bytes.len() == SUBTREE_HASHES * 32)
                .and_then(Hash::from_slice),
        ))
    }
}

/// Index state rebuilt from the entries while walking.
#[derive(Default)]
struct Rebuilt {
    heads: FingerprintMap<u64>,
    /// Multiset sums (wrapping) of the `dedupe` and `resources` record fingerprints.
    dedupe_sum: u64,
    resources_sum: u64,
    resources: u64,
    events: u64,
    max_offsets: HashMap<(u64, i32), i64>,
    topics: HashMap<u64, String>,
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
    let fp = Fingerprints {
        state: std::hash::RandomState::new(),
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
    let mut rebuilt = Rebuilt::default();
    // Sized once from RocksDB's estimate of the stored heads (an entry names at most three ids),
    // so the map does not rehash as it grows.
    let heads_estimate = db
        .property_int_value_cf(cf(CF_HEADS), "rocksdb.estimate-num-keys")
        .ok()
        .flatten()
        .unwrap_or(0);
    rebuilt
        .heads
        .reserve(heads_estimate.min(size.saturating_mul(3)) as usize);
    let mut tiles = TileCursor { cached: Vec::new() };
    let mut subtrees = SubtreeCursor { cached: Vec::new() };
    let mut trusted_root_seen: Option<Hash> = None;

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
    if let Some(t) = &trusted_checkpoint
        && t.size.0 == 0
    {
        trusted_root_seen = Some(range.root());
    }
    check_checkpoints_up_to(
        0,
        &range,
        &active_keys,
        &known_keys,
        &mut report,
        &mut cp_next,
    );

    let mut merge = |out: ChunkOut, report: &mut FsckReport| -> Result<(), ReadError> {
        rebuilt.topics.extend(out.topics);
        for d in out.walked {
            report.bytes_hashed += u64::from(d.len);
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
                    range.push(Hash::ZERO, |_, _, _| {});
                    expected += 1;
                    check_checkpoints_up_to(
                        expected,
                        &range,
                        &active_keys,
                        &known_keys,
                        report,
                        &mut cp_next,
                    );
                }
                prev_leaf = None;
            }
            report.entries_checked += 1;
            // The level-0 tile holds the leaf hash the tree committed to.
            let tile_hash = tiles.hash(db, 0, d.key)?;
            match &d.facts {
                Err(e) => report.add(
                    FailureClass::ModifiedEntry,
                    d.key,
                    format!("entry {} does not decode: {e}", d.key),
                ),
                Ok(facts) if facts.seq != d.key => report.add(
                    FailureClass::ReorderedEntries,
                    d.key,
                    format!("entry at index {} says it is entry {}", d.key, facts.seq),
                ),
                Ok(facts) => {
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
                        if facts.prev != p {
                            report.add(
                                FailureClass::ModifiedEntry,
                                d.key.saturating_sub(1),
                                format!("entry {} does not chain to entry {}", d.key, d.key - 1),
                            );
                        }
                    } else if d.key == 0 && facts.prev != Hash::ZERO {
                        report.add(
                            FailureClass::ModifiedEntry,
                            0,
                            "entry 0 must chain to the zero hash".into(),
                        );
                    }
                    if let Some(location) = &facts.secret {
                        report.add(
                            FailureClass::SecretMaterial,
                            d.key,
                            format!("entry {} holds secret material at {location}", d.key),
                        );
                    }
                    check_entry(
                        d.key,
                        facts,
                        &mut rebuilt,
                        &mut active_keys,
                        &mut known_keys,
                        report,
                    );
                }
            }
            let mut upper_mismatch = Ok(None);
            range.push(d.leaf, |height, node, hash| {
                if upper_mismatch.as_ref().is_ok_and(Option::is_none) {
                    let level = (height / TILE_HEIGHT) as u8;
                    let r = height % TILE_HEIGHT;
                    upper_mismatch = if r == 0 {
                        tiles
                            .hash(db, level, node)
                            .map(|stored| (stored != Some(hash)).then_some((height, node)))
                    } else {
                        subtrees
                            .hash(db, size, level, r, node)
                            .map(|stored| match stored {
                                // Not a full tile at this size: nothing stored to compare.
                                None => None,
                                Some(stored) => (stored != Some(hash)).then_some((height, node)),
                            })
                    };
                }
            });
            if let Some((height, node)) = upper_mismatch? {
                report.add(
                    FailureClass::IndexMismatch,
                    d.key,
                    format!("stored tree node {node} at height {height} does not match the entries below it"),
                );
            }
            prev_leaf = Some(d.leaf);
            expected = d.key + 1;
            if let Some(t) = &trusted_checkpoint
                && t.size.0 == expected
            {
                trusted_root_seen = Some(range.root());
            }
            check_checkpoints_up_to(
                expected,
                &range,
                &active_keys,
                &known_keys,
                report,
                &mut cp_next,
            );
        }
        if let Some(p) = opts.progress {
            p(expected.min(size), size);
        }
        Ok(())
    };
    let walk = |merge: &mut dyn FnMut(ChunkOut) -> Result<(), ReadError>| {
        reader.par_chunks(
            0,
            None,
            opts.threads,
            opts.chunk_entries,
            |cursor| Ok::<_, ReadError>(walk_chunk(cursor, &fp)),
            merge,
        )
    };
    // The index column families are read on a thread of their own while the entries are walked
    // (with more than one thread), and compared once the walk has rebuilt what they should hold.
    let stored = if opts.threads > 1 {
        std::thread::scope(|s| {
            let stored = s.spawn(|| stored_indexes(db, &fp));
            let walked = walk(&mut |out| merge(out, &mut report));
            let stored = stored.join().expect("the index reader does not panic");
            walked.and(stored)
        })?
    } else {
        walk(&mut |out| merge(out, &mut report))?;
        stored_indexes(db, &fp)?
    };
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

    if let Some(Trust { key, .. }) = &opts.trust
        && !known_keys.contains(key)
    {
        report.add(
            FailureClass::UnknownKey,
            0,
            format!("the trusted key {key} never signed for this log"),
        );
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

    check_indexes(reader, size, &rebuilt, &fp, &stored, &mut report)?;
    check_tile_extents(reader, size, &mut report)?;
    Ok(report)
}

/// The sequential checks of one entry: back-links against the heads so far, key records, and
/// the index records it implies.
fn check_entry(
    key: u64,
    facts: &Facts,
    rebuilt: &mut Rebuilt,
    active_keys: &mut Vec<VerifierKey>,
    known_keys: &mut Vec<VerifierKey>,
    report: &mut FsckReport,
) {
    let seq = key;
    if let Some((topic, partition, offset)) = facts.kafka {
        let slot = rebuilt.max_offsets.entry((topic, partition)).or_insert(-1);
        *slot = (*slot).max(offset);
    }
    match &facts.body {
        BodyFacts::Event {
            links,
            subject,
            grant,
            credential,
            resource,
            dedupe,
        } => {
            rebuilt.events += 1;
            rebuilt.dedupe_sum = rebuilt.dedupe_sum.wrapping_add(*dedupe);
            let heads = &mut rebuilt.heads;
            let mut link = |id: u64, stated: Option<u64>, name: &str| {
                let actual = heads.insert(id, seq);
                if actual != stated {
                    report.add(
                        FailureClass::IndexMismatch,
                        seq,
                        format!("entry {seq}: back-link to previous {name} entry is {stated:?}, the log has {actual:?}"),
                    );
                }
                actual
            };
            link(*subject, links.prev_subject, "subject");
            if let Some(g) = grant {
                let first_of_grant = link(*g, links.prev_grant, "grant").is_none();
                if let (true, Some(r)) = (first_of_grant, resource) {
                    rebuilt.resources += 1;
                    rebuilt.resources_sum = rebuilt.resources_sum.wrapping_add(*r);
                }
            }
            if let Some(c) = credential {
                link(*c, links.prev_credential, "credential");
            }
        }
        BodyFacts::System(record) => {
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
                SystemRecord::OffsetsUnavailable { first, end, .. } if first >= end => report.add(
                    FailureClass::ModifiedEntry,
                    seq,
                    format!("entry {seq}: an empty range of unavailable offsets"),
                ),
                SystemRecord::OffsetsUnavailable {
                    topic,
                    partition,
                    first,
                    end,
                } => {
                    report.unavailable_offsets_total += (end - first) as u64;
                    if report.unavailable_offsets.len() < MAX_KEPT_FINDINGS {
                        report.unavailable_offsets.push(UnavailableOffsets {
                            index: seq,
                            topic: topic.clone(),
                            partition: *partition,
                            first: *first,
                            end: *end,
                        });
                    }
                }
            }
        }
        BodyFacts::Quarantined => {}
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

/// Count and wrapping sum of record fingerprints of one index column family.
type Multiset = (u64, u64);

/// The stored side of the index comparison: each index as a multiset of record fingerprints.
/// It reads only the index column families, so it runs while the entries are walked.
struct StoredIndexes {
    heads: Multiset,
    dedupe: Multiset,
    resources: Multiset,
}

/// A `heads` record's fingerprint: the fingerprint of its key (which the walk also computes, from
/// the id) followed by the value's bytes.
fn head_record(fp: &Fingerprints, key_print: u64, value: &[u8]) -> u64 {
    fp.of_parts(&[&key_print.to_le_bytes(), value])
}

fn stored_indexes(db: &rocksdb::DB, fp: &Fingerprints) -> Result<StoredIndexes, ReadError> {
    let multiset = |name: &'static str, record: &dyn Fn(&[u8], &[u8]) -> u64| {
        let cf = db.cf_handle(name).expect("column family exists");
        let (mut count, mut sum) = (0u64, 0u64);
        let mut ro = rocksdb::ReadOptions::default();
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        let mut it = db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            count += 1;
            sum = sum.wrapping_add(record(k, v));
            it.next();
        }
        it.status()?;
        Ok::<_, ReadError>((count, sum))
    };
    let key_and_value = |k: &[u8], v: &[u8]| fp.of_parts(&[k, v]);
    Ok(StoredIndexes {
        heads: multiset(CF_HEADS, &|k, v| head_record(fp, fp.of(k), v))?,
        dedupe: multiset(CF_DEDUPE, &key_and_value)?,
        resources: multiset(CF_RESOURCES, &key_and_value)?,
    })
}

fn check_indexes(
    reader: &LedgerReader<'_>,
    size: u64,
    rebuilt: &Rebuilt,
    fp: &Fingerprints,
    stored: &StoredIndexes,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let rebuilt_heads = rebuilt.heads.iter().fold(
        (rebuilt.heads.len() as u64, 0u64),
        |(count, sum), (&id, &seq)| {
            (
                count,
                sum.wrapping_add(head_record(fp, id, &seq.to_be_bytes())),
            )
        },
    );
    if stored.heads != rebuilt_heads {
        locate_head_mismatches(reader, size, rebuilt, fp, report)?;
    }
    if stored.dedupe != (rebuilt.events, rebuilt.dedupe_sum) {
        locate_dedupe_mismatches(reader, size, report)?;
    }
    let (count, sum) = stored.resources;
    if (count, sum) != (rebuilt.resources, rebuilt.resources_sum) {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "the resource index ({count} records) does not match the {} grants' first entries in the log",
                rebuilt.resources
            ),
        );
    }

    let positions = reader.positions()?;
    for ((topic, partition), max) in &rebuilt.max_offsets {
        let topic = rebuilt.topics.get(topic).map_or("?", String::as_str);
        let stored = positions
            .iter()
            .find(|p| p.topic == topic && p.partition == *partition);
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

/// The second pass, run only when the head index disagrees with the log: every stored head
/// must be the last entry of its id, and there must be one per id.
fn locate_head_mismatches(
    reader: &LedgerReader<'_>,
    size: u64,
    rebuilt: &Rebuilt,
    fp: &Fingerprints,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let before = report.counts.values().sum::<u64>();
    let mut stored_heads = 0u64;
    let mut it = db.raw_iterator_cf(db.cf_handle(CF_HEADS).expect("column family exists"));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        stored_heads += 1;
        let want = rebuilt.heads.get(&fp.of(k)).copied();
        if want.is_none() || want != be_u64(v).filter(|_| v.len() == 8) {
            let id = String::from_utf8_lossy(&k[1.min(k.len())..]).into_owned();
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
    if stored_heads != rebuilt.heads.len() as u64 {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "{stored_heads} head index entries for {} ids in the log",
                rebuilt.heads.len()
            ),
        );
    }
    if report.counts.values().sum::<u64>() == before {
        report.add(
            FailureClass::IndexMismatch,
            size,
            "the head index does not match the log".into(),
        );
    }
    Ok(())
}

/// The slow second pass, run only when the deduplication index disagrees with the log: every
/// event must be the target of its own key, and every key must point at the event it names.
fn locate_dedupe_mismatches(
    reader: &LedgerReader<'_>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let cf = |n| db.cf_handle(n).expect("column family exists");
    let before = report.counts.values().sum::<u64>();
    let mut it = db.raw_iterator_cf(cf(CF_ENTRIES));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if let (Some(seq), Ok(view)) = (be_u64(k), EntryView::decode(v))
            && let (true, Some(ev)) = (seq < size && view.seq == seq, view.event())
        {
            let stored = db.get_cf(cf(CF_DEDUPE), dedupe_key(ev.source, ev.id))?;
            if stored.as_deref().and_then(be_u64) != Some(seq) {
                report.add(
                    FailureClass::IndexMismatch,
                    seq,
                    format!("entry {seq}: deduplication index does not point at it"),
                );
            }
        }
        it.next();
    }
    it.status()?;
    let mut it = db.raw_iterator_cf(cf(CF_DEDUPE));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let target = be_u64(v).filter(|_| v.len() == 8);
        let entry = match target {
            Some(seq) => db.get_cf(cf(CF_ENTRIES), seq_key(seq))?,
            None => None,
        };
        let names_it = entry.as_deref().and_then(|e| {
            let view = EntryView::decode(e).ok()?;
            let ev = view.event()?;
            Some(dedupe_key(ev.source, ev.id) == k)
        });
        if names_it != Some(true) {
            report.add(
                FailureClass::IndexMismatch,
                target.unwrap_or(size),
                format!(
                    "deduplication key {:?} points at {target:?}, which is not that event",
                    String::from_utf8_lossy(k)
                ),
            );
        }
        it.next();
    }
    it.status()?;
    if report.counts.values().sum::<u64>() == before {
        report.add(
            FailureClass::IndexMismatch,
            size,
            "the deduplication index does not match the log".into(),
        );
    }
    Ok(())
}

/// Every stored tile must hold exactly the hashes the tree of this size has: the walk compared
/// each of them, and nothing may lie beyond.
fn check_tile_extents(
    reader: &LedgerReader<'_>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let width = TILE_WIDTH as u64;
    // Bytes a tile key should hold in each column family: the tree's hashes at that tile, and
    // for a full tile only, its 254 interior hashes.
    let tile_bytes = |level: u32, index: u64| {
        let nodes = size >> (TILE_HEIGHT * level);
        nodes.saturating_sub(index * width).min(width) as usize * 32
    };
    let subtree_bytes = |level: u32, index: u64| {
        let full = (index + 1) * width <= size >> (TILE_HEIGHT * level);
        if full { SUBTREE_HASHES * 32 } else { 0 }
    };
    let wants: [(&str, &ExpectedBytes<'_>); 2] =
        [(CF_TILES, &tile_bytes), (CF_SUBTREES, &subtree_bytes)];
    for (name, want) in wants {
        let cf = db.cf_handle(name).expect("tree column families exist");
        let mut it = db.raw_iterator_cf(cf);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let key = match (k.len(), be_u64(k.get(1..).unwrap_or_default())) {
                (9, Some(index)) if k[0] < 8 => Some((u32::from(k[0]), index)),
                _ => None,
            };
            let (level, index) = key.unwrap_or((0, 0));
            let expected = key.map_or(0, |(l, i)| want(l, i));
            if v.len() != expected {
                report.add(
                    FailureClass::IndexMismatch,
                    index.saturating_mul(width) << (TILE_HEIGHT * level),
                    format!(
                        "{name} level {level} index {index} holds {} bytes; a tree of {size} has {expected} there",
                        v.len()
                    ),
                );
            }
            it.next();
        }
        it.status()?;
    }
    Ok(())
}
