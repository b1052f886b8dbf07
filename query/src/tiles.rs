//! The log as C2SP tlog-tiles files (`idledger tiles export DIR`): `checkpoint`, the hash tiles
//! `tile/L/N[.p/W]` and the entry bundles `tile/entries/N[.p/W]` of the latest signed
//! checkpoint, for an object store or a CDN to serve as static files. A monitor or an auditor
//! with only the spec and the verifier key can then fetch any entry and prove it.
//!
//! Exporting again into the same directory brings it up to date: full tiles are immutable, so
//! one already there is left alone if it holds the same bytes, and refused if it does not (the
//! ledger no longer holds the history that was published); partial tiles are written anew;
//! the checkpoint is written last, so a reader never finds a checkpoint whose tiles are
//! missing. Every file is written whole (a temporary file renamed into place).
//!
//! `tile_bytes` is the one place a tile's bytes are made, for the export and for `idledger
//! serve`'s tlog-tiles routes (`http::tiles`) alike.

use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::Seq;
use idledger_proto::hash::Hash;
use idledger_proto::tiles::{BundleError, TILE_WIDTH, TileId, encode_entry_bundle, tiles_for};
use std::path::{Path, PathBuf};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TilesSummary {
    /// The tree size of the checkpoint exported.
    pub size: u64,
    /// Files written (tiles, bundles, the checkpoint).
    pub written: u64,
    /// Full tiles and bundles already there with the same bytes.
    pub unchanged: u64,
}

/// Why an export stopped, or a tile cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TilesError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} already holds other bytes than the ledger's {tile}: a full tile never changes, so \
         the history it published is not the history this ledger holds. Nothing was changed; \
         compare the two (idledger verify), and export a new log into an empty directory"
    )]
    Rewritten { path: PathBuf, tile: String },
    #[error("the ledger's tile {0} is missing or shorter than its tree")]
    MissingTile(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{tile} is not in the tree of size {size}{}", widest_hint(.widest))]
    NotInTree {
        tile: String,
        size: u64,
        /// The widest tile the tree has in its place, if any.
        widest: Option<String>,
    },
}

fn widest_hint(widest: &Option<String>) -> String {
    match widest {
        Some(w) => format!(", which has {w} there"),
        None => ", which ends before it".to_owned(),
    }
}

/// Exports the tiles of the ledger's latest checkpoint into `dir`.
pub fn export(reader: &LedgerReader<'_>, dir: &Path) -> Result<TilesSummary, TilesError> {
    let (size, note) = reader.latest_checkpoint()?;
    let mut summary = TilesSummary {
        size: size.0,
        ..TilesSummary::default()
    };
    for tile in tiles_for(size.0) {
        let bytes = tile_bytes(reader, size.0, &tile)?;
        let path = dir.join(tile.path());
        if tile.is_full() && std::fs::metadata(&path).is_ok() {
            let existing = std::fs::read(&path).map_err(|source| TilesError::Write {
                path: path.clone(),
                source,
            })?;
            if existing != bytes {
                return Err(TilesError::Rewritten {
                    path,
                    tile: tile.path(),
                });
            }
            summary.unchanged += 1;
            continue;
        }
        write_whole(&path, &bytes)?;
        summary.written += 1;
    }
    write_whole(&dir.join("checkpoint"), note.as_bytes())?;
    summary.written += 1;
    Ok(summary)
}

/// How many hashes (entry bundles: entries) a tree of `size` leaves has in `tile`'s place: 256
/// for a full tile, 1 to 255 for its rightmost, partial one, 0 past its end. At level L the
/// tree has floor(size / 256^L) hashes (c2sp.org/tlog-tiles).
pub fn width_in_tree(size: u64, tile: &TileId) -> u64 {
    let count = match tile.level {
        None => size,
        Some(level) => size.checked_shr(8 * u32::from(level)).unwrap_or(0),
    };
    match tile.index.checked_mul(TILE_WIDTH) {
        Some(first) => count.saturating_sub(first).min(TILE_WIDTH),
        None => 0,
    }
}

/// The bytes of `tile` as the tree of `size` leaves publishes it: a hash tile's hashes, or an
/// entry bundle's entries, `tile.width` of them. A tile narrower than the tree holds there (a
/// partial tile of a smaller tree size, or a partial prefix of a now full tile) is the prefix
/// of the wider one; a tile wider than the tree holds there is `NotInTree`.
pub fn tile_bytes(
    reader: &LedgerReader<'_>,
    size: u64,
    tile: &TileId,
) -> Result<Vec<u8>, TilesError> {
    let available = width_in_tree(size, tile);
    if u64::from(tile.width) > available || tile.width == 0 {
        let widest = u16::try_from(available)
            .ok()
            .filter(|w| *w > 0)
            .map(|width| TileId { width, ..*tile }.path());
        return Err(TilesError::NotInTree {
            tile: tile.path(),
            size,
            widest,
        });
    }
    match tile.level {
        Some(level) => hash_tile(reader, level, tile),
        None => entry_bundle(reader, tile),
    }
}

/// The tile's hashes, as many as its width, from the stored tile.
fn hash_tile(reader: &LedgerReader<'_>, level: u8, tile: &TileId) -> Result<Vec<u8>, TilesError> {
    let want = usize::from(tile.width) * std::mem::size_of::<Hash>();
    match reader.tile(level, tile.index)? {
        Some(mut stored) if stored.len() >= want => {
            stored.truncate(want);
            Ok(stored)
        }
        _ => Err(TilesError::MissingTile(tile.path())),
    }
}

/// The bundle of the tile's entries: each leaf's bytes, as stored and hashed.
fn entry_bundle(reader: &LedgerReader<'_>, tile: &TileId) -> Result<Vec<u8>, TilesError> {
    let seqs: Vec<Seq> = (tile.first()..tile.first() + u64::from(tile.width))
        .map(Seq)
        .collect();
    let leaves = reader.leaves(&seqs)?;
    Ok(encode_entry_bundle(
        tile.first(),
        leaves.iter().map(Vec::as_slice),
    )?)
}

/// Writes `bytes` to `path` whole: into a temporary file beside it, then renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), TilesError> {
    let fail = |source| TilesError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes).map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tile(level: Option<u8>, index: u64, width: u16) -> TileId {
        TileId {
            level,
            index,
            width,
        }
    }

    #[test]
    fn widths_in_the_tree_are_the_specs() {
        // (size, tile, width the tree has there)
        let cases = [
            (0, tile(Some(0), 0, 1), 0),
            (0, tile(None, 0, 1), 0),
            (1, tile(Some(0), 0, 1), 1),
            (256, tile(Some(0), 0, 256), 256),
            (256, tile(Some(0), 1, 1), 0),
            (256, tile(Some(1), 0, 1), 1),
            (70_000, tile(Some(0), 273, 1), 112),
            (70_000, tile(Some(1), 1, 1), 17),
            (70_000, tile(Some(2), 0, 1), 1),
            (70_000, tile(Some(3), 0, 1), 0),
            (70_000, tile(None, 272, 1), 256),
            (u64::MAX, tile(Some(7), 0, 1), 255),
            (u64::MAX, tile(Some(8), 0, 1), 0),
            (u64::MAX, tile(Some(63), 0, 1), 0),
            (u64::MAX, tile(None, u64::MAX, 1), 0),
            (u64::MAX, tile(Some(0), u64::MAX / 256, 1), 255),
        ];
        for (size, t, want) in cases {
            assert_eq!(width_in_tree(size, &t), want, "{size} {t:?}");
        }
    }

    proptest! {
        /// Against proto's list of the tiles a tree publishes: each listed tile has its width
        /// in the tree; a tile just past a level's last one has none.
        #[test]
        fn widths_match_the_published_tiles(size in 0u64..3_000_000) {
            let published = tiles_for(size);
            for t in &published {
                prop_assert_eq!(width_in_tree(size, t), u64::from(t.width));
            }
            for level in (0..4).map(Some).chain([None]) {
                let next = published
                    .iter()
                    .filter(|t| t.level == level)
                    .map(|t| t.index + 1)
                    .max()
                    .unwrap_or(0);
                prop_assert_eq!(width_in_tree(size, &tile(level, next, 1)), 0);
            }
        }
    }
}
