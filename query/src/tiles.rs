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

use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::Seq;
use idledger_proto::hash::Hash;
use idledger_proto::tiles::{BundleError, TileId, encode_entry_bundle, tiles_for};
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

/// Why an export stopped.
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
}

/// Exports the tiles of the ledger's latest checkpoint into `dir`.
pub fn export(reader: &LedgerReader<'_>, dir: &Path) -> Result<TilesSummary, TilesError> {
    let (size, note) = reader.latest_checkpoint()?;
    let mut summary = TilesSummary {
        size: size.0,
        ..TilesSummary::default()
    };
    for tile in tiles_for(size.0) {
        let bytes = match tile.level {
            Some(level) => hash_tile(reader, level, &tile)?,
            None => entry_bundle(reader, &tile)?,
        };
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
