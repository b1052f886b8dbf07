//! The stored tree against the entries: the tile and interior-hash cursors the walk compares
//! every completed subtree with, and the extent check that nothing is stored beyond the tree.

use crate::reader::{LedgerReader, ReadError};
use crate::store::{CF_SUBTREES, CF_TILES, be_u64, tile_key};
use crate::tree::{SUBTREE_HASHES, TILE_HEIGHT, TILE_WIDTH, decode_tile, subtree_slot};
use idledger_proto::Hash;

use super::report::{FailureClass, FsckReport};

/// How many bytes the tile (or interior hashes) at (level, index) must hold.
type ExpectedBytes<'a> = dyn Fn(u32, u64) -> usize + 'a;

/// The stored tile holding each level's current node, read once per 256 nodes.
pub(super) struct TileCursor {
    pub(super) cached: Vec<Option<(u64, Vec<Hash>)>>,
}

impl TileCursor {
    pub(super) fn hash(
        &mut self,
        db: &rocksdb::DB,
        level: u8,
        node: u64,
    ) -> Result<Option<Hash>, ReadError> {
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
pub(super) struct SubtreeCursor {
    pub(super) cached: Vec<Option<(u64, Vec<u8>)>>,
}

impl SubtreeCursor {
    /// The stored hash of the node at `height` within tile level `level` (`node` counts nodes
    /// at that height): `None` when its tile is not full at tree size `size` (nothing is stored
    /// then), `Some(None)` when it should be stored and is not.
    pub(super) fn hash(
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

/// Every stored tile must hold exactly the hashes the tree of this size has: the walk compared
/// each of them, and nothing may lie beyond.
pub(super) fn check_tile_extents(
    reader: &LedgerReader<'_>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let width = TILE_WIDTH as u64;
    // Bytes a tile key should hold in each column family: the tree's hashes at that tile, and
    // for a full tile only, its 254 interior hashes.
    // Tile indexes come from the database: a hostile one (say 2^60) must not overflow.
    let tile_bytes = |level: u32, index: u64| {
        let nodes = size >> (TILE_HEIGHT * level);
        index.checked_mul(width).map_or(0, |first| {
            nodes.saturating_sub(first).min(width) as usize * 32
        })
    };
    let subtree_bytes = |level: u32, index: u64| {
        let full = index
            .checked_add(1)
            .and_then(|n| n.checked_mul(width))
            .is_some_and(|end| end <= size >> (TILE_HEIGHT * level));
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
                    index
                        .saturating_mul(width)
                        .saturating_mul(1 << (TILE_HEIGHT * level)),
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
