//! The RocksDB layout: column families, key encodings and database options. Every key format the
//! ledger writes is defined here (and in docs/FORMAT.md).

use rocksdb::{
    ColumnFamilyDescriptor, DB, DBCompactionStyle, DBCompressionType, DBRecoveryMode, Options,
};
use std::path::Path;

/// Column families. `entries` holds the log; everything else is derived from it and rebuilt or
/// checked by fsck, except `checkpoints` (signatures) and `positions` (Kafka offsets).
pub const CF_ENTRIES: &str = "entries";
pub const CF_TILES: &str = "tiles";
/// The interior hashes of every full tile (heights 1 to 7 inside it), so proofs hash nothing.
pub const CF_SUBTREES: &str = "subtrees";
pub const CF_DEDUPE: &str = "dedupe";
pub const CF_HEADS: &str = "heads";
pub const CF_RESOURCES: &str = "resources";
pub const CF_POSITIONS: &str = "positions";
pub const CF_CHECKPOINTS: &str = "checkpoints";
pub const CF_META: &str = "meta";

pub const ALL_CFS: [&str; 9] = [
    CF_ENTRIES,
    CF_TILES,
    CF_SUBTREES,
    CF_DEDUPE,
    CF_HEADS,
    CF_RESOURCES,
    CF_POSITIONS,
    CF_CHECKPOINTS,
    CF_META,
];

/// `meta` keys.
pub const META_ORIGIN: &[u8] = b"origin";
pub const META_TREE_SIZE: &[u8] = b"tree_size";
pub const META_SIGNERS: &[u8] = b"signers";
pub const META_DUPLICATES: &[u8] = b"duplicates_skipped";
pub const META_LAYOUT: &[u8] = b"layout_version";
/// The indexes of the log's key records (`Genesis`, `KeyAdded`, `KeyRetired`), each a u64 BE,
/// in order: how the writer finds its chain of custody without reading the log.
pub const META_KEY_RECORDS: &[u8] = b"key_records";
/// Version 3: `meta` holds `key_records`, and every checkpoint carries idledger's extension
/// lines. Version 2 (`dedupe` values are the 8-byte index alone; version 1 also held a content
/// hash) is upgraded when a writer opens it; a writer that knows only version 2 then refuses the
/// ledger, so it cannot sign checkpoints without the extension lines.
pub const LAYOUT_VERSION: &[u8] = b"3";
/// The layout a writer upgrades from by computing `key_records`.
pub const LAYOUT_UPGRADABLE: &[u8] = b"2";

/// `key_records` value: the indexes, u64 BE each.
pub fn encode_key_records(indexes: &[u64]) -> Vec<u8> {
    indexes.iter().flat_map(|i| i.to_be_bytes()).collect()
}

/// Reads a `key_records` value; `None` if its length is not a multiple of 8.
pub fn decode_key_records(bytes: &[u8]) -> Option<Vec<u64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    bytes.chunks_exact(8).map(be_u64).collect()
}

/// Which head an index key points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeadKind {
    Subject,
    Grant,
    Credential,
}

impl HeadKind {
    fn tag(self) -> u8 {
        match self {
            HeadKind::Subject => b's',
            HeadKind::Grant => b'g',
            HeadKind::Credential => b'c',
        }
    }
}

/// Where a ledger directory keeps its database.
pub fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("db")
}

pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn tile_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// `dedupe` key: u16 BE length of source, source, id.
pub fn dedupe_key(source: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + source.len() + id.len());
    k.extend_from_slice(&(source.len() as u16).to_be_bytes());
    k.extend_from_slice(source.as_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// `heads` key: a tag byte (`s`, `g`, `c`) and the id.
pub fn head_key(kind: HeadKind, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(kind.tag());
    k.extend_from_slice(id.as_bytes());
    k
}

/// `resources` key: resource, 0x00, grant id. The value is the index of the grant's first entry
/// that named the resource.
pub fn resource_key(resource: &str, grant_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(resource.len() + 1 + grant_id.len());
    k.extend_from_slice(resource.as_bytes());
    k.push(0);
    k.extend_from_slice(grant_id.as_bytes());
    k
}

/// `positions` key: topic, 0x00, partition as i32 BE.
pub fn position_key(topic: &str, partition: i32) -> Vec<u8> {
    let mut k = Vec::with_capacity(topic.len() + 5);
    k.extend_from_slice(topic.as_bytes());
    k.push(0);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

pub fn parse_position_key(k: &[u8]) -> Option<(String, i32)> {
    if k.len() < 5 || k[k.len() - 5] != 0 {
        return None;
    }
    let topic = std::str::from_utf8(&k[..k.len() - 5]).ok()?.to_owned();
    let partition = i32::from_be_bytes(k[k.len() - 4..].try_into().ok()?);
    Some((topic, partition))
}

pub fn be_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_paranoid_checks(true);
    // Point-in-time recovery stops at the first damaged WAL record: after a crash the ledger is
    // at the last complete synced batch, never past a hole (docs/DURABILITY.md).
    opts.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    opts.set_track_and_verify_wals_in_manifest(true);
    // Left at their defaults, measured: WAL recycling (`recycle_log_file_num`) would spare the
    // page-cache copies of fresh WAL pages, but with it a read-only (secondary) open spun
    // forever in RocksDB 11.8's WAL reader; capping the live WAL at 64 MiB
    // (`max_total_wal_size`, which bounds recovery reads) cost ~12% of append throughput in
    // four paired runs.
    opts.increase_parallelism(2);
    // All memtables together stay under 48 MiB, whatever the number of column families.
    opts.set_db_write_buffer_size(48 << 20);
    opts.set_max_background_jobs(2);
    opts
}

/// One block cache for every column family (RocksDB's default gives each its own 32 MiB), so
/// cached data blocks stay under 32 MiB in all.
fn shared_cache() -> &'static rocksdb::Cache {
    static CACHE: std::sync::OnceLock<rocksdb::Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| rocksdb::Cache::new_lru_cache(32 << 20))
}

fn cf_options(name: &str) -> Options {
    let mut o = Options::default();
    // One compression at every level lets compaction move sequential files down without
    // rewriting them.
    let compress = name == CF_ENTRIES || name == CF_CHECKPOINTS;
    o.set_compression_type(if compress {
        DBCompressionType::Lz4
    } else {
        DBCompressionType::None
    });
    let mut block = rocksdb::BlockBasedOptions::default();
    // Bloom filters pay off only where reads look for keys that are mostly absent: a new
    // event's deduplication key, the head of an id seen for the first time. Entries, tiles and
    // the rest are read by keys that exist (or by range), so a filter there would only cost
    // flush time and cache space.
    if name == CF_DEDUPE || name == CF_HEADS {
        block.set_bloom_filter(10.0, false);
        // Their memtables get a whole-key filter too, so a batch's lookups of new keys skip
        // the skiplist search. Measured (callgrind, 200k appends): 21% fewer instructions in
        // `prepare`, 2.4% fewer in all; appending one batch at a time +5-13% (three pairs at 1M,
        // one at 10M), pipelined unchanged at 1M (its writer is the bound there), +3% at 10M.
        o.set_memtable_prefix_bloom_ratio(0.1);
        o.set_memtable_whole_key_filtering(true);
    }
    block.set_block_cache(shared_cache());
    if name == CF_ENTRIES {
        // Entries are mostly read in order (verify, replay): 16 KiB blocks nearly halve the
        // per-block cost of a scan, and a point read still decompresses only ~25 entries.
        block.set_block_size(16 << 10);
    }
    o.set_block_based_table_factory(&block);
    if name == CF_ENTRIES {
        o.set_write_buffer_size(16 << 20);
    } else {
        // Index keys arrive in random order: every insert searches its memtable's skiplist.
        // Heads and deduplication keys once had 2 MiB memtables to keep those searches short,
        // but writing, flushing and compacting them was then a quarter of ingest's CPU
        // (measured by leaving them out; a million ingested events flushed 77 heads files, 41
        // MB, and compacted 98 MB). The heads of busy ids are overwritten batch after batch,
        // and a larger memtable keeps only the latest of each when it flushes; for
        // deduplication keys (each written once) it means fewer, larger first-level files to
        // merge. Measured at 16 MiB (heads) and 8 MiB (dedupe) against 2 MiB, in four
        // alternating pairs: ingest of 1M events used 8-11% less CPU in all (compaction 1.7 s
        // -> 0.6 s, though the write thread's inserts into the larger memtables took 1.7 s ->
        // 2.3 s); pipelined appends of 1M +3% and +16% in two pairs. Their bloom filters keep
        // lookups cheap either way.
        o.set_write_buffer_size(if name == CF_HEADS { 16 << 20 } else { 8 << 20 });
        if name == CF_HEADS {
            // Its keys overlap every existing file, so each flush's compaction rewrites the
            // whole first level it lands in. RocksDB's default (up to 256 MiB there before a
            // level is opened above the last) made that cost grow with the ledger: a million
            // events rewrote 20 MB per compaction, five million 100 MB. A small first level and
            // small files keep each compaction's rewrite bounded, whatever the ledger's size.
            o.set_max_bytes_for_level_base(8 << 20);
            o.set_target_file_size_base(4 << 20);
        }
        if name == CF_DEDUPE {
            // Deduplication keys are each written once, in whatever order the feeds' event ids
            // come (no order at all for random ids such as UUIDs), and only ever looked up,
            // mostly for keys that are absent, which the bloom filters answer per sorted run.
            // Leveled compaction merged every flushed file into the levels below, rewriting
            // each key three or more times and more as the ledger grows; universal compaction
            // merges sorted runs of similar size, so a key is rewritten about as many times as
            // the number of runs doubles. Measured, ingest of 5M events in alternating pairs
            // (total CPU against the decode worker's, which no setting here changes, since
            // this machine's speed drifts): with UUID event ids -8.5% and -5.8% CPU,
            // compaction 21.4 and 19.7 CPU-s -> 13.0 and 13.1, +20% and +7% events/s; with the
            // bench's sequential ids -3.2% and -3.7% CPU. The price: a full merge (when the
            // newer runs together outgrow the oldest twice over) briefly needs the index's size
            // again on disk, and ingest's peak RSS over a 5M backlog was 3-28 MiB higher
            // (207-221 MiB, of 256 allowed). Heads and resources stay leveled: universal for
            // them as well measured within this machine's drift (+1.6% and -4.7% CPU), their
            // lookups then probing more files. A ledger written with leveled compaction
            // opens as it is: each level is read as one sorted run (see the test below).
            o.set_compaction_style(DBCompactionStyle::Universal);
        }
        if name == CF_TILES || name == CF_SUBTREES {
            // Tile keys lead with the tree level, so every flushed file spans from the newest
            // level-0 tiles to the upper levels' keys, and each compaction rewrote every
            // first-level file that range touches: RocksDB's 64 MiB default files made that
            // most of the column family (5M ingested events: 420-460 MB compacted in each of the
            // two). With 4 MiB files only the few files at the tail and the upper levels' are
            // rewritten: 173-184 MB in two runs.
            o.set_target_file_size_base(4 << 20);
        }
    }
    o
}

fn descriptors() -> Vec<ColumnFamilyDescriptor> {
    ALL_CFS
        .iter()
        .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n)))
        .collect()
}

pub fn open_primary(path: &Path) -> Result<DB, rocksdb::Error> {
    DB::open_cf_descriptors(&db_options(), path, descriptors())
}

/// Opens a secondary instance that follows a primary (which may be running) without blocking it.
pub fn open_secondary(path: &Path, secondary: &Path) -> Result<DB, rocksdb::Error> {
    let mut opts = db_options();
    opts.create_if_missing(false);
    opts.set_max_open_files(-1);
    DB::open_cf_descriptors_as_secondary(&opts, path, secondary, descriptors())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedupe_keys(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        // Spread like random event ids: every flushed file overlaps the ones before it.
        range
            .map(|i| dedupe_key("feed", &format!("{:08x}", i.wrapping_mul(2_654_435_761))))
            .collect()
    }

    /// Writes deduplication keys `5000 * run ..` for each run, valued by their number, one
    /// flushed file per run.
    fn write_runs(db: &DB, runs: std::ops::Range<u32>) {
        let cf = db.cf_handle(CF_DEDUPE).expect("dedupe");
        for run in runs {
            let first = run * 5_000;
            for (i, k) in dedupe_keys(first..first + 5_000).iter().enumerate() {
                db.put_cf(&cf, k, u64::from(first + i as u32).to_be_bytes())
                    .expect("put");
            }
            db.flush_cf(&cf).expect("flush");
        }
    }

    /// A ledger whose `dedupe` column family was written with leveled compaction (every ledger
    /// before universal compaction was chosen for it) opens, reads, writes and compacts.
    #[test]
    fn a_leveled_dedupe_index_opens_under_universal_compaction() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("db");
        let leveled: Vec<ColumnFamilyDescriptor> = ALL_CFS
            .iter()
            .map(|n| {
                let mut o = cf_options(n);
                o.set_compaction_style(DBCompactionStyle::Level);
                ColumnFamilyDescriptor::new(*n, o)
            })
            .collect();
        {
            let db = DB::open_cf_descriptors(&db_options(), &path, leveled).expect("open leveled");
            write_runs(&db, 0..6);
            // Into the levels below the first, as a leveled ledger holds most of its keys.
            let cf = db.cf_handle(CF_DEDUPE).expect("dedupe");
            db.compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
            let per_level: Vec<String> = (1..7)
                .filter_map(|l| {
                    db.property_value_cf(&cf, format!("rocksdb.num-files-at-level{l}").as_str())
                        .expect("property")
                })
                .collect();
            assert!(
                per_level.iter().any(|n| n != "0"),
                "files below level 0: {per_level:?}"
            );
        }
        let db = open_primary(&path).expect("open with universal compaction");
        write_runs(&db, 6..9);
        let cf = db.cf_handle(CF_DEDUPE).expect("dedupe");
        db.compact_range_cf(&cf, None::<&[u8]>, None::<&[u8]>);
        let keys = dedupe_keys(0..45_000);
        let found = db.batched_multi_get_cf(&cf, &keys, false);
        for (i, v) in found.into_iter().enumerate() {
            let v = v.expect("read").expect("every key written is found");
            assert_eq!(be_u64(&v), Some(i as u64), "key {i}");
        }
        let absent = dedupe_keys(45_000..46_000);
        assert!(
            db.batched_multi_get_cf(&cf, &absent, false)
                .into_iter()
                .all(|v| v.expect("read").is_none())
        );
    }
}
