//! The API's routes, listed once: for each its path, who may read it, what it costs, its
//! parameters and what it answers. The router serves exactly these and the OpenAPI document
//! describes exactly these, the c2sp.org/tlog-tiles routes (`tiles`) among them.

use super::access::Need;
use super::limits::PAGE_MAX;
use super::params::{In, Kind, Param};
use crate::reports::{MAX_MAX_AGE_DAYS, MIN_MAX_AGE_DAYS};
use idledger_proto::tiles::MAX_LEVEL;

/// Which handler answers a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Checkpoint,
    Entry,
    /// The export stream of a range of entries, or following the log.
    Entries,
    Consistency,
    History,
    Grant,
    Access,
    Report,
    Metrics,
    Healthz,
    OpenApi,
    /// tlog-tiles: `/checkpoint`.
    TlogCheckpoint,
    /// tlog-tiles: a hash tile.
    HashTile,
    /// tlog-tiles: an entry bundle.
    EntryBundle,
}

/// Who may read a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone, without a credential.
    Open,
    /// A holder whose role meets the need.
    Role(Need),
    /// As `[serve] tiles` says (`TileAccess`): anyone, auditors and admins, or nobody (404).
    Tiles,
}

/// What answering a route costs the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cost {
    /// Ledger work of any size: one of `max_concurrent_reads` permits, or a 503.
    Ledger,
    /// A cheap ledger read: one of `LIGHT_READS` permits, or a 503.
    Light,
    /// Nothing from the ledger.
    Free,
}

/// What a route answers with on success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// JSON, of the named schema in the document's components.
    Json(&'static str),
    /// Text of this content type.
    Text(&'static str),
    /// Bytes (`application/octet-stream`).
    Bytes,
    /// An export stream: NDJSON (CEF lines as `text/plain`), or server-sent events when the
    /// request accepts `text/event-stream`.
    Stream,
}

/// One route.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub access: Access,
    pub cost: Cost,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub answer: Answer,
}

impl Route {
    /// The path as the router matches it. The document writes a tile's `N[.p/W]` as one
    /// parameter, as OpenAPI does; it spans path segments, so the router takes it as a
    /// catch-all.
    pub(crate) fn router_path(&self) -> String {
        let mut path = self.path.to_owned();
        for p in self.params.iter().filter(|p| p.kind == Kind::Tile) {
            path = path.replace(&format!("{{{}}}", p.name), &format!("{{*{}}}", p.name));
        }
        path
    }
}

const fn path(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param {
        name,
        at: In::Path,
        required: true,
        kind,
        description,
        example: None,
        repeatable: false,
    }
}

const fn query(name: &'static str, required: bool, kind: Kind, description: &'static str) -> Param {
    Param {
        name,
        at: In::Query,
        required,
        kind,
        description,
        example: None,
        repeatable: false,
    }
}

const PROOFS: Param = query(
    "proofs",
    false,
    Kind::Flag,
    "add a proof bundle (idledger-proof-bundle@v1) under `proofs`",
);
const NOW: Param = query(
    "now",
    false,
    Kind::Time,
    "judge expiries as of this time instead of the current time",
);
const ANY_U64: Kind = Kind::Integer {
    min: 0,
    max: u64::MAX,
};
/// A tree size a consistency proof can start or end at (RFC 9162: not the empty tree).
const TREE_SIZE: Kind = Kind::Integer {
    min: 1,
    max: u64::MAX,
};

const TILE_LEVEL: Param = path(
    "level",
    Kind::Integer {
        min: 0,
        max: MAX_LEVEL as u64,
    },
    "L, the tile's level (its hashes are the tree's level-8·L hashes), without leading zeros; a level the tree does not reach is not found",
)
.example("0");
const TILE: Param = path(
    "tile",
    Kind::Tile,
    "N, the tile's index within its level, in groups of three digits, all but the last prefixed `x` (1234067 is `x001/x234/067`, literal slashes); then `.p/W` for a partial tile of W (1 to 255). Wider than the latest checkpoint's tree has there, or past its end: not found. Narrower: the prefix, as a smaller checkpoint published it",
)
.example("000");

/// An entry's index, as a stream's bounds give it.
const INDEX: Kind = ANY_U64;

/// Every route the API serves.
pub(crate) const ROUTES: &[Route] = &[
    Route {
        path: "/v1/checkpoint",
        endpoint: Endpoint::Checkpoint,
        access: Access::Role(Need::Auditor),
        cost: Cost::Ledger,
        summary: "The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)",
        params: &[],
        answer: Answer::Text("text/plain; charset=utf-8"),
    },
    Route {
        path: "/v1/entries/{index}",
        endpoint: Endpoint::Entry,
        access: Access::Role(Need::Auditor),
        cost: Cost::Ledger,
        summary: "An entry, its leaf bytes and a C2SP tlog-proof",
        params: &[path("index", ANY_U64, "the entry's index").example("1")],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/v1/entries",
        endpoint: Endpoint::Entries,
        access: Access::Role(Need::Responder),
        cost: Cost::Ledger,
        summary: "Entries as the export stream `idledger export` writes (docs/EXPORT.md): a range, or following the log as checkpoints cover new entries; NDJSON, or server-sent events with `Accept: text/event-stream`",
        params: &[
            query(
                "from",
                true,
                INDEX,
                "the first index; a `Last-Event-ID` header (a reconnecting event stream's) takes its place. Without `follow`, a checkpoint must cover entries from it (404 otherwise); with `follow`, it may be at most the latest checkpoint's size (404 past it)",
            )
            .example("0"),
            query(
                "to",
                false,
                INDEX,
                "stop before this index, rounded down to a checkpoint's size; at or below `from` there is nothing to send (404)",
            ),
            query(
                "follow",
                false,
                Kind::Flag,
                "after the range, keep sending each new checkpoint's entries and that checkpoint until the client goes away (or `to` is reached)",
            ),
            query(
                "proofs",
                false,
                Kind::Flag,
                "every entry line carries its inclusion proof (always, with a filter)",
            ),
            query(
                "format",
                false,
                Kind::ExportFormat,
                "how entries are written: `native` (the default), `ocsf` or `cef` (docs/EXPORT.md)",
            ),
            query(
                "type",
                false,
                Kind::EventType,
                "keep entries of this event type (repeatable)",
            )
            .repeatable(),
            query(
                "source",
                false,
                Kind::Identifier,
                "keep entries from this source (repeatable)",
            )
            .repeatable(),
            query(
                "subject",
                false,
                Kind::Identifier,
                "keep entries about this subject id (repeatable)",
            )
            .repeatable(),
            query(
                "kind",
                false,
                Kind::OneOf(&["human", "non-human"]),
                "keep entries whose subject is human, or is not",
            ),
            query(
                "quarantined",
                false,
                Kind::Flag,
                "`true`: keep only quarantined entries; `false`: leave them out",
            ),
        ],
        answer: Answer::Stream,
    },
    Route {
        path: "/v1/proof/consistency",
        endpoint: Endpoint::Consistency,
        access: Access::Role(Need::Auditor),
        cost: Cost::Ledger,
        summary: "An RFC 9162 consistency proof between two tree sizes",
        params: &[
            query("from", true, TREE_SIZE, "the smaller tree size").example("1"),
            query(
                "to",
                false,
                TREE_SIZE,
                "the larger tree size (default: the latest checkpoint's); sizes past the latest checkpoint, or below `from`, have no proof (404)",
            ),
        ],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/v1/identities/{id}/history",
        endpoint: Endpoint::History,
        access: Access::Role(Need::Responder),
        cost: Cost::Ledger,
        summary: "Every entry about an identity, with the back-link gap check",
        params: &[
            path("id", Kind::Text, "the identity's id").example("alice@example.com"),
            PROOFS,
        ],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/v1/grants/{id}",
        endpoint: Endpoint::Grant,
        access: Access::Role(Need::Responder),
        cost: Cost::Ledger,
        summary: "A grant episode: who approved, why, when access ended",
        params: &[
            path("id", Kind::Text, "the grant's id").example("g-alice-prod-db"),
            PROOFS,
            NOW,
        ],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/v1/access",
        endpoint: Endpoint::Access,
        access: Access::Role(Need::Responder),
        cost: Cost::Ledger,
        summary: "Who had access to a resource at a time",
        params: &[
            query("resource", true, Kind::Text, "the entitlement").example("prod-db:read"),
            query("at", true, Kind::Time, "the time asked about").example("2026-01-08T10:00:00Z"),
            PROOFS,
            NOW,
        ],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/v1/reports/{name}",
        endpoint: Endpoint::Report,
        access: Access::Role(Need::Auditor),
        cost: Cost::Ledger,
        summary: "A governance report (lead-time, approvals, rotation, drift or exceptions), a page at a time",
        params: &[
            path("name", Kind::Report, "the report").example("rotation"),
            query(
                "group_by",
                false,
                Kind::Text,
                "the attribute of the grant or identity to group by",
            ),
            query(
                "now",
                false,
                Kind::Time,
                "judge expiries and ages as of this time instead of the current time",
            ),
            query(
                "max_age_days",
                false,
                Kind::Integer {
                    min: MIN_MAX_AGE_DAYS,
                    max: MAX_MAX_AGE_DAYS,
                },
                "rotation: credentials unchanged for longer than this many days are flagged (default 90)",
            ),
            query(
                "limit",
                false,
                Kind::Integer {
                    min: 1,
                    max: PAGE_MAX,
                },
                "the most rows (items, or groups without items) on this page (default 1000)",
            ),
            query(
                "cursor",
                false,
                Kind::Cursor,
                "where the page starts: `0` (the default) or the `next_cursor` of the page before, asked for with the same `now`",
            ),
        ],
        answer: Answer::Json("ReportPage"),
    },
    Route {
        path: "/metrics",
        endpoint: Endpoint::Metrics,
        access: Access::Role(Need::Admin),
        cost: Cost::Light,
        summary: "Prometheus metrics",
        params: &[],
        answer: Answer::Text("text/plain; version=0.0.4"),
    },
    Route {
        path: "/healthz",
        endpoint: Endpoint::Healthz,
        access: Access::Open,
        cost: Cost::Light,
        summary: "Liveness and tree size",
        params: &[],
        answer: Answer::Json("Health"),
    },
    Route {
        path: "/openapi.json",
        endpoint: Endpoint::OpenApi,
        access: Access::Open,
        cost: Cost::Free,
        summary: "This document",
        params: &[],
        answer: Answer::Json("Object"),
    },
    Route {
        path: "/checkpoint",
        endpoint: Endpoint::TlogCheckpoint,
        access: Access::Tiles,
        cost: Cost::Ledger,
        summary: "c2sp.org/tlog-tiles: the latest signed checkpoint",
        params: &[],
        answer: Answer::Text("text/plain; charset=utf-8"),
    },
    Route {
        path: "/tile/{level}/{tile}",
        endpoint: Endpoint::HashTile,
        access: Access::Tiles,
        cost: Cost::Ledger,
        summary: "c2sp.org/tlog-tiles: a hash tile, 32-byte hashes (256 in a full tile)",
        params: &[TILE_LEVEL, TILE],
        answer: Answer::Bytes,
    },
    Route {
        path: "/tile/entries/{tile}",
        endpoint: Endpoint::EntryBundle,
        access: Access::Tiles,
        cost: Cost::Ledger,
        summary: "c2sp.org/tlog-tiles: an entry bundle, each entry (a leaf's bytes) after its length as a big-endian u16",
        params: &[TILE],
        answer: Answer::Bytes,
    },
];

/// The default age limit of the rotation report, in days.
pub(crate) const DEFAULT_MAX_AGE_DAYS: u64 = 90;
