//! The read-only HTTP API (axum): checkpoints, entries with proofs, consistency proofs,
//! histories, grants, access at a time and reports, behind bearer tokens mapped to roles, with a
//! structured access record for every read.
#![allow(
    clippy::result_large_err,
    reason = "parameter checks return the 400 `Response` itself, axum's idiom for early answers"
)]

use crate::answers::{self, QueryError};
use crate::projections::Projections;
use crate::reports::{self, ReportName, ReportOptions};
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::{Seq, Timestamp, TreeSize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Responder,
    Auditor,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "responder" => Some(Role::Responder),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A bearer token and who holds it. The token is never logged.
#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub secret: Vec<u8>,
    pub role: Role,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Histories, grants, access: every role.
    Responder,
    /// Checkpoints, entries, proofs, reports: auditors and admins.
    Auditor,
    /// Metrics: admins.
    Admin,
}

fn allowed(role: Role, need: Need) -> bool {
    match need {
        Need::Responder => true,
        Need::Auditor => role >= Role::Auditor,
        Need::Admin => role == Role::Admin,
    }
}

/// How often a server catches up with a running writer, at most.
const REFRESH_INTERVAL: Duration = Duration::from_millis(200);

pub struct ServerState {
    ledger: ReadOnlyLedger,
    tokens: Vec<Token>,
    last_refresh: Mutex<Instant>,
    projections: Mutex<Projections>,
    reads: std::sync::atomic::AtomicU64,
    denied: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl ServerState {
    pub fn new(ledger: ReadOnlyLedger, tokens: Vec<Token>) -> Arc<ServerState> {
        Arc::new(ServerState {
            ledger,
            tokens,
            last_refresh: Mutex::new(Instant::now()),
            projections: Mutex::new(Projections::default()),
            reads: 0.into(),
            denied: 0.into(),
        })
    }

    /// Whether catching up with a running writer is due (at most every 200 ms).
    fn refresh_due(&self) -> bool {
        let last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
        last.elapsed() >= REFRESH_INTERVAL
    }

    /// Catches up with a running writer, at most every 200 ms.
    fn refresh(&self) {
        let mut last = self.last_refresh.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= REFRESH_INTERVAL {
            if let Err(e) = self.ledger.refresh() {
                tracing::warn!(error = %e, "cannot catch up with the writer");
            }
            *last = Instant::now();
        }
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
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
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
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

type Params = HashMap<String, String>;

fn flag(params: &Params, name: &str) -> Result<bool, Response> {
    match params.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("`{name}` must be true or false, found `{other}`"),
        )),
    }
}

fn time_param(params: &Params, name: &str) -> Result<Option<Timestamp>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(t) => Timestamp::parse_rfc3339(t).map(Some).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("`{name}` is not an RFC 3339 time: {e}"),
            )
        }),
    }
}

fn u64_param(params: &Params, name: &str) -> Result<Option<u64>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("`{name}` must be a non-negative integer, found `{v}`"),
            )
        }),
    }
}

fn only_params(params: &Params, known: &[&str]) -> Result<(), Response> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown parameter `{k}`; this route takes {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )),
        None => Ok(()),
    }
}

/// `proofs` (a flag) and `now` (RFC 3339; the current time if absent): the parameters of the
/// answers that can carry proofs.
fn proofs_and_now(params: &Params) -> Result<(bool, Timestamp), Response> {
    let proofs = flag(params, "proofs")?;
    let now = time_param(params, "now")?.unwrap_or_else(Timestamp::now);
    Ok((proofs, now))
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

/// Runs blocking ledger work off the async runtime.
async fn blocking<F: FnOnce() -> Response + Send + 'static>(f: F) -> Response {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("request failed: {e}"),
        )
    })
}

/// What one route needs, handed to `authorize` by the route's layer.
#[derive(Clone)]
struct Guard {
    state: Arc<ServerState>,
    need: Need,
    route: &'static str,
}

/// Every guarded route's gate and access record: a bearer token is required, must name a
/// configured holder and that holder's role must cover the route, before any of the request is
/// parsed; an authorized read catches up with the writer, runs, and is logged with its status.
async fn authorize(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let Guard { state, need, route } = guard;
    let req_path = req.uri().path().to_owned();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().as_bytes().to_vec());
    let Some(presented) = presented else {
        state
            .denied
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(who = "anonymous", route, path = %req_path, status = 401, "read refused");
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required: Authorization: Bearer <token>",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return r;
    };
    let Some(token) = state.authenticate(&presented).cloned() else {
        state
            .denied
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(who = "unknown token", route, path = %req_path, status = 401, "read refused");
        return error(StatusCode::UNAUTHORIZED, "unknown bearer token");
    };
    if !allowed(token.role, need) {
        state
            .denied
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(who = %token.name, role = ?token.role, route, path = %req_path, status = 403, "read refused");
        return error(
            StatusCode::FORBIDDEN,
            format!("role {:?} may not read {route}", token.role),
        );
    }
    // Catching up reads the writer's new WAL and files: blocking work, kept off the runtime
    // (and the hop to a blocking thread taken only when it is due).
    if state.refresh_due() {
        let catching_up = Arc::clone(&state);
        if let Err(e) = tokio::task::spawn_blocking(move || catching_up.refresh()).await {
            tracing::warn!(error = %e, "catching up with the writer failed");
        }
    }
    let response = next.run(req).await;
    state
        .reads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(who = %token.name, role = ?token.role, route, path = %req_path, status = response.status().as_u16(), at = %Timestamp::now(), "read");
    response
}

async fn checkpoint(State(s): State<Arc<ServerState>>, Query(p): Query<Params>) -> Response {
    if let Err(r) = only_params(&p, &[]) {
        return r;
    }
    blocking(move || match s.ledger.reader().latest_checkpoint() {
        Ok((_, note)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
        }
        Err(e) => query_error(e.into()),
    })
    .await
}

async fn entry(
    State(s): State<Arc<ServerState>>,
    Path(index): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    if let Err(r) = only_params(&p, &[]) {
        return r;
    }
    let Ok(index) = index.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("entry index must be a non-negative integer, found `{index}`"),
        );
    };
    json_answer(s, move |r| {
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
            "leaf_hex": hex_string(&leaf),
            "leaf_hash": idledger_proto::hash::leaf_hash(&leaf).to_hex(),
            "tlog_proof": proof.to_text(),
        }))
    })
    .await
}

/// Answers with JSON computed off the async runtime; errors map to their HTTP status.
async fn json_answer<F>(s: Arc<ServerState>, f: F) -> Response
where
    F: FnOnce(&idledger_ledger::LedgerReader<'_>) -> Result<serde_json::Value, QueryError>
        + Send
        + 'static,
{
    blocking(move || match f(&s.ledger.reader()) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => query_error(e),
    })
    .await
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn consistency(State(s): State<Arc<ServerState>>, Query(p): Query<Params>) -> Response {
    if let Err(r) = only_params(&p, &["from", "to"]) {
        return r;
    }
    let (from, to) = match (u64_param(&p, "from"), u64_param(&p, "to")) {
        (Ok(Some(f)), Ok(t)) => (f, t),
        (Ok(None), _) => return error(StatusCode::BAD_REQUEST, "`from` is required"),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    json_answer(s, move |r| {
        let (size, note) = r.latest_checkpoint()?;
        let to = to.unwrap_or(size.0);
        if to > size.0 {
            return Err(QueryError::BadRequest(format!(
                "`to` {to} is beyond the latest checkpoint size {}",
                size.0
            )));
        }
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
    })
    .await
}

async fn history(
    State(s): State<Arc<ServerState>>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    if let Err(r) = only_params(&p, &["proofs"]) {
        return r;
    }
    let proofs = match flag(&p, "proofs") {
        Ok(f) => f,
        Err(r) => return r,
    };
    json_answer(s, move |r| {
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
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    if let Err(r) = only_params(&p, &["proofs", "now"]) {
        return r;
    }
    let (proofs, now) = match proofs_and_now(&p) {
        Ok(pn) => pn,
        Err(r) => return r,
    };
    json_answer(s, move |r| {
        if proofs {
            let (a, bundle) = answers::grant_proven(r, &id, now)?;
            with_proofs(&a, Some(bundle))
        } else {
            with_proofs(&answers::grant(r, &id, now)?, None)
        }
    })
    .await
}

async fn access(State(s): State<Arc<ServerState>>, Query(p): Query<Params>) -> Response {
    if let Err(r) = only_params(&p, &["resource", "at", "proofs", "now"]) {
        return r;
    }
    let Some(resource) = p.get("resource").cloned().filter(|r| !r.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "`resource` is required");
    };
    let at = match time_param(&p, "at") {
        Ok(Some(t)) => t,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "`at` (an RFC 3339 time) is required",
            );
        }
        Err(r) => return r,
    };
    let (proofs, now) = match proofs_and_now(&p) {
        Ok(pn) => pn,
        Err(r) => return r,
    };
    json_answer(s, move |r| {
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
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    if let Err(r) = only_params(&p, &["group_by", "now", "max_age_days"]) {
        return r;
    }
    let Some(name) = ReportName::parse(&name) else {
        let names: Vec<&str> = ReportName::ALL.iter().map(|r| r.as_str()).collect();
        return error(
            StatusCode::NOT_FOUND,
            format!("no report `{name}`; reports are {}", names.join(", ")),
        );
    };
    let (now, max_age) = match (time_param(&p, "now"), u64_param(&p, "max_age_days")) {
        (Ok(n), Ok(m)) => (n.unwrap_or_else(Timestamp::now), m.unwrap_or(90)),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let group_by = p.get("group_by").cloned();
    blocking(move || {
        let mut projections = s.projections.lock().unwrap_or_else(|e| e.into_inner());
        let reader = s.ledger.reader();
        if let Err(e) = projections.catch_up(&reader) {
            return query_error(e);
        }
        match reports::report(
            &projections,
            &reader,
            name,
            &ReportOptions {
                now,
                max_credential_age_days: max_age,
                group_by,
            },
        ) {
            Ok(rep) => axum::Json(rep).into_response(),
            Err(e) => query_error(e),
        }
    })
    .await
}

async fn metrics(State(s): State<Arc<ServerState>>) -> Response {
    // The tree size is a RocksDB read: blocking work, kept off the runtime like every other.
    blocking(move || {
        let size = s.ledger.reader().size().map(|t| t.0).unwrap_or(0);
        let body = format!(
            "# HELP idledger_http_reads_total Authorized reads served.\n# TYPE idledger_http_reads_total counter\nidledger_http_reads_total {}\n# HELP idledger_http_denied_total Requests refused (401/403).\n# TYPE idledger_http_denied_total counter\nidledger_http_denied_total {}\n# HELP idledger_tree_size Entries in the ledger.\n# TYPE idledger_tree_size gauge\nidledger_tree_size {size}\n",
            s.reads.load(std::sync::atomic::Ordering::Relaxed),
            s.denied.load(std::sync::atomic::Ordering::Relaxed)
        );
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
    })
    .await
}

async fn healthz(State(s): State<Arc<ServerState>>) -> Response {
    blocking(move || match s.ledger.reader().size() {
        Ok(size) => axum::Json(json!({ "status": "ok", "tree_size": size.0 })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    })
    .await
}

async fn openapi() -> Response {
    axum::Json(openapi_document()).into_response()
}

/// The OpenAPI 3 description of every route.
pub fn openapi_document() -> serde_json::Value {
    let err = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let authed = |summary: &str, role: &str, params: serde_json::Value, ok: serde_json::Value| {
        json!({ "get": {
            "summary": summary,
            "description": format!("Requires role: {role}."),
            "security": [{ "bearer": [] }],
            "parameters": params,
            "responses": { "200": ok, "400": err.clone(), "401": err.clone(), "403": err.clone(), "404": err.clone() }
        }})
    };
    let path_param = |name: &str, ty: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": ty } });
    let q = |name: &str, required: bool, ty: &str, desc: &str| json!({ "name": name, "in": "query", "required": required, "schema": { "type": ty }, "description": desc });
    let json_ok = json!({ "description": "ok", "content": { "application/json": { "schema": { "type": "object" } } } });
    let proofs = q(
        "proofs",
        false,
        "boolean",
        "add a proof bundle (idledger-proof-bundle@v1)",
    );
    json!({
        "openapi": "3.0.3",
        "info": { "title": "idledger", "version": env!("CARGO_PKG_VERSION"), "description": "Read-only API of an idledger audit ledger. Every answer can carry proofs checkable offline with the ledger's verifier key." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "Error": { "type": "object", "properties": { "error": { "type": "string" } }, "required": ["error"] } }
        },
        "paths": {
            "/v1/checkpoint": authed("The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)", "auditor", json!([]), json!({ "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } })),
            "/v1/entries/{index}": authed("An entry, its leaf bytes and a C2SP tlog-proof", "auditor", json!([path_param("index", "integer")]), json_ok.clone()),
            "/v1/proof/consistency": authed("An RFC 9162 consistency proof between two tree sizes", "auditor", json!([q("from", true, "integer", "smaller tree size"), q("to", false, "integer", "larger tree size (default: latest checkpoint)")]), json_ok.clone()),
            "/v1/identities/{id}/history": authed("Every entry about an identity, with the back-link gap check", "responder", json!([path_param("id", "string"), proofs.clone()]), json_ok.clone()),
            "/v1/grants/{id}": authed("A grant episode: who approved, why, when access ended", "responder", json!([path_param("id", "string"), proofs.clone(), q("now", false, "string", "judge expiries as of this RFC 3339 time")]), json_ok.clone()),
            "/v1/access": authed("Who had access to a resource at a time", "responder", json!([q("resource", true, "string", "the entitlement"), q("at", true, "string", "RFC 3339 time"), proofs, q("now", false, "string", "judge expiries as of this RFC 3339 time")]), json_ok.clone()),
            "/v1/reports/{name}": authed("A governance report: lead-time, approvals, rotation, drift or exceptions", "auditor", json!([path_param("name", "string"), q("group_by", false, "string", "attribute to group by"), q("now", false, "string", "RFC 3339 time"), q("max_age_days", false, "integer", "credential age limit (default 90)")]), json_ok.clone()),
            "/metrics": authed("Prometheus metrics", "admin", json!([]), json!({ "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } })),
            "/healthz": { "get": { "summary": "Liveness and tree size", "responses": { "200": json_ok.clone(), "503": err.clone() } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": json_ok } } }
        }
    })
}

pub fn router(state: Arc<ServerState>) -> Router {
    // Each guarded route names what it needs once, here, and its handler sees only authorized
    // requests.
    let guarded = |router: Router<Arc<ServerState>>,
                   route: &'static str,
                   need: Need,
                   handler: MethodRouter<Arc<ServerState>>| {
        let guard = Guard {
            state: state.clone(),
            need,
            route,
        };
        router.route(
            route,
            handler.route_layer(middleware::from_fn_with_state(guard, authorize)),
        )
    };
    let mut r = Router::new();
    r = guarded(r, "/v1/checkpoint", Need::Auditor, get(checkpoint));
    r = guarded(r, "/v1/entries/{index}", Need::Auditor, get(entry));
    r = guarded(r, "/v1/proof/consistency", Need::Auditor, get(consistency));
    r = guarded(
        r,
        "/v1/identities/{id}/history",
        Need::Responder,
        get(history),
    );
    r = guarded(r, "/v1/grants/{id}", Need::Responder, get(grant));
    r = guarded(r, "/v1/access", Need::Responder, get(access));
    r = guarded(r, "/v1/reports/{name}", Need::Auditor, get(report));
    r = guarded(r, "/metrics", Need::Admin, get(metrics));
    r.route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .with_state(state)
}
