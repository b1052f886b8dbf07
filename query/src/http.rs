//! The read-only HTTP API (axum): checkpoints, entries with proofs, consistency proofs,
//! histories, grants, access at a time and reports, behind bearer tokens mapped to roles, with a
//! structured access record for every read; over TLS (`tls`) when configured, with client
//! certificates mapped to roles as tokens are (`clients`). Beside it, the log as
//! c2sp.org/tlog-tiles (`tiles`): public unless `[serve] tiles` says otherwise. Entries also go
//! out as the export stream, a range or following the log (`entries_stream`, with the streams'
//! shared state in `streams` and their bounded way to the client in `stream_body`).
//!
//! Routes are listed once (`routes::ROUTES`), with their parameters; the router and the OpenAPI
//! document are both made from that list. Each route's gate (`access`) authorizes, checks
//! parameters, bounds ledger work and times the request; `server` owns the connections and their
//! timeouts; `failures` keeps internal details out of answers.
#![allow(
    clippy::result_large_err,
    reason = "parameter and token checks return the refusing `Response` itself, axum's idiom for early answers"
)]

mod access;
pub mod clients;
mod entries_stream;
mod failures;
pub mod limits;
mod openapi;
mod params;
mod routes;
pub mod server;
mod stream_body;
mod streams;
#[cfg(test)]
mod tests;
mod tiles;
pub mod tls;

pub use access::{Role, Token};
pub use clients::ClientRule;
pub use idledger_proto::tiles::{TilePathError, parse_tile_path};
pub use limits::Limits;
pub use openapi::openapi_document;
pub use tiles::TileAccess;

use crate::answers::{self, QueryError};
use crate::projections::Projections;
use crate::reports::{self, ReportOptions};
use access::{RouteGate, Work};
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use failures::{error, internal};
use idledger_ledger::{FollowedLedger, Refreshed};
use idledger_proto::prometheus::Exposition;
use idledger_proto::{Seq, Timestamp, TreeSize};
use params::Args;
use routes::{Access, DEFAULT_MAX_AGE_DAYS, Endpoint, ROUTES};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

/// How often a server catches up with a running writer, at most.
const REFRESH_INTERVAL: Duration = Duration::from_millis(200);

pub struct ServerState {
    /// The ledger, read through a secondary that is replaced when found stale.
    ledger: FollowedLedger,
    tokens: Vec<Token>,
    /// Client certificate subjects mapped to roles (mutual TLS); no two overlap.
    clients: Vec<ClientRule>,
    /// Who may read the tlog-tiles routes.
    tiles: TileAccess,
    limits: Limits,
    last_refresh: Mutex<Instant>,
    /// Caught up by one report at a time; read by any number at once.
    projections: RwLock<Projections>,
    /// Permits for ledger work (`max_concurrent_reads`).
    ledger_work: Arc<Semaphore>,
    /// Permits for cheap ledger reads (health, metrics).
    light_work: Arc<Semaphore>,
    reads: AtomicU64,
    denied: AtomicU64,
    busy: AtomicU64,
    /// The entry streams (`/v1/entries`).
    streams: streams::Streams,
    #[cfg(test)]
    hooks: tests::Hooks,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("tokens", &self.tokens.len())
            .field("clients", &self.clients.len())
            .field("tiles", &self.tiles)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ServerState {
    pub fn new(ledger: FollowedLedger, tokens: Vec<Token>, limits: Limits) -> Arc<ServerState> {
        ServerState::with_clients(ledger, tokens, Vec::new(), TileAccess::Public, limits)
    }

    /// A server that also recognizes client certificates by `clients`' rules (which the caller
    /// has checked do not overlap: the first that matches applies), and serves the tlog-tiles
    /// routes as `tiles` says.
    pub fn with_clients(
        ledger: FollowedLedger,
        tokens: Vec<Token>,
        clients: Vec<ClientRule>,
        tiles: TileAccess,
        limits: Limits,
    ) -> Arc<ServerState> {
        Arc::new(ServerState {
            ledger,
            tokens,
            clients,
            tiles,
            last_refresh: Mutex::new(Instant::now()),
            projections: RwLock::new(Projections::default()),
            ledger_work: Arc::new(Semaphore::new(limits.max_concurrent_reads)),
            light_work: Arc::new(Semaphore::new(limits::LIGHT_READS)),
            streams: streams::Streams::new(limits.max_followers, limits::STREAM_READS),
            limits,
            reads: 0.into(),
            denied: 0.into(),
            busy: 0.into(),
            #[cfg(test)]
            hooks: tests::Hooks::default(),
        })
    }

    /// Whether catching up with a running writer is due (at most every 200 ms). Not while
    /// another request or the streams' watcher is catching up: this runs on the async runtime,
    /// which must not wait for that.
    fn refresh_due(&self) -> bool {
        match self.last_refresh.try_lock() {
            Ok(last) => last.elapsed() >= REFRESH_INTERVAL,
            Err(std::sync::TryLockError::Poisoned(e)) => {
                e.into_inner().elapsed() >= REFRESH_INTERVAL
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// Catches up with a running writer, at most every 200 ms.
    fn refresh(&self) {
        let mut last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= REFRESH_INTERVAL {
            self.catch_up();
            *last = Instant::now();
        }
    }

    /// Catches up with the writer, replacing a stale secondary (`FollowedLedger`).
    fn catch_up(&self) {
        match self.ledger.refresh() {
            Ok(Refreshed::CaughtUp) => {}
            Ok(Refreshed::Reopened {
                stale_size,
                checkpoint,
            }) => tracing::info!(
                stale_size,
                checkpoint,
                reopened = self.ledger.reopened(),
                "the reader saw a tree size below the latest checkpoint: reopened it"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot catch up with the writer"),
        }
    }

    /// Catches up with a running writer now (the streams' watcher, which runs every 200 ms).
    fn refresh_now(&self) {
        let mut last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up();
        *last = Instant::now();
    }

    /// The `/metrics` answer: this server's counters and the ledger's size, in the Prometheus
    /// text format.
    fn metrics_text(&self, tree_size: u64) -> String {
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let held = self.streams.held();
        let mut out = Exposition::new();
        out.counter(
            "idledger_http_reads_total",
            "Authorized reads served.",
            count(&self.reads),
        )
        .counter(
            "idledger_http_denied_total",
            "Requests refused (401/403).",
            count(&self.denied),
        )
        .counter(
            "idledger_http_busy_total",
            "Requests refused because as many were in flight as allowed (503).",
            count(&self.busy),
        )
        .gauge("idledger_tree_size", "Entries in the ledger.", tree_size)
        .gauge(
            "idledger_http_streams",
            "Entry streams (/v1/entries) being produced.",
            held.streams,
        )
        .gauge(
            "idledger_http_stream_held_bytes",
            "Bytes held for entry streams' clients: queued for them, or in a round being queued.",
            held.bytes,
        )
        .gauge(
            "idledger_http_stream_held_bytes_max",
            "The most bytes held for any one entry stream's client.",
            held.max_bytes,
        )
        .counter(
            "idledger_http_streams_refused_total",
            "Entry streams refused because as many were open as allowed (503).",
            count(&self.streams.refused),
        )
        .counter(
            "idledger_http_streams_stalled_total",
            "Entry streams ended with a resume record because the client took nothing for the stall timeout.",
            count(&self.streams.cut_stalled),
        )
        .counter(
            "idledger_http_streams_lagging_total",
            "Entry streams ended with a resume record because the client fell too far behind.",
            count(&self.streams.cut_lagging),
        );
        out.finish()
    }

    /// Finds the token's holder, comparing in constant time against every configured token.
    fn authenticate(&self, presented: &[u8]) -> Option<&Token> {
        let mut found = None;
        for t in &self.tokens {
            let same_len = t.secret.len() == presented.len();
            let eq = if same_len {
                bool::from(t.secret.ct_eq(presented))
            } else {
                false
            };
            if eq && found.is_none() {
                found = Some(t);
            }
        }
        found
    }

    /// The rule a client certificate's subject matches, if any.
    fn client_rule(&self, subject: &clients::CertSubject) -> Option<&ClientRule> {
        self.clients.iter().find(|c| c.matcher.matches(subject))
    }

    /// The projections caught up with the ledger, for reading. Catching up takes the write
    /// lock only when the ledger has grown; reports then read side by side.
    fn projections(
        &self,
        reader: &idledger_ledger::LedgerReader<'_>,
    ) -> Result<std::sync::RwLockReadGuard<'_, Projections>, QueryError> {
        let size = reader.size()?.0;
        let behind = match self.projections.read() {
            Ok(p) => p.size < size,
            Err(_) => true,
        };
        if behind {
            let mut p = match self.projections.write() {
                Ok(p) => p,
                Err(poisoned) => {
                    // A catch-up that panicked may have applied part of a chunk: start over.
                    let mut p = poisoned.into_inner();
                    *p = Projections::default();
                    self.projections.clear_poison();
                    p
                }
            };
            if p.size < size {
                p.catch_up(reader)?;
            }
        }
        Ok(self.projections.read().unwrap_or_else(|e| e.into_inner()))
    }
}

fn query_error(e: QueryError) -> Response {
    match e {
        QueryError::NotFound { .. } => error(StatusCode::NOT_FOUND, e.to_string()),
        QueryError::BadRequest(m) => error(StatusCode::BAD_REQUEST, m),
        QueryError::Read(idledger_ledger::ReadError::NoEntry(i)) => error(
            StatusCode::NOT_FOUND,
            format!("entry {i} is not in the ledger"),
        ),
        QueryError::Read(idledger_ledger::ReadError::Request(r)) => {
            error(StatusCode::BAD_REQUEST, r.to_string())
        }
        other => internal(other.to_string()),
    }
}

/// A parameter the route requires, which its gate has checked is there.
fn given<T>(value: Option<T>, name: &str) -> Result<T, Response> {
    value.ok_or_else(|| internal(format!("the gate let a request without `{name}` through")))
}

/// An answer as JSON, with the proof bundle of its entries under `proofs` when one was asked for.
fn with_proofs(
    answer: &impl serde::Serialize,
    proofs: Option<idledger_proto::bundle::ProofBundle>,
) -> Result<serde_json::Value, QueryError> {
    let encode = |e: serde_json::Error| QueryError::Encode(e.to_string());
    let mut v = serde_json::to_value(answer).map_err(encode)?;
    if let Some(bundle) = proofs {
        v["proofs"] = serde_json::to_value(bundle).map_err(encode)?;
    }
    Ok(v)
}

/// Runs blocking ledger work off the async runtime, holding the request's share of the bound
/// until the work ends.
async fn blocking<F: FnOnce() -> Response + Send + 'static>(work: Work, f: F) -> Response {
    let ran = tokio::task::spawn_blocking(move || {
        #[cfg(test)]
        if let Some(hook) = &work.hook {
            hook.pass();
        }
        let answer = f();
        drop(work);
        answer
    });
    ran.await
        .unwrap_or_else(|e| internal(format!("ledger work failed: {e}")))
}

/// Answers with JSON computed off the async runtime; errors map to their HTTP status.
async fn json_answer<F>(s: Arc<ServerState>, work: Work, f: F) -> Response
where
    F: FnOnce(&idledger_ledger::LedgerReader<'_>) -> Result<serde_json::Value, QueryError>
        + Send
        + 'static,
{
    blocking(work, move || match f(&s.ledger.current().reader()) {
        Ok(v) => Json(v).into_response(),
        Err(e) => query_error(e),
    })
    .await
}

async fn checkpoint(State(s): State<Arc<ServerState>>, Extension(w): Extension<Work>) -> Response {
    blocking(w, move || {
        match s.ledger.current().reader().latest_checkpoint_cosigned() {
            Ok((_, note)) => {
                ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
            }
            Err(e) => query_error(e.into()),
        }
    })
    .await
}

async fn entry(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let index = match given(a.integer("index"), "index") {
        Ok(i) => i,
        Err(r) => return r,
    };
    json_answer(s, w, move |r| {
        let (size, _) = r.latest_checkpoint()?;
        if index >= size.0 {
            return Err(QueryError::Read(idledger_ledger::ReadError::NoEntry(index)));
        }
        let proof = r.tlog_proof(Seq(index))?;
        let leaf = proof.extra.clone().unwrap_or_default();
        let entry = idledger_proto::Entry::decode(&leaf)
            .map_err(|source| idledger_ledger::ReadError::BadEntry { index, source })?;
        Ok(json!({
            "index": index,
            "entry": entry,
            "leaf_hex": hex::encode(&leaf),
            "leaf_hash": idledger_proto::hash::leaf_hash(&leaf).to_hex(),
            "tlog_proof": proof.to_text(),
        }))
    })
    .await
}

async fn consistency(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let (from, to) = match given(a.integer("from"), "from") {
        Ok(f) => (f, a.integer("to")),
        Err(r) => return r,
    };
    blocking(w, move || {
        let ledger = s.ledger.current();
        let r = ledger.reader();
        let (size, note) = match r.latest_checkpoint() {
            Ok(latest) => latest,
            Err(e) => return query_error(e.into()),
        };
        let to = to.unwrap_or(size.0);
        // Sizes the document allows but the ledger has no proof between: not found, as an
        // entry past the end is.
        if from > to || to > size.0 {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "no consistency proof from tree size {from} to {to}: sizes must satisfy from <= to <= {} (the latest checkpoint's)",
                    size.0
                ),
            );
        }
        let answer = || -> Result<serde_json::Value, QueryError> {
            let proof = r.consistency_proof(TreeSize(from), TreeSize(to))?;
            let checkpoint = if to == size.0 {
                Some(note)
            } else {
                r.checkpoint_at(TreeSize(to))?
            };
            Ok(json!({
                "from": from,
                "to": to,
                "proof": proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
                "checkpoint": checkpoint,
            }))
        };
        match answer() {
            Ok(v) => Json(v).into_response(),
            Err(e) => query_error(e),
        }
    })
    .await
}

async fn history(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let id = match given(a.text("id"), "id") {
        Ok(id) => id.to_owned(),
        Err(r) => return r,
    };
    let proofs = a.flag("proofs");
    json_answer(s, w, move |r| {
        if proofs {
            let (h, bundle) = answers::history_proven(r, &id)?;
            with_proofs(&h, Some(bundle))
        } else {
            with_proofs(&answers::history(r, &id)?, None)
        }
    })
    .await
}

async fn grant(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let id = match given(a.text("id"), "id") {
        Ok(id) => id.to_owned(),
        Err(r) => return r,
    };
    let (proofs, now) = (
        a.flag("proofs"),
        a.time("now").unwrap_or_else(Timestamp::now),
    );
    json_answer(s, w, move |r| {
        if proofs {
            let (a, bundle) = answers::grant_proven(r, &id, now)?;
            with_proofs(&a, Some(bundle))
        } else {
            with_proofs(&answers::grant(r, &id, now)?, None)
        }
    })
    .await
}

async fn access(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let (resource, at) = match (
        given(a.text("resource"), "resource"),
        given(a.time("at"), "at"),
    ) {
        (Ok(resource), Ok(at)) => (resource.to_owned(), at),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let (proofs, now) = (
        a.flag("proofs"),
        a.time("now").unwrap_or_else(Timestamp::now),
    );
    json_answer(s, w, move |r| {
        let (rows, bundle) = if proofs {
            answers::access_proven(r, &resource, at, now)?
        } else {
            (answers::access_at(r, &resource, at, now)?, None)
        };
        with_proofs(
            &json!({ "resource": resource, "at": at, "grants": rows }),
            bundle,
        )
    })
    .await
}

async fn report(
    State(s): State<Arc<ServerState>>,
    Extension(a): Extension<Args>,
    Extension(w): Extension<Work>,
) -> Response {
    let name = match given(a.report("name"), "name") {
        Ok(n) => n,
        Err(r) => return r,
    };
    let opts = ReportOptions {
        now: a.time("now").unwrap_or_else(Timestamp::now),
        max_credential_age_days: a.integer("max_age_days").unwrap_or(DEFAULT_MAX_AGE_DAYS),
        group_by: a.text("group_by").map(str::to_owned),
    };
    let cursor = a.integer("cursor").unwrap_or(0);
    let limit = a.integer("limit").unwrap_or(limits::PAGE_DEFAULT);
    blocking(w, move || {
        let ledger = s.ledger.current();
        let reader = ledger.reader();
        let projections = match s.projections(&reader) {
            Ok(p) => p,
            Err(e) => return query_error(e),
        };
        #[cfg(test)]
        if let Some(hook) = s.hooks.report.get() {
            hook.pass();
        }
        match reports::report(&projections, &reader, name, &opts) {
            Ok(rep) => Json(rep.page(cursor, limit)).into_response(),
            Err(e) => query_error(e),
        }
    })
    .await
}

async fn metrics(State(s): State<Arc<ServerState>>, Extension(w): Extension<Work>) -> Response {
    // The tree size is a RocksDB read: blocking work, kept off the runtime like every other.
    blocking(w, move || {
        let size = s.ledger.current().reader().size().map(|t| t.0).unwrap_or(0);
        let body = s.metrics_text(size);
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
    })
    .await
}

async fn healthz(State(s): State<Arc<ServerState>>, Extension(w): Extension<Work>) -> Response {
    blocking(w, move || match s.ledger.current().reader().size() {
        Ok(size) => Json(json!({ "status": "ok", "tree_size": size.0 })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check cannot read the ledger");
            failures::unavailable("the ledger cannot be read")
        }
    })
    .await
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

fn handler(e: Endpoint) -> MethodRouter<Arc<ServerState>> {
    match e {
        Endpoint::Checkpoint => get(checkpoint),
        Endpoint::Entry => get(entry),
        Endpoint::Entries => get(entries_stream::entries),
        Endpoint::Consistency => get(consistency),
        Endpoint::History => get(history),
        Endpoint::Grant => get(grant),
        Endpoint::Access => get(access),
        Endpoint::Report => get(report),
        Endpoint::Metrics => get(metrics),
        Endpoint::Healthz => get(healthz),
        Endpoint::OpenApi => get(openapi),
        Endpoint::TlogCheckpoint => get(tiles::checkpoint),
        Endpoint::HashTile | Endpoint::EntryBundle => get(tiles::tile),
    }
}

async fn no_route() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such route; /openapi.json lists them",
    )
}

/// The API's router: every route of `ROUTES` behind its gate (the tlog-tiles routes as the
/// server's `tiles` setting says: open, for auditors, or answering 404), and the outermost
/// layer that gives each request its id and keeps internal details out of 500s.
pub fn router(state: Arc<ServerState>) -> Router {
    let mut r = Router::new();
    for route in ROUTES {
        let need = match route.access {
            Access::Open => None,
            Access::Role(need) => Some(need),
            Access::Tiles => match state.tiles.need() {
                Some(need) => need,
                None => {
                    r = r.route(&route.router_path(), get(tiles::turned_off));
                    continue;
                }
            },
        };
        let gate = RouteGate {
            state: Arc::clone(&state),
            route,
            need,
        };
        r = r.route(
            &route.router_path(),
            handler(route.endpoint).route_layer(middleware::from_fn_with_state(gate, access::gate)),
        );
    }
    r.fallback(no_route)
        .with_state(state)
        .layer(middleware::from_fn(failures::outermost))
}
