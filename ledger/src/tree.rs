//! The stored Merkle tree: tiles of 256 hashes (as in C2SP tlog-tiles), an in-memory frontier
//! for incremental appends, and a `NodeSource` over stored tiles for proofs at any size.

use crate::store::{CF_SUBTREES, CF_TILES, tile_key};
use idledger_proto::Hash;
use idledger_proto::merkle::NodeSource;
use idledger_proto::merkle::reference::naive_root;
use rocksdb::DB;
use std::cell::RefCell;
use std::collections::HashMap;

/// Tree levels per tile, and hashes per full tile.
pub const TILE_HEIGHT: u32 = 8;
pub const TILE_WIDTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    #[error(
        "tile level {level} index {index} is missing or has {found} of the {needed} hashes needed"
    )]
    MissingTile {
        level: u8,
        index: u64,
        found: usize,
        needed: usize,
    },
    #[error("tile level {level} index {index} is not a whole number of 32-byte hashes")]
    BadTile { level: u8, index: u64 },
    #[error("the interior hashes of full tile level {level} index {index} are missing or damaged")]
    MissingSubtrees { level: u8, index: u64 },
}

pub fn decode_tile(level: u8, index: u64, bytes: &[u8]) -> Result<Vec<Hash>, TreeError> {
    if !bytes.len().is_multiple_of(32) || bytes.len() > TILE_WIDTH * 32 {
        return Err(TreeError::BadTile { level, index });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().expect("32-byte chunk")))
        .collect())
}

pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * 32);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// The right edge of the tree: the last (partial) tile of each tile level, enough to append and
/// to compute the root without reading the database.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    /// Hashes pushed at each tile level so far (level `L` holds tree level `8L` nodes).
    counts: Vec<u64>,
    /// The partial tile at each tile level (fewer than 256 hashes).
    partial: Vec<Vec<Hash>>,
}

/// Interior hashes of a full tile, heights 1 to 7 inside it: 128 + 64 + … + 2 = 254 of them.
pub const SUBTREE_HASHES: usize = TILE_WIDTH - 2;

/// Tiles changed by appends, and the interior hashes of tiles they completed, to be written in
/// the same batch.
#[derive(Debug, Default)]
pub struct DirtyTiles {
    pub tiles: Vec<((u8, u64), Vec<Hash>)>,
    pub subtrees: Vec<((u8, u64), Vec<Hash>)>,
}

/// The root of a full tile and its interior hashes, level by level from height 1 (the 128
/// parents of its hashes) to height 7 (the 2 children of the root).
pub fn tile_subtrees(tile: &[Hash]) -> (Hash, Vec<Hash>) {
    debug_assert_eq!(tile.len(), TILE_WIDTH);
    let mut interior = Vec::with_capacity(SUBTREE_HASHES);
    let mut level: Vec<Hash> = tile.to_vec();
    while level.len() > 1 {
        let up: Vec<Hash> = level
            .chunks_exact(2)
            .map(|p| idledger_proto::hash::node_hash(&p[0], &p[1]))
            .collect();
        if up.len() > 1 {
            interior.extend_from_slice(&up);
        }
        level = up;
    }
    (level[0], interior)
}

/// Where the interior hash at `height` (1 to 7) and position `i` within a full tile sits in the
/// list `tile_subtrees` returns.
pub fn subtree_slot(height: u32, i: usize) -> usize {
    // Heights below `height` hold 128 + 64 + … hashes: 256 - 2^(9 - height) in all.
    (TILE_WIDTH - (TILE_WIDTH >> (height - 1))) + i
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.counts.first().copied().unwrap_or(0)
    }

    /// Loads the frontier of a tree of `size` from stored tiles.
    pub fn load(db: &DB, size: u64) -> Result<Frontier, TreeError> {
        let cf = db.cf_handle(CF_TILES).expect("tiles column family exists");
        let mut f = Frontier::default();
        let mut level = 0u8;
        loop {
            let count = size >> (TILE_HEIGHT * u32::from(level));
            if count == 0 && level > 0 {
                break;
            }
            let width = (count % TILE_WIDTH as u64) as usize;
            let index = count / TILE_WIDTH as u64;
            let mut hashes = Vec::new();
            if width > 0 {
                let bytes = db.get_cf(&cf, tile_key(level, index))?.unwrap_or_default();
                hashes = decode_tile(level, index, &bytes)?;
                if hashes.len() < width {
                    return Err(TreeError::MissingTile {
                        level,
                        index,
                        found: hashes.len(),
                        needed: width,
                    });
                }
                hashes.truncate(width);
            }
            f.counts.push(count);
            f.partial.push(hashes);
            if count < TILE_WIDTH as u64 {
                break;
            }
            level += 1;
        }
        Ok(f)
    }

    /// Appends a leaf hash, recording completed tiles in `dirty`.
    pub fn push(&mut self, leaf: Hash, dirty: &mut DirtyTiles) {
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            if self.counts.len() == level {
                self.counts.push(0);
                self.partial.push(Vec::new());
            }
            self.partial[level].push(hash);
            self.counts[level] += 1;
            if self.partial[level].len() < TILE_WIDTH {
                return;
            }
            let full = std::mem::take(&mut self.partial[level]);
            let (root, interior) = tile_subtrees(&full);
            hash = root;
            let index = self.counts[level] / TILE_WIDTH as u64 - 1;
            dirty.tiles.push(((level as u8, index), full));
            dirty.subtrees.push(((level as u8, index), interior));
            level += 1;
        }
    }

    /// The partial tiles to store after a batch.
    pub fn partial_tiles(&self) -> impl Iterator<Item = ((u8, u64), &[Hash])> {
        self.partial
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(level, p)| {
                (
                    (level as u8, self.counts[level] / TILE_WIDTH as u64),
                    p.as_slice(),
                )
            })
    }

    /// The root hash of the tree, from the frontier alone.
    pub fn root(&self) -> Hash {
        let n = self.size();
        if n == 0 {
            return idledger_proto::hash::empty_root();
        }
        let mut parts = Vec::new();
        for b in (0..64u32).rev() {
            if n & (1u64 << b) == 0 {
                continue;
            }
            let start = (n >> (b + 1)) << (b + 1);
            let level = (b / TILE_HEIGHT) as usize;
            let r = b % TILE_HEIGHT;
            let offset = ((start >> (TILE_HEIGHT * level as u32)) % TILE_WIDTH as u64) as usize;
            parts.push(naive_root(
                &self.partial[level][offset..offset + (1usize << r)],
            ));
        }
        let mut acc = parts.pop().expect("n > 0 has a set bit");
        while let Some(left) = parts.pop() {
            acc = idledger_proto::hash::node_hash(&left, &acc);
        }
        acc
    }
}

/// Complete-subtree hashes read from stored tiles, with a per-request tile cache.
pub struct StoredNodes<'a> {
    db: &'a DB,
    cache: RefCell<HashMap<(u8, u64), Vec<Hash>>>,
    /// Interior hashes of full tiles, read from `subtrees`.
    interior: RefCell<HashMap<(u8, u64), Vec<Hash>>>,
    /// Subtree roots already computed, so proofs sharing this source hash each node once.
    nodes: RefCell<HashMap<(u8, u64), Hash>>,
}

impl std::fmt::Debug for StoredNodes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredNodes")
            .field("cached_tiles", &self.cache.borrow().len())
            .finish()
    }
}

impl<'a> StoredNodes<'a> {
    pub fn new(db: &'a DB) -> StoredNodes<'a> {
        StoredNodes {
            db,
            cache: RefCell::new(HashMap::new()),
            interior: RefCell::new(HashMap::new()),
            nodes: RefCell::new(HashMap::new()),
        }
    }
}

impl NodeSource for StoredNodes<'_> {
    type Error = TreeError;
    fn node(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        if let Some(h) = self.nodes.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        let h = self.compute(level, index)?;
        self.nodes.borrow_mut().insert((level, index), h);
        Ok(h)
    }
}

impl StoredNodes<'_> {
    /// The value stored under a tile key in `cf` (`tiles` or `subtrees`).
    fn stored(
        &self,
        cf: &str,
        level: u8,
        index: u64,
    ) -> Result<Option<rocksdb::DBPinnableSlice<'_>>, TreeError> {
        let handle = self.db.cf_handle(cf).expect("tree column families exist");
        Ok(self.db.get_pinned_cf(&handle, tile_key(level, index))?)
    }

    fn compute(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        let tile_level = (u32::from(level) / TILE_HEIGHT) as u8;
        let r = u32::from(level) % TILE_HEIGHT;
        let start = index << r;
        let tile_index = start / TILE_WIDTH as u64;
        let offset = (start % TILE_WIDTH as u64) as usize;
        let needed = offset + (1usize << r);
        let mut cache = self.cache.borrow_mut();
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry((tile_level, tile_index))
        {
            let hashes = match self.stored(CF_TILES, tile_level, tile_index)? {
                Some(b) => decode_tile(tile_level, tile_index, &b)?,
                None => Vec::new(),
            };
            e.insert(hashes);
        }
        let tile = &cache[&(tile_level, tile_index)];
        if r > 0 && tile.len() == TILE_WIDTH {
            // Inside a full tile: stored, no hashing.
            let mut interior = self.interior.borrow_mut();
            if let std::collections::hash_map::Entry::Vacant(e) =
                interior.entry((tile_level, tile_index))
            {
                let hashes = match self.stored(CF_SUBTREES, tile_level, tile_index)? {
                    // 254 hashes: the same encoding as a (shorter) tile.
                    Some(b) if b.len() == SUBTREE_HASHES * 32 => {
                        decode_tile(tile_level, tile_index, &b)?
                    }
                    _ => {
                        return Err(TreeError::MissingSubtrees {
                            level: tile_level,
                            index: tile_index,
                        });
                    }
                };
                e.insert(hashes);
            }
            return Ok(interior[&(tile_level, tile_index)][subtree_slot(r, offset >> r)]);
        }
        if tile.len() < needed {
            return Err(TreeError::MissingTile {
                level: tile_level,
                index: tile_index,
                found: tile.len(),
                needed,
            });
        }
        Ok(naive_root(&tile[offset..needed]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idledger_proto::hash::leaf_hash;

    #[test]
    fn frontier_root_equals_reference_across_tile_boundaries() {
        let mut f = Frontier::default();
        let mut leaves = Vec::new();
        let mut dirty = DirtyTiles::default();
        for i in 0..70_000u64 {
            let h = leaf_hash(&i.to_be_bytes());
            leaves.push(h);
            f.push(h, &mut dirty);
            let n = i + 1;
            let check = n < 600 || n % 4099 == 0 || n == 65_536 || n == 65_537;
            if check {
                assert_eq!(f.root(), naive_root(&leaves), "size {n}");
            }
        }
        let full_level0 = dirty.tiles.iter().filter(|((l, _), _)| *l == 0).count();
        assert_eq!(full_level0, 70_000 / 256);
        assert_eq!(dirty.tiles.iter().filter(|((l, _), _)| *l == 1).count(), 1);
        // Every stored interior hash is the root of the right 2^h hashes of its tile.
        for (((level, index), interior), ((tl, ti), tile)) in
            dirty.subtrees.iter().zip(&dirty.tiles)
        {
            assert_eq!((level, index), (tl, ti));
            assert_eq!(interior.len(), SUBTREE_HASHES);
            for height in 1..TILE_HEIGHT {
                for i in 0..(TILE_WIDTH >> height) {
                    let span = &tile[i << height..(i + 1) << height];
                    assert_eq!(
                        interior[subtree_slot(height, i)],
                        naive_root(span),
                        "tile {level}/{index} height {height} #{i}"
                    );
                }
            }
        }
    }
}
