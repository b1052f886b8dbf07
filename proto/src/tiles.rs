//! C2SP tlog-tiles (c2sp.org/tlog-tiles): the paths of hash tiles and entry bundles, written
//! and read back strictly (one spelling per tile), which tiles a tree of a given size
//! publishes, and the entry bundle's framing. No I/O: `query` writes and serves what this names.
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

/// The highest level a tile path may name (c2sp.org/tlog-tiles).
pub const MAX_LEVEL: u8 = 63;

/// Why a path is not a tile's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilePathError {
    #[error(
        "`{0}` is not a tlog-tiles path: hash tiles are at tile/<L>/<N>[.p/<W>], entry bundles at \
         tile/entries/<N>[.p/<W>]"
    )]
    NotTile(String),
    #[error("the level `{0}` must be a number from 0 to 63, written without leading zeros")]
    Level(String),
    #[error(
        "`{0}` is not a tile index: N is written in groups of three digits, all but the last \
         prefixed `x` (1234067 is x001/x234/067)"
    )]
    Index(String),
    #[error(
        "`{0}` is not how its index is written: no leading group is x000 (index 1 is 001, 1000 \
         is x001/000)"
    )]
    LeadingZeros(String),
    #[error(
        "the width `{0}` must be a number from 1 to 255, written without leading zeros (a full \
         tile has no .p/ suffix)"
    )]
    Width(String),
    #[error("the tile index `{0}` is larger than any tree holds")]
    TooLarge(String),
}

/// The tile a path (`tile/…`, without a leading `/`) names, if it is written exactly as
/// `TileId::path` writes it.
pub fn parse_tile_path(path: &str) -> Result<TileId, TilePathError> {
    let not_tile = || TilePathError::NotTile(path.to_owned());
    let (level, rest) = path
        .strip_prefix("tile/")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(not_tile)?;
    let level = match level {
        "entries" => None,
        l => Some(parse_level(l)?),
    };
    let (index, width) = parse_tile_suffix(rest)?;
    Ok(TileId {
        level,
        index,
        width,
    })
}

/// A level: a decimal number from 0 to `MAX_LEVEL` without leading zeros.
pub fn parse_level(raw: &str) -> Result<u8, TilePathError> {
    decimal_in(raw, 0, u64::from(MAX_LEVEL))
        .and_then(|l| u8::try_from(l).ok())
        .ok_or_else(|| TilePathError::Level(raw.to_owned()))
}

/// `N[.p/W]`: the tile's index and width (256 for a full tile).
pub fn parse_tile_suffix(raw: &str) -> Result<(u64, u16), TilePathError> {
    let (n, width) = match raw.split_once(".p/") {
        Some((n, w)) => {
            let width = decimal_in(w, 1, TILE_WIDTH - 1)
                .and_then(|w| u16::try_from(w).ok())
                .ok_or_else(|| TilePathError::Width(w.to_owned()))?;
            (n, width)
        }
        None => (raw, TILE_WIDTH as u16),
    };
    let groups: Vec<&str> = n.split('/').collect();
    let three_digits = |g: &str| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit());
    let (last, leading) = groups
        .split_last()
        .ok_or_else(|| TilePathError::Index(n.to_owned()))?;
    let well_formed = three_digits(last)
        && leading
            .iter()
            .all(|g| g.strip_prefix('x').is_some_and(three_digits));
    if !well_formed {
        return Err(TilePathError::Index(n.to_owned()));
    }
    if leading.first() == Some(&"x000") {
        return Err(TilePathError::LeadingZeros(n.to_owned()));
    }
    let mut index = 0u64;
    for group in groups {
        let digits = group.trim_start_matches('x');
        let value: u64 = digits
            .parse()
            .map_err(|_| TilePathError::Index(n.to_owned()))?;
        index = index
            .checked_mul(1000)
            .and_then(|i| i.checked_add(value))
            .ok_or_else(|| TilePathError::TooLarge(n.to_owned()))?;
    }
    Ok((index, width))
}

/// A decimal number in `min..=max`: digits only, no leading zero.
fn decimal_in(raw: &str, min: u64, max: u64) -> Option<u64> {
    let digits = !raw.is_empty() && raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit());
    if !digits || (raw.len() > 1 && raw.starts_with('0')) {
        return None;
    }
    raw.parse().ok().filter(|n| (min..=max).contains(n))
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

#[cfg(test)]
mod path_tests {
    use super::*;
    use proptest::prelude::*;

    fn t(level: Option<u8>, index: u64, width: u16) -> TileId {
        TileId {
            level,
            index,
            width,
        }
    }

    #[test]
    fn tile_paths_are_parsed_strictly() {
        use TilePathError as E;
        let s = |x: &str| x.to_owned();
        // (path, what it is taken for, or why it is refused)
        let cases: Vec<(&str, Result<TileId, TilePathError>)> = vec![
            ("tile/0/000", Ok(t(Some(0), 0, 256))),
            ("tile/0/001", Ok(t(Some(0), 1, 256))),
            ("tile/63/999", Ok(t(Some(63), 999, 256))),
            ("tile/0/x001/000", Ok(t(Some(0), 1000, 256))),
            ("tile/0/x001/234", Ok(t(Some(0), 1234, 256))),
            ("tile/2/x001/x234/067.p/8", Ok(t(Some(2), 1_234_067, 8))),
            ("tile/0/x001/x000/000", Ok(t(Some(0), 1_000_000, 256))),
            ("tile/entries/005", Ok(t(None, 5, 256))),
            ("tile/entries/005.p/1", Ok(t(None, 5, 1))),
            ("tile/entries/005.p/255", Ok(t(None, 5, 255))),
            (
                "tile/0/x018/x446/x744/x073/x709/x551/615",
                Ok(t(Some(0), u64::MAX, 256)),
            ),
            // Indexes past every tree: well-formed, not found.
            (
                "tile/0/x018/x446/x744/x073/x709/x551/616",
                Err(E::TooLarge(s("x018/x446/x744/x073/x709/x551/616"))),
            ),
            (
                "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
                Err(E::TooLarge(s("x001/x000/x000/x000/x000/x000/x000/000"))),
            ),
            // Not the canonical spelling.
            ("tile/0/1", Err(E::Index(s("1")))),
            ("tile/0/01", Err(E::Index(s("01")))),
            ("tile/0/0001", Err(E::Index(s("0001")))),
            ("tile/0/x000/001", Err(E::LeadingZeros(s("x000/001")))),
            (
                "tile/0/x000/x001/001",
                Err(E::LeadingZeros(s("x000/x001/001"))),
            ),
            ("tile/0/001/000", Err(E::Index(s("001/000")))),
            ("tile/0/x001/x000", Err(E::Index(s("x001/x000")))),
            ("tile/0/X001/000", Err(E::Index(s("X001/000")))),
            ("tile/0/x1/000", Err(E::Index(s("x1/000")))),
            ("tile/0/000/", Err(E::Index(s("000/")))),
            ("tile/0//000", Err(E::Index(s("/000")))),
            ("tile/0/", Err(E::Index(s("")))),
            ("tile/0/+01", Err(E::Index(s("+01")))),
            ("tile/0/x001%2F000", Err(E::Index(s("x001%2F000")))),
            ("tile/0/%30%30%30", Err(E::Index(s("%30%30%30")))),
            ("tile/0/000.p/0", Err(E::Width(s("0")))),
            ("tile/0/000.p/256", Err(E::Width(s("256")))),
            ("tile/0/000.p/08", Err(E::Width(s("08")))),
            ("tile/0/000.p/", Err(E::Width(s("")))),
            ("tile/0/000.p/8/", Err(E::Width(s("8/")))),
            ("tile/0/000.p/1.p/2", Err(E::Width(s("1.p/2")))),
            ("tile/0/000.p8", Err(E::Index(s("000.p8")))),
            ("tile/00/000", Err(E::Level(s("00")))),
            ("tile/64/000", Err(E::Level(s("64")))),
            ("tile/-1/000", Err(E::Level(s("-1")))),
            ("tile/entry/000", Err(E::Level(s("entry")))),
            ("tile/0", Err(E::NotTile(s("tile/0")))),
            ("tiles/0/000", Err(E::NotTile(s("tiles/0/000")))),
            ("/tile/0/000", Err(E::NotTile(s("/tile/0/000")))),
        ];
        for (path, want) in cases {
            assert_eq!(parse_tile_path(path), want, "{path}");
        }
        let e = parse_tile_path("tile/0/1").expect_err("refused");
        assert!(e.to_string().contains("groups of three digits"), "{e}");
    }

    fn any_tile() -> impl Strategy<Value = TileId> {
        (
            prop_oneof![Just(None), (0..=MAX_LEVEL).prop_map(Some)],
            prop_oneof![0u64..5000, any::<u64>()],
            1u16..=256,
        )
            .prop_map(|(level, index, width)| t(level, index, width))
    }

    /// A tile's path with one character inserted, removed or replaced.
    fn near_miss() -> impl Strategy<Value = String> {
        let alphabet = vec!['0', '1', '5', '9', 'x', '/', '.', 'p', '%'];
        (
            any_tile(),
            any::<prop::sample::Index>(),
            0u8..3,
            prop::sample::select(alphabet),
        )
            .prop_map(|(tile, at, edit, c)| {
                let mut path: Vec<char> = tile.path().chars().collect();
                let i = at.index(path.len());
                match edit {
                    0 => path.insert(i, c),
                    1 => {
                        path.remove(i);
                    }
                    _ => path[i] = c,
                }
                path.into_iter().collect()
            })
    }

    /// Paths spelled from parts, canonical or one step off, and whether a reader of the spec
    /// takes each part: a level from 0 to 63 without leading zeros, groups of `x` and three
    /// digits (the first not `x000`), a last group of three digits, a width from 1 to 255.
    fn spelled() -> impl Strategy<Value = (String, bool)> {
        use prop::sample::select;
        let level = select(vec![
            ("entries", true),
            ("0", true),
            ("9", true),
            ("63", true),
            ("64", false),
            ("00", false),
            ("07", false),
            ("entry", false),
        ]);
        let group = select(vec![
            ("x000", true),
            ("x001", true),
            ("x999", true),
            ("x01", false),
            ("x0001", false),
            ("001", false),
        ]);
        let last = select(vec![
            ("000", true),
            ("001", true),
            ("999", true),
            ("01", false),
            ("0001", false),
            ("x001", false),
        ]);
        let width = select(vec![
            ("", true),
            (".p/1", true),
            (".p/99", true),
            (".p/255", true),
            (".p/256", false),
            (".p/0", false),
            (".p/01", false),
            (".p/", false),
        ]);
        (level, prop::collection::vec(group, 0..5), last, width).prop_map(
            |(level, groups, last, width)| {
                let ok = level.1
                    && groups.iter().all(|g| g.1)
                    && groups.first().is_none_or(|g| g.0 != "x000")
                    && last.1
                    && width.1;
                let groups: String = groups.iter().map(|g| format!("{}/", g.0)).collect();
                (
                    format!("tile/{}/{groups}{}{}", level.0, last.0, width.0),
                    ok,
                )
            },
        )
    }

    proptest! {
        /// Against the reference reading above (at most five groups: no index overflows).
        #[test]
        fn paths_are_taken_exactly_when_every_part_is_canonical((path, ok) in spelled()) {
            let parsed = parse_tile_path(&path);
            prop_assert_eq!(parsed.is_ok(), ok, "{} {:?}", path, parsed);
            if let Ok(tile) = parsed {
                prop_assert_eq!(tile.path(), path);
            }
        }

        #[test]
        fn a_tiles_path_parses_back_to_it(tile in any_tile()) {
            prop_assert_eq!(parse_tile_path(&tile.path()), Ok(tile));
        }

        /// One spelling per tile: a path one edit away from a tile's (a character inserted,
        /// removed or replaced), when it is taken, is written back exactly as it was given.
        #[test]
        fn only_canonical_paths_are_taken(path in near_miss()) {
            if let Ok(tile) = parse_tile_path(&path) {
                prop_assert_eq!(tile.path(), path);
            }
        }
    }
}
