//! What the writer checks before it signs anything again. Someone who can write the data
//! directory but does not hold the key could otherwise rewrite entries (recomputing tiles and
//! indexes), delete the checkpoints that no longer match, and let the next `append` or `ingest`
//! sign the forged tree. So the writer opens a ledger only if the stored tree reproduces the
//! checkpoint at the log's size, that checkpoint carries a valid signature by every key the
//! log's own (proven) key records make active, the writer holds those keys, and the stored Kafka
//! positions are the ones that checkpoint signed.

use crate::keys::KeyDir;
use crate::ledger::LedgerError;
use crate::store::*;
use crate::tree::StoredNodes;
use idledger_proto::checkpoint::{Checkpoint, Extensions, key_records_digest};
use idledger_proto::custody::KeySchedule;
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::merkle;
use idledger_proto::note::{NoteSigner, VerifierKey, parse_note};
use idledger_proto::view::{BodyView, EntryView};
use idledger_proto::{Seq, SystemRecord, TreeSize};
use rocksdb::DB;
use std::collections::BTreeMap;
use std::path::Path;

/// Kafka positions: (topic, partition) → next offset.
pub(crate) type PositionMap = BTreeMap<(String, i32), i64>;

/// What an opened ledger continues from.
pub(crate) struct Opened {
    pub signers: Vec<NoteSigner>,
    /// The log's first key (its genesis record's), which names the ledger's record of the last
    /// checkpoint signed in the key directory.
    pub genesis: VerifierKey,
    pub checkpoint: String,
    /// The size of the checkpoint signed before the latest (what the latest links to).
    pub previous: u64,
    pub positions: PositionMap,
    /// The hash of the last entry, proven to be the tree's last leaf.
    pub last_leaf: Hash,
}

fn refuse(why: String) -> LedgerError {
    LedgerError::Inconsistent(why)
}

/// The indexes of every key record below `size`, read from the entries (for a ledger written
/// before `meta.key_records` existed).
pub(crate) fn scan_key_records(db: &DB, size: u64) -> Result<Vec<u64>, LedgerError> {
    let cf = db
        .cf_handle(CF_ENTRIES)
        .expect("entries column family exists");
    let mut ro = rocksdb::ReadOptions::default();
    ro.fill_cache(false);
    ro.set_iterate_upper_bound(seq_key(size).to_vec());
    let mut it = db.raw_iterator_cf_opt(&cf, ro);
    it.seek_to_first();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let seq = be_u64(k).ok_or_else(|| refuse("an entry key is not 8 bytes".into()))?;
        let view = EntryView::decode(v)
            .map_err(|e| refuse(format!("entry {seq} does not decode: {e}")))?;
        if matches!(
            view.body,
            BodyView::System(
                SystemRecord::Genesis { .. }
                    | SystemRecord::KeyAdded { .. }
                    | SystemRecord::KeyRetired { .. }
            )
        ) {
            out.push(seq);
        }
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// The stored positions, every record checked.
pub(crate) fn load_positions(db: &DB) -> Result<PositionMap, LedgerError> {
    let cf = db
        .cf_handle(CF_POSITIONS)
        .expect("positions column family exists");
    let mut it = db.raw_iterator_cf(&cf);
    it.seek_to_first();
    let mut out = PositionMap::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let (topic, partition) =
            parse_position_key(k).ok_or_else(|| refuse("a position key is damaged".into()))?;
        let next = be_u64(v)
            .filter(|_| v.len() == 8)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| refuse(format!("the position of {topic}/{partition} is damaged")))?;
        out.insert((topic, partition), next);
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// The digest of positions, as a checkpoint's `idledger-positions` line carries it.
pub(crate) fn positions_digest(positions: &PositionMap) -> Hash {
    idledger_proto::positions::digest(positions.iter().map(|((t, p), n)| (t.as_str(), *p, *n)))
}

/// The checks described at the top of this file, on a ledger whose stored tree has `size`
/// leaves and root `root`.
pub(crate) fn verify_for_writing(
    db: &DB,
    data: &Path,
    key_dir: &KeyDir,
    origin: &str,
    tree: (u64, Hash),
    key_records: &[u64],
) -> Result<Opened, LedgerError> {
    let (size, root) = tree;
    let checkpoints = db
        .cf_handle(CF_CHECKPOINTS)
        .expect("checkpoints column family exists");
    let mut it = db.raw_iterator_cf(&checkpoints);
    it.seek_to_last();
    let (latest_size, note) = match (it.key(), it.value()) {
        (Some(k), Some(v)) => (
            be_u64(k).filter(|_| k.len() == 8),
            String::from_utf8(v.to_vec()).ok(),
        ),
        _ => (None, None),
    };
    drop(it);
    let note = match (latest_size, note) {
        (Some(s), Some(note)) if s == size => note,
        (latest, _) => {
            return Err(refuse(format!(
                "the log has {size} entries but its latest checkpoint is {}: entries or checkpoints were removed or added by someone without the key; run `idledger verify` (a ledger whose initialization was interrupted has no checkpoint: remove it and run `idledger init` again)",
                latest.map_or("missing".to_owned(), |s| format!("of size {s}"))
            )));
        }
    };
    let parsed = parse_note(&note).map_err(|e| refuse(format!("the latest checkpoint: {e}")))?;
    let (cp, lines) = Checkpoint::parse(&parsed.text)
        .map_err(|e| refuse(format!("the latest checkpoint: {e}")))?;
    let ext =
        Extensions::parse(&lines).map_err(|e| refuse(format!("the latest checkpoint: {e}")))?;
    if cp.origin != origin || cp.size.0 != size || cp.root != root {
        return Err(refuse(format!(
            "the latest checkpoint (size {}) does not match the stored tree (size {size}); run `idledger verify`",
            cp.size
        )));
    }
    match ext.keys {
        Some(signed) if signed != key_records_digest(key_records) => {
            return Err(refuse(format!(
                "the key record index is not the one the checkpoint of size {size} signed: a key record was hidden or added by someone without the key (the writer would sign with the wrong keys); run `idledger verify`"
            )));
        }
        Some(_) => {}
        // Signed before checkpoints carried the digest: the index is checked against the
        // entries themselves (once; the next checkpoint carries it).
        None if scan_key_records(db, size)? != key_records => {
            return Err(refuse(
                "the key record index does not list the log's key records: it was changed by someone without the key; run `idledger verify`".into(),
            ));
        }
        None => {}
    }
    let schedule = proven_schedule(db, origin, key_records, (size, root))?;
    // The next entry links to the last one: it must be the entry the checkpoint signed, not
    // bytes put in its place (the tiles alone do not prove the last leaf).
    let last_leaf = match size {
        0 => Hash::ZERO,
        n => leaf_hash(&proven_leaf(db, n - 1, (size, root), "the last entry,")?),
    };
    let mut signers = Vec::new();
    for vkey in schedule.active() {
        signers.push(key_dir.load_signer(vkey, &data.join("keys"))?);
    }
    let (signed_by, _) = parsed
        .check_signatures(schedule.named())
        .map_err(|e| refuse(format!("the latest checkpoint: {e}")))?;
    if let Some(missing) = schedule.active().iter().find(|k| !signed_by.contains(k)) {
        return Err(refuse(format!(
            "the latest checkpoint (size {size}) is not signed by {missing}, which the log's key records make active: it was not written by this ledger's writer; run `idledger verify`"
        )));
    }
    let genesis = schedule
        .named()
        .first()
        .cloned()
        .ok_or_else(|| refuse("the log has no genesis key".into()))?;
    extends_last_signed(db, key_dir, &genesis, (size, root))?;
    let positions = load_positions(db)?;
    if let Some(signed) = ext.positions
        && signed != positions_digest(&positions)
    {
        return Err(refuse(format!(
            "the stored Kafka positions are not the ones the checkpoint of size {size} signed: they were changed by someone without the key (ingest would skip or repeat messages); run `idledger verify`"
        )));
    }
    let previous = match ext.previous {
        Some(p) => p,
        // Signed before checkpoints were linked: the stored one below it.
        None => checkpoint_below(db, size)?,
    };
    Ok(Opened {
        signers,
        genesis,
        checkpoint: note,
        previous,
        positions,
        last_leaf,
    })
}

/// The stored tree must extend the last checkpoint this key directory's writer signed: a log cut
/// back to an older signed prefix (and then continued) would make the key sign two different
/// trees of one size, which only a witness could otherwise catch.
fn extends_last_signed(
    db: &DB,
    key_dir: &KeyDir,
    genesis: &VerifierKey,
    tree: (u64, Hash),
) -> Result<(), LedgerError> {
    let (size, root) = tree;
    let Some((signed, signed_root)) = key_dir.last_signed(genesis)? else {
        return Ok(());
    };
    let truncated = || {
        refuse(format!(
            "this key directory's writer last signed a checkpoint of size {signed}, and the stored log ({size} entries) does not extend it: the log was cut back or rolled back (restored from an older copy?); signing on would sign two different logs of the same sizes; restore the latest copy, or, knowing that, remove the record {}",
            key_dir.signed_path(genesis).display()
        ))
    };
    if signed > size {
        return Err(truncated());
    }
    if signed == size {
        return if signed_root == root {
            Ok(())
        } else {
            Err(truncated())
        };
    }
    if signed == 0 {
        return Ok(());
    }
    let proof = merkle::consistency_proof(&StoredNodes::new(db), TreeSize(signed), TreeSize(size))?
        .map_err(|_| truncated())?;
    merkle::verify_consistency(
        TreeSize(signed),
        TreeSize(size),
        &signed_root,
        &root,
        &proof,
    )
    .map_err(|_| truncated())
}

/// The size of the stored checkpoint below `size` (0 if none).
fn checkpoint_below(db: &DB, size: u64) -> Result<u64, LedgerError> {
    let cf = db
        .cf_handle(CF_CHECKPOINTS)
        .expect("checkpoints column family exists");
    let mut it = db.raw_iterator_cf(&cf);
    it.seek_for_prev(seq_key(size.saturating_sub(1)));
    let below = it.key().and_then(be_u64).filter(|s| *s < size).unwrap_or(0);
    it.status()?;
    Ok(below)
}

/// Entry `index`, proven to be leaf `index` of the tree of `size` leaves with root `root` (the
/// tree the latest checkpoint signed): bytes the data directory holds are trusted only so.
/// `what` names the entry in a refusal.
fn proven_leaf(db: &DB, index: u64, tree: (u64, Hash), what: &str) -> Result<Vec<u8>, LedgerError> {
    let (size, root) = tree;
    let entries = db
        .cf_handle(CF_ENTRIES)
        .expect("entries column family exists");
    let leaf = db
        .get_cf(&entries, seq_key(index))?
        .filter(|_| index < size)
        .ok_or_else(|| refuse(format!("{what} {index} is missing")))?;
    let path = merkle::inclusion_proof(&StoredNodes::new(db), Seq(index), TreeSize(size))?
        .map_err(|e| refuse(format!("{what} {index}: {e}")))?;
    merkle::verify_inclusion(&leaf_hash(&leaf), Seq(index), TreeSize(size), &path, &root)
        .map_err(|_| {
            refuse(format!(
                "{what} {index} is not the entry the signed tree holds: it was changed by someone without the key; run `idledger verify`"
            ))
        })?;
    Ok(leaf)
}

/// The log's key schedule from its key records, each read from the entries and proven to be
/// in the tree of `size` leaves with root `root`.
fn proven_schedule(
    db: &DB,
    origin: &str,
    key_records: &[u64],
    tree: (u64, Hash),
) -> Result<KeySchedule, LedgerError> {
    let (size, root) = tree;
    let mut schedule = KeySchedule::new(origin);
    if key_records.first() != Some(&0) {
        return Err(refuse(
            "the key records do not start with the genesis entry; run `idledger verify`".into(),
        ));
    }
    for &index in key_records {
        let leaf = proven_leaf(db, index, (size, root), "key record")?;
        let view =
            EntryView::decode(&leaf).map_err(|e| refuse(format!("key record {index}: {e}")))?;
        let BodyView::System(record) = &view.body else {
            return Err(refuse(format!("entry {index} is not a key record")));
        };
        schedule
            .apply(index, record)
            .map_err(|e| refuse(format!("key records: {e}")))?;
    }
    Ok(schedule)
}
