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
use idledger_proto::tiles::{TilePathError, parse_tile_path};
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

/// A malformed path is a 400; a well-formed index past every tree is not found, as any tile
/// past the tree's end is.
pub(crate) fn path_error_status(e: &TilePathError) -> StatusCode {
    match e {
        TilePathError::TooLarge(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `GET /checkpoint`: the latest signed checkpoint, as stored.
pub(crate) async fn checkpoint(
    State(s): State<Arc<ServerState>>,
    Extension(w): Extension<Work>,
) -> Response {
    blocking(w, move || {
        match s.ledger.current().reader().latest_checkpoint_cosigned() {
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
        }
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
        Err(e) => return error(path_error_status(&e), e.to_string()),
    };
    blocking(w, move || {
        let ledger = s.ledger.current();
        let reader = ledger.reader();
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

    #[test]
    fn a_malformed_path_is_a_400_and_an_index_past_every_tree_a_404() {
        let e = parse_tile_path("tile/0/1").expect_err("refused");
        assert_eq!(path_error_status(&e), StatusCode::BAD_REQUEST);
        let e = parse_tile_path("tile/0/x999/x999/x999/x999/x999/x999/999").expect_err("refused");
        assert_eq!(path_error_status(&e), StatusCode::NOT_FOUND);
    }
}
