//! The log served as c2sp.org/tlog-tiles, beside the API: `/checkpoint` (the latest signed
//! checkpoint), hash tiles `/tile/<L>/<N>[.p/<W>]` and entry bundles `/tile/entries/<N>[.p/<W>]`,
//! their bytes made by `crate::tiles::tile_bytes`, the function `tiles export` writes files with.
//!
//! Paths are parsed strictly, from the request's raw path (no percent-decoding: `%2F` is not
//! `/`): a path that is not the one canonical spelling of a tile (`tile/0/1`, a leading `x000`
//! group, a width of 0 or of 256 and more, a level over 63) is a 400; a well-formed tile the
//! latest checkpoint's tree does not have (past its end, wider than it, an index no tree holds)
//! is a 404. A partial tile narrower than the tree has at its place is served: it is a prefix of
//! the stored tile, the bytes a checkpoint of that smaller size published.
//!
//! Caching as the spec asks: a tile's path names bytes that never change (a full tile is fixed
//! once the tree has it; a partial `.p/W` is the first W hashes of it), so every tile and bundle
//! is `max-age=31536000, immutable`; the checkpoint changes with every batch and is `no-cache`.
//!
//! The routes are public by design (`[serve] tiles = "public"`): a tile reveals what a proof
//! bundle reveals, the log's entries and hashes. `tiles = "auditor"` puts them behind the
//! auditor role (answers are then `private` to caches); `tiles = "off"` answers 404.

use super::access::{Need, Work};
use super::failures::{error, internal};
use super::{ServerState, blocking, query_error};
use crate::tiles::{TilesError, tile_bytes};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use idledger_proto::tiles::{TILE_WIDTH, TileId};
use std::sync::Arc;

/// Who may read the tlog-tiles routes (`[serve] tiles`, `--tiles`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TileAccess {
    /// Anyone, without a credential.
    #[default]
    Public,
    /// Auditors and admins, as `/v1/checkpoint` and `/v1/entries` are.
    Auditor,
    /// Nobody: the routes answer 404.
    Off,
}

impl TileAccess {
    pub const CHOICES: [&'static str; 3] = ["public", "auditor", "off"];

    pub fn as_str(self) -> &'static str {
        match self {
            TileAccess::Public => "public",
            TileAccess::Auditor => "auditor",
            TileAccess::Off => "off",
        }
    }

    /// The role the routes need (`None`: open to anyone), or `None` outside when they are off.
    pub(crate) fn need(self) -> Option<Option<Need>> {
        match self {
            TileAccess::Public => Some(None),
            TileAccess::Auditor => Some(Some(Need::Auditor)),
            TileAccess::Off => None,
        }
    }

    /// `Cache-Control` for a tile or bundle (`immutable`) or for the checkpoint. Answers to
    /// readers with a credential are `private`, so that no shared cache hands them to others.
    fn cache_control(self, immutable: bool) -> HeaderValue {
        HeaderValue::from_static(match (self, immutable) {
            (TileAccess::Auditor, true) => PRIVATE_IMMUTABLE,
            (_, true) => PUBLIC_IMMUTABLE,
            (TileAccess::Auditor, false) => "private, no-cache",
            (_, false) => "no-cache",
        })
    }
}

const PUBLIC_IMMUTABLE: &str = "public, max-age=31536000, immutable";
const PRIVATE_IMMUTABLE: &str = "private, max-age=31536000, immutable";

impl std::fmt::Display for TileAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TileAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<TileAccess, String> {
        match s {
            "public" => Ok(TileAccess::Public),
            "auditor" => Ok(TileAccess::Auditor),
            "off" => Ok(TileAccess::Off),
            _ => Err(format!(
                "`{s}` is not a tiles setting; give one of {}",
                TileAccess::CHOICES.join(", ")
            )),
        }
    }
}

/// The pattern of a tile parameter (`N[.p/W]`) in the OpenAPI document, kept beside
/// `parse_tile_suffix`, which refuses the same (no leading `x000` group, W of 1 to 255).
pub(crate) const TILE_PATTERN: &str = "^((x00[1-9]|x0[1-9][0-9]|x[1-9][0-9]{2})/(x[0-9]{3}/)*)?[0-9]{3}(\\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$";

/// The highest level a tile path may name (c2sp.org/tlog-tiles).
pub(crate) const MAX_LEVEL: u8 = 63;

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

impl TilePathError {
    /// A malformed path is a 400; a well-formed index past every tree is not found, as any tile
    /// past the tree's end is.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            TilePathError::TooLarge(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
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
pub(crate) fn parse_level(raw: &str) -> Result<u8, TilePathError> {
    canonical_decimal(raw, 0, u64::from(MAX_LEVEL))
        .and_then(|l| u8::try_from(l).ok())
        .ok_or_else(|| TilePathError::Level(raw.to_owned()))
}

/// `N[.p/W]`: the tile's index and width (256 for a full tile).
pub(crate) fn parse_tile_suffix(raw: &str) -> Result<(u64, u16), TilePathError> {
    let (n, width) = match raw.split_once(".p/") {
        Some((n, w)) => {
            let width = canonical_decimal(w, 1, TILE_WIDTH - 1)
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
fn canonical_decimal(raw: &str, min: u64, max: u64) -> Option<u64> {
    let digits = !raw.is_empty() && raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit());
    if !digits || (raw.len() > 1 && raw.starts_with('0')) {
        return None;
    }
    raw.parse().ok().filter(|n| (min..=max).contains(n))
}

/// `GET /checkpoint`: the latest signed checkpoint, as stored.
pub(crate) async fn checkpoint(
    State(s): State<Arc<ServerState>>,
    Extension(w): Extension<Work>,
) -> Response {
    blocking(w, move || match s.ledger.reader().latest_checkpoint() {
        Ok((_, note)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, s.tiles.cache_control(false)),
            ],
            note,
        )
            .into_response(),
        Err(e) => query_error(e.into()),
    })
    .await
}

/// `GET /tile/…`: a hash tile or an entry bundle of the latest checkpoint's tree.
pub(crate) async fn tile(
    State(s): State<Arc<ServerState>>,
    Extension(w): Extension<Work>,
    uri: Uri,
) -> Response {
    // The gate checked the decoded parameters; the raw path is what must be canonical.
    let raw = uri.path();
    let tile = match parse_tile_path(raw.strip_prefix('/').unwrap_or(raw)) {
        Ok(t) => t,
        Err(e) => return error(e.status(), e.to_string()),
    };
    blocking(w, move || {
        let reader = s.ledger.reader();
        let bytes = reader
            .latest_checkpoint()
            .map_err(TilesError::from)
            .and_then(|(size, _)| tile_bytes(&reader, size.0, &tile));
        match bytes {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    ),
                    (header::CACHE_CONTROL, s.tiles.cache_control(true)),
                ],
                bytes,
            )
                .into_response(),
            Err(e @ TilesError::NotInTree { .. }) => {
                // Found once the tree grows: no cache may keep the refusal.
                let mut r = error(StatusCode::NOT_FOUND, e.to_string());
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                r
            }
            Err(TilesError::Read(e)) => query_error(e.into()),
            Err(e) => internal(e.to_string()),
        }
    })
    .await
}

/// Every tlog-tiles route when `[serve] tiles = "off"`.
pub(crate) async fn turned_off() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "this server does not serve the log as tlog-tiles ([serve] tiles = \"off\")",
    )
}

#[cfg(test)]
mod tests {
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
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
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
