//! The witness's HTTP interface: `POST /add-checkpoint` (c2sp.org/tlog-witness). The checks
//! and the fsync run on a blocking thread, off the runtime. A 409 carries the known size as
//! `text/x.tlog.size`; every other refusal a one-line explanation as text/plain.

use crate::request::MAX_REQUEST_BYTES;
use crate::witness::{AddError, Witness};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The router: one route, bodies limited to `MAX_REQUEST_BYTES` (413 beyond).
pub fn router(witness: Arc<Witness>) -> axum::Router {
    axum::Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let outcome = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await;
    match outcome {
        Ok(Ok(lines)) => {
            tracing::info!("cosigned a checkpoint");
            text(StatusCode::OK, "text/plain; charset=utf-8", lines)
        }
        Ok(Err(e)) => refusal(&e),
        Err(join) => {
            tracing::error!(error = %join, "add-checkpoint task failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "internal error\n".to_owned(),
            )
        }
    }
}

fn refusal(e: &AddError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match e {
        AddError::Conflict { known, .. } => text(status, "text/x.tlog.size", format!("{known}\n")),
        AddError::State(_) | AddError::Poisoned | AddError::Cosign(_) => {
            tracing::error!(error = %e, "cannot cosign");
            text(status, "text/plain; charset=utf-8", format!("{e}\n"))
        }
        // Signed by the log yet inconsistent: possible evidence of misbehaviour, kept in the log.
        AddError::Inconsistent(_) | AddError::EmptyTreeRoot | AddError::ProofFromZero => {
            tracing::warn!(error = %e, "refused an inconsistent checkpoint");
            text(status, "text/plain; charset=utf-8", format!("{e}\n"))
        }
        _ => {
            tracing::debug!(error = %e, "refused an add-checkpoint request");
            text(status, "text/plain; charset=utf-8", format!("{e}\n"))
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
