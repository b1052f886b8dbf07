//! Error answers: JSON bodies, request ids, and the rule that a 500 tells the client nothing
//! internal. A 500's body is a generic message and the request's id; what went wrong (an error's
//! text, a panic's message) goes to the log under that id. A panic anywhere in a request's
//! handling becomes such a 500.

use super::limits::RETRY_AFTER_SECS;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::any::Any;
use std::future::Future;
use std::hash::{BuildHasher as _, Hasher as _};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

/// The header every answer carries its request's id in.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The message of every 500.
pub(crate) const INTERNAL_MESSAGE: &str =
    "internal error; the server's log has the details under this request id";

/// A request's id: this process's random prefix and a counter, unique within the server's life.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub Arc<str>);

impl RequestId {
    fn next() -> RequestId {
        static PREFIX: OnceLock<u32> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // The standard library's hasher keys are random per process: a prefix that differs
        // between runs, with no dependency for randomness.
        let prefix = *PREFIX.get_or_init(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0);
            h.finish() as u32
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        RequestId(format!("{prefix:08x}-{n:06}").into())
    }
}

/// What went wrong in a 500, for the log only: the outermost layer takes it out of the answer.
#[derive(Clone, Debug)]
pub(crate) struct InternalDetail(pub String);

/// An error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// A 500 whose detail goes to the log, not to the client.
pub(crate) fn internal(detail: impl Into<String>) -> Response {
    let mut r = error(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE);
    r.extensions_mut().insert(InternalDetail(detail.into()));
    r
}

/// A 503 that says when to come back.
pub(crate) fn unavailable(message: impl Into<String>) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

/// A panic's message, for the log.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned())
}

/// A future whose panic is caught and returned as an error, as `catch_unwind` does for a
/// closure.
pub(crate) struct CatchUnwind<T>(Pin<Box<dyn Future<Output = T> + Send>>);

impl<T> CatchUnwind<T> {
    pub(crate) fn new(f: impl Future<Output = T> + Send + 'static) -> CatchUnwind<T> {
        CatchUnwind(Box::pin(f))
    }
}

impl<T> std::fmt::Debug for CatchUnwind<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatchUnwind")
    }
}

impl<T> Future for CatchUnwind<T> {
    type Output = Result<T, Box<dyn Any + Send>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        // A future that panicked is never polled again: it is dropped with this one.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Whether a request carries a body (a GET takes none).
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The outermost layer of every request: gives it an id (in its extensions and its answer's
/// `x-request-id`), refuses a body, turns a panic into a 500, and makes every 500 generic,
/// logging what went wrong under the id.
pub(crate) async fn outermost(mut req: Request, next: Next) -> Response {
    let id = RequestId::next();
    req.extensions_mut().insert(id.clone());
    let mut response = if has_body(&req) {
        error(StatusCode::BAD_REQUEST, "requests to this API take no body")
    } else {
        match CatchUnwind::new(next.run(req)).await {
            Ok(r) => r,
            Err(payload) => internal(format!("panicked: {}", panic_text(payload.as_ref()))),
        }
    };
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        let detail = response
            .extensions_mut()
            .remove::<InternalDetail>()
            .map_or_else(|| "(no detail)".to_owned(), |d| d.0);
        tracing::error!(request_id = %id.0, detail = %detail, "request failed");
        response = (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "error": INTERNAL_MESSAGE, "request_id": &*id.0 })),
        )
            .into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}
