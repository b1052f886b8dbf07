//! Every route's gate and the access record. A guarded route's bearer token is checked, and its
//! holder's role, before anything of the request is judged; then its parameters are checked
//! against the route's list, ledger work is admitted within its bound (or refused with a 503),
//! the server catches up with a running writer, and the handler runs within the request
//! timeout, a panic in it becoming a 500. Each guarded request leaves one access record: who,
//! by which credential, from where, the route with its path and query parameters as given, and
//! the status.
//!
//! Who is asking is decided in one place (`holder`): a bearer token, when one is given, names
//! its holder; without one, a client certificate that a `[[serve.clients]]` rule maps names the
//! rule's holder. Either way the holder's role is then checked against the route's need.

use super::ServerState;
use super::clients::{ClientRule, PeerCertificate};
use super::failures::{self, CatchUnwind, RequestId, error, internal, panic_text};
use super::params::{self, Args};
use super::routes::{Cost, Route};
use axum::extract::ConnectInfo;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{Query, RawPathParams, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The fewest characters a token may have.
pub const MIN_TOKEN_CHARS: usize = 20;
/// The fewest different characters a token may use.
pub const MIN_DISTINCT_CHARS: usize = 8;

impl Token {
    /// Why `secret` is too weak to accept as a token, if it is (docs/CONFIG.md, `[serve]`:
    /// tokens).
    pub fn weakness(secret: &str) -> Option<String> {
        if let Some((at, c)) = secret.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            let what = if c.is_whitespace() {
                "whitespace"
            } else {
                "a character outside printable ASCII"
            };
            return Some(format!(
                "it holds {what} at byte {at}; a token is printable ASCII without spaces (`!` to `~`)"
            ));
        }
        if secret.len() < MIN_TOKEN_CHARS {
            return Some(format!(
                "it has {} characters; a token needs at least {MIN_TOKEN_CHARS}",
                secret.len()
            ));
        }
        let distinct = secret
            .bytes()
            .collect::<std::collections::BTreeSet<u8>>()
            .len();
        if distinct < MIN_DISTINCT_CHARS {
            return Some(format!(
                "it uses {distinct} different characters; a token needs at least {MIN_DISTINCT_CHARS}"
            ));
        }
        None
    }
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
pub(crate) enum Need {
    /// Histories, grants, access: every role.
    Responder,
    /// Checkpoints, entries, proofs, reports: auditors and admins.
    Auditor,
    /// Metrics: admins.
    Admin,
}

impl Need {
    pub(crate) fn allows(self, role: Role) -> bool {
        match self {
            Need::Responder => true,
            Need::Auditor => role >= Role::Auditor,
            Need::Admin => role == Role::Admin,
        }
    }

    pub(crate) fn role_name(self) -> &'static str {
        match self {
            Need::Responder => "responder, auditor or admin",
            Need::Auditor => "auditor or admin",
            Need::Admin => "admin",
        }
    }
}

/// The right to run work on a blocking thread: one permit of its pool, held until the work
/// ends. It moves into the blocking closure, so work that outlives its request's timeout
/// still counts against the bound.
#[derive(Clone, Debug)]
pub(crate) struct Work {
    _permit: Arc<OwnedSemaphorePermit>,
    #[cfg(test)]
    pub(crate) hook: Option<Arc<super::tests::Gate>>,
}

/// What a route's gate knows: the server, the route, and the role it needs (`None`: open to
/// anyone), resolved from the route's access and the server's settings.
#[derive(Clone, Debug)]
pub(crate) struct RouteGate {
    pub state: Arc<ServerState>,
    pub route: &'static Route,
    pub need: Option<Need>,
}

/// What a request asked, as its access record tells it.
struct Asked {
    id: Arc<str>,
    client: String,
    path_params: Vec<(String, String)>,
    query: Result<Vec<(String, String)>, String>,
    /// The subject of the client certificate, over mutual TLS.
    certificate: Option<String>,
}

impl Asked {
    fn of(req: &Request, path: &Result<RawPathParams, RawPathParamsRejection>) -> Asked {
        let path_params = match path {
            Ok(p) => p
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
        Asked {
            id: req
                .extensions()
                .get::<RequestId>()
                .map_or_else(|| Arc::from("-"), |r| r.0.clone()),
            client: req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string()),
            path_params,
            query: Query::<Vec<(String, String)>>::try_from_uri(req.uri())
                .map(|q| q.0)
                .map_err(|_| req.uri().query().unwrap_or_default().to_owned()),
            certificate: req
                .extensions()
                .get::<PeerCertificate>()
                .map(|c| c.0.to_string()),
        }
    }

    /// Parameters as a JSON object, values as given but for any that is a configured token; a
    /// name given more than once has the list of its values.
    fn json(state: &ServerState, pairs: &[(String, String)]) -> String {
        let mut out = serde_json::Map::new();
        for (k, v) in pairs {
            let v = if state.authenticate(v.as_bytes()).is_some() {
                "(a bearer token, not logged)".to_owned()
            } else {
                v.clone()
            };
            match out.get_mut(k) {
                Some(serde_json::Value::Array(list)) => list.push(v.into()),
                Some(first) => *first = serde_json::Value::Array(vec![first.take(), v.into()]),
                None => {
                    out.insert(k.clone(), v.into());
                }
            }
        }
        serde_json::Value::Object(out).to_string()
    }

    fn record(&self, state: &ServerState, route: &Route, who: Who<'_>, status: StatusCode) {
        let path_params = Asked::json(state, &self.path_params);
        let query = match &self.query {
            Ok(pairs) => Asked::json(state, pairs),
            Err(raw) => Asked::json(state, &[("(not form-encoded)".to_owned(), raw.clone())]),
        };
        let (status, route, id, client) = (status.as_u16(), route.path, &*self.id, &self.client);
        // Absent (not empty) from the record when the connection presented no certificate.
        let certificate = self.certificate.as_deref();
        match who {
            Who::Reader(h) => tracing::info!(
                request_id = %id, client = %client, who = %h.name, by = h.by.as_str(),
                role = ?h.role, certificate, route, path_params = %path_params, query = %query,
                status, "read"
            ),
            Who::Refused(h) => tracing::info!(
                request_id = %id, client = %client, who = %h.name, by = h.by.as_str(),
                role = ?h.role, certificate, route, path_params = %path_params, query = %query,
                status, "read refused"
            ),
            Who::Unknown(who) => tracing::info!(
                request_id = %id, client = %client, who, certificate, route,
                path_params = %path_params, query = %query, status, "read refused"
            ),
        }
    }
}

/// The credential a holder was recognized by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    Token,
    Certificate,
}

impl Credential {
    fn as_str(self) -> &'static str {
        match self {
            Credential::Token => "token",
            Credential::Certificate => "certificate",
        }
    }
}

/// Who is asking: a configured token's or client rule's holder.
#[derive(Clone, Copy, Debug)]
struct Holder<'a> {
    name: &'a str,
    role: Role,
    by: Credential,
}

impl<'a> Holder<'a> {
    fn of_token(t: &'a Token) -> Holder<'a> {
        Holder {
            name: &t.name,
            role: t.role,
            by: Credential::Token,
        }
    }

    fn of_client(c: &'a ClientRule) -> Holder<'a> {
        Holder {
            name: &c.name,
            role: c.role,
            by: Credential::Certificate,
        }
    }
}

/// Who a record names.
#[derive(Clone, Copy)]
enum Who<'a> {
    /// An authorized holder.
    Reader(Holder<'a>),
    /// A holder whose role does not cover the route.
    Refused(Holder<'a>),
    /// No credential, or one nobody holds.
    Unknown(&'static str),
}

/// The request's holder (`None` on an open route), or the refusal (401/403) and whom it
/// refused. A bearer token, when given, decides; without one, a mapped client certificate does.
fn holder<'s>(
    state: &'s ServerState,
    req: &Request,
    route: &Route,
    need: Option<Need>,
) -> Result<Option<Holder<'s>>, (Response, Who<'s>)> {
    let Some(need) = need else {
        return Ok(None);
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().as_bytes());
    let certificate = req.extensions().get::<PeerCertificate>();
    let holder = match presented {
        Some(presented) => match state.authenticate(presented) {
            Some(token) => Holder::of_token(token),
            None => {
                return Err((
                    error(StatusCode::UNAUTHORIZED, "unknown bearer token"),
                    Who::Unknown("unknown token"),
                ));
            }
        },
        None => match certificate.and_then(|c| state.client_rule(&c.0)) {
            Some(rule) => Holder::of_client(rule),
            None => return Err(no_credential(certificate)),
        },
    };
    if !need.allows(holder.role) {
        let message = format!(
            "role {:?} may not read {}; it needs {}",
            holder.role,
            route.path,
            need.role_name()
        );
        return Err((error(StatusCode::FORBIDDEN, message), Who::Refused(holder)));
    }
    Ok(Some(holder))
}

/// The 401 for a request with neither a token nor a certificate mapped to a role.
fn no_credential<'s>(certificate: Option<&PeerCertificate>) -> (Response, Who<'s>) {
    let (message, who) = match certificate {
        Some(_) => (
            "a bearer token is required (Authorization: Bearer <token>): the client certificate is not mapped to a role",
            "unmapped certificate",
        ),
        None => (
            "a bearer token is required: Authorization: Bearer <token>",
            "anonymous",
        ),
    };
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    (r, Who::Unknown(who))
}

/// The gate of every route (see the module's doc).
pub(crate) async fn gate(
    State(gate): State<RouteGate>,
    path: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
    next: Next,
) -> Response {
    let RouteGate { state, route, need } = gate;
    let asked = Asked::of(&req, &path);
    let holder = match holder(&state, &req, route, need) {
        Ok(h) => h,
        Err((response, who)) => {
            state.denied.fetch_add(1, Ordering::Relaxed);
            asked.record(&state, route, who, response.status());
            return response;
        }
    };
    let response = admitted(&state, route, path, &asked, req, next).await;
    if let Some(h) = holder {
        state.reads.fetch_add(1, Ordering::Relaxed);
        asked.record(&state, route, Who::Reader(h), response.status());
    }
    response
}

/// An authorized request: parameters, admission, catching up, and the handler.
async fn admitted(
    state: &Arc<ServerState>,
    route: &'static Route,
    path: Result<RawPathParams, RawPathParamsRejection>,
    asked: &Asked,
    mut req: Request,
    next: Next,
) -> Response {
    if let Err(e) = path {
        return error(StatusCode::BAD_REQUEST, e.body_text());
    }
    let Ok(query) = &asked.query else {
        return error(
            StatusCode::BAD_REQUEST,
            "the query is not form-encoded UTF-8 (name=value&…, percent-encoded)",
        );
    };
    let args: Args = match params::check(route.params, &asked.path_params, query) {
        Ok(a) => a,
        Err(refusal) => return error(refusal.status, refusal.message),
    };
    req.extensions_mut().insert(args);
    let pool = match route.cost {
        Cost::Ledger => Some(&state.ledger_work),
        Cost::Light => Some(&state.light_work),
        Cost::Free => None,
    };
    if let Some(pool) = pool {
        let Some(work) = state.admit(pool) else {
            state.busy.fetch_add(1, Ordering::Relaxed);
            return failures::unavailable(
                "the server is answering as many requests as it allows; try again shortly",
            );
        };
        if route.cost == Cost::Ledger && state.refresh_due() {
            // Catching up reads the writer's new WAL and files: blocking work, done within
            // this request's share of the bound.
            let (catching_up, held) = (Arc::clone(state), work.clone());
            let refreshed = tokio::task::spawn_blocking(move || {
                let _held = held;
                catching_up.refresh();
            });
            if let Err(e) = refreshed.await {
                tracing::warn!(error = %e, "catching up with the writer failed");
            }
        }
        req.extensions_mut().insert(work);
    }
    within(state.limits.request_timeout, next.run(req)).await
}

/// Runs a handler within the request timeout, a panic becoming a 500.
async fn within(
    timeout: Duration,
    handler: impl std::future::Future<Output = Response> + Send + 'static,
) -> Response {
    match tokio::time::timeout(timeout, CatchUnwind::new(handler)).await {
        Ok(Ok(r)) => r,
        Ok(Err(payload)) => internal(format!(
            "a handler panicked: {}",
            panic_text(payload.as_ref())
        )),
        Err(_) => failures::unavailable(format!(
            "the request took longer than the server allows ({} ms); try again later or ask for less",
            timeout.as_millis()
        )),
    }
}

impl ServerState {
    /// One permit of `pool` if one is free, as the `Work` a handler hands to its blocking work.
    fn admit(&self, pool: &Arc<Semaphore>) -> Option<Work> {
        let permit = Arc::clone(pool).try_acquire_owned().ok()?;
        Some(Work {
            _permit: Arc::new(permit),
            #[cfg(test)]
            hook: self.hooks.work.get().cloned(),
        })
    }
}
