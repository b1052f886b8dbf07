//! C2SP tlog-tiles (c2sp.org/tlog-tiles): the paths of hash tiles and entry bundles, which
//! tiles a tree of a given size publishes, and the entry bundle's framing. No I/O: `query`
//! writes and serves what this names.
//!
//! idledger's tiles are the spec's (height 8): tile level L holds the tree's level-8·L hashes,
//! 256 to a full tile; the rightmost tile of a level is partial (`.p/W`, W of 1 to 255 hashes).
//! An entry bundle holds up to 256 consecutive log entries, each framed by its length as a
//! big-endian u16; an idledger entry is the leaf's bytes, exactly, so the leaf hash a client
//! computes from it (SHA-256 of 0x00 and the entry) is the one the tree holds.

use std::fmt::Write as _;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// The largest entry an entry bundle can frame.
pub const MAX_BUNDLE_ENTRY_BYTES: usize = u16::MAX as usize;

/// One tile a tree publishes: a hash tile at `level`, or the entry bundle (`level` None).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TileId {
    /// The hash tile's level, or `None` for an entry bundle.
    pub level: Option<u8>,
    /// The tile's index within its level.
    pub index: u64,
    /// How many hashes (or entries) it holds: 256 when full.
    pub width: u16,
}

impl TileId {
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Its path under the log's prefix: `tile/L/N` or `tile/entries/N`, with `.p/W` when partial
    /// and N written in groups of three digits, all but the last prefixed `x`
    /// (`tile/0/x001/x234/067.p/8`).
    pub fn path(&self) -> String {
        let mut out = String::from("tile/");
        match self.level {
            Some(level) => {
                let _ = write!(out, "{level}/");
            }
            None => out.push_str("entries/"),
        }
        out.push_str(&index_path(self.index));
        if !self.is_full() {
            let _ = write!(out, ".p/{}", self.width);
        }
        out
    }

    /// The first leaf index (entry bundles) or level-8·L hash index the tile holds.
    pub fn first(&self) -> u64 {
        self.index * TILE_WIDTH
    }
}

/// `n` in groups of three digits, each but the last prefixed with `x`.
fn index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        groups.push(format!("x{:03}", n % 1000));
    }
    groups.reverse();
    groups.join("/")
}

/// Every tile a tree of `size` leaves publishes: for each level with hashes, its full tiles
/// and its partial one; then the entry bundles. Full tiles are the same at every larger size
/// (immutable); a partial one is replaced by a wider one as the tree grows.
pub fn tiles_for(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut count = size;
    let mut level = 0u8;
    while count > 0 {
        push_level(&mut out, Some(level), count);
        count /= TILE_WIDTH;
        level += 1;
    }
    push_level(&mut out, None, size);
    out
}

fn push_level(out: &mut Vec<TileId>, level: Option<u8>, count: u64) {
    for index in 0..count / TILE_WIDTH {
        out.push(TileId {
            level,
            index,
            width: TILE_WIDTH as u16,
        });
    }
    let rest = count % TILE_WIDTH;
    if rest > 0 {
        out.push(TileId {
            level,
            index: count / TILE_WIDTH,
            width: rest as u16,
        });
    }
}

/// Why entries cannot be framed, or a bundle cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error(
        "entry {index} is {len} bytes; a tlog-tiles entry bundle frames entries of at most \
         65,535 bytes"
    )]
    TooLarge { index: u64, len: usize },
    #[error("the entry bundle ends inside entry {0}")]
    Truncated(usize),
    #[error("the entry bundle holds {0} entries; a bundle holds at most 256")]
    TooMany(usize),
}

/// The entry bundle of `entries`, the first of which is leaf `first`.
pub fn encode_entry_bundle<'a>(
    first: u64,
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| BundleError::TooLarge {
            index: first + i as u64,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of an entry bundle.
pub fn decode_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        if out.len() == TILE_WIDTH as usize {
            return Err(BundleError::TooMany(out.len() + 1));
        }
        let (len, after) = match rest {
            [a, b, after @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), after),
            _ => return Err(BundleError::Truncated(out.len())),
        };
        if after.len() < len {
            return Err(BundleError::Truncated(out.len()));
        }
        out.push(&after[..len]);
        rest = &after[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_are_the_specs() {
        let t = |level, index, width| TileId {
            level,
            index,
            width,
        };
        let cases = [
            (t(Some(0), 0, 256), "tile/0/000"),
            (t(Some(0), 1, 256), "tile/0/001"),
            (t(Some(1), 999, 256), "tile/1/999"),
            (t(Some(0), 1000, 256), "tile/0/x001/000"),
            (t(Some(2), 1_234_067, 8), "tile/2/x001/x234/067.p/8"),
            (t(None, 5, 256), "tile/entries/005"),
            (t(None, 5, 1), "tile/entries/005.p/1"),
        ];
        for (tile, path) in cases {
            assert_eq!(tile.path(), path);
        }
    }

    #[test]
    fn a_trees_tiles_are_listed_level_by_level() {
        let ids = |size| -> Vec<String> { tiles_for(size).iter().map(TileId::path).collect() };
        assert!(ids(0).is_empty());
        assert_eq!(ids(1), ["tile/0/000.p/1", "tile/entries/000.p/1"]);
        assert_eq!(
            ids(256),
            ["tile/0/000", "tile/1/000.p/1", "tile/entries/000"]
        );
        assert_eq!(
            ids(70_000),
            [
                (0..273)
                    .map(|i| format!("tile/0/{i:03}"))
                    .collect::<Vec<_>>(),
                vec![
                    "tile/0/273.p/112".into(),
                    "tile/1/000".into(),
                    "tile/1/001.p/17".into()
                ],
                vec!["tile/2/000.p/1".into()],
                (0..273).map(|i| format!("tile/entries/{i:03}")).collect(),
                vec!["tile/entries/273.p/112".into()],
            ]
            .concat()
        );
    }

    #[test]
    fn bundles_refuse_what_they_cannot_frame() {
        let big = vec![0u8; 65_536];
        assert_eq!(
            encode_entry_bundle(7, [&b"a"[..], &big[..]]),
            Err(BundleError::TooLarge {
                index: 8,
                len: 65_536
            })
        );
        assert_eq!(
            decode_entry_bundle(&[0, 3, 1, 2]),
            Err(BundleError::Truncated(0))
        );
        assert_eq!(
            decode_entry_bundle(&[0, 0, 0]),
            Err(BundleError::Truncated(1))
        );
        let too_many = encode_entry_bundle(0, vec![&b""[..]; 257]).expect("encode");
        assert_eq!(
            decode_entry_bundle(&too_many),
            Err(BundleError::TooMany(257))
        );
    }

    proptest! {
        #[test]
        fn bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..=256)) {
            let bundle = encode_entry_bundle(0, entries.iter().map(Vec::as_slice)).expect("encode");
            let back: Vec<Vec<u8>> = decode_entry_bundle(&bundle).expect("decode").into_iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(back, entries);
        }

        #[test]
        fn tile_counts_match_the_tree(size in 0u64..5_000_000) {
            let tiles = tiles_for(size);
            let mut level = 0u8;
            let mut count = size;
            while count > 0 {
                let held: u64 = tiles.iter().filter(|t| t.level == Some(level)).map(|t| u64::from(t.width)).sum();
                prop_assert_eq!(held, count);
                count /= TILE_WIDTH;
                level += 1;
            }
            let entries: u64 = tiles.iter().filter(|t| t.level.is_none()).map(|t| u64::from(t.width)).sum();
            prop_assert_eq!(entries, size);
        }
    }
}
