//! The HTTP APIs of `agentctl serve` (DESIGN.md §5).
//!
//! - `internal`: `/api/internal/…`, for supervisors, behind an internal API key.
//! - `public`: `/api/v1/…` and `/metrics`, behind an API token; `/health` open.
//! - `agents`, `queue`: agent definitions, queued sessions and conversations (public); `claim`: the
//!   internal claim route of dispatch by pull.
//! - `hooks`: `POST /hooks/{id}`, open (verified by the trigger's signature scheme); `deliveries`: a
//!   trigger's deliveries, replay and preview (public).
//! - `triggers`: trigger definitions (public).
//!
//! Handlers parse and validate, then call the store or the ingest writer; they never build SQL.

mod agents;
pub mod auth;
mod claim;
mod deliveries;
pub mod error;
pub mod hooks;
mod internal;
pub(crate) mod public;
mod query;
mod queue;
mod runtimes;
pub(crate) mod sse;
mod triggers;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::dispatch::Dispatch;
use crate::follow::Hub;
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::store::Store;
use auth::Keyring;
use error::ApiError;

/// Largest request body, after gzip decoding.
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// An oversized body is read and dropped up to this size before the 413 is sent.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub ingestor: Ingestor,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    /// What the APIs accept: configured credentials and generated ones, as digests.
    pub keyring: Arc<Keyring>,
    pub started: Instant,
    /// Agents' secrets key, the claim lease and the queue bell.
    pub dispatch: Arc<Dispatch>,
    /// Cancelled when the server stops: live followers end their streams so the drain can finish.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// How often a live follow sends a keep-alive comment (more often than the idle timeout).
    pub sse_keep_alive: std::time::Duration,
    /// `--heartbeat-timeout`: a runtime silent for longer is listed `lost`.
    pub heartbeat_timeout: std::time::Duration,
    /// `POST /hooks/{id}`: `--public-url` and `--hook-body-max`.
    pub hooks: hooks::HookSettings,
}

/// The APIs, and the web UI (`crate::ui`) when `ui`.
pub fn router(state: AppState, ui: bool) -> Router {
    let internal = Router::new()
        .route("/api/internal/v1/events", post(internal::events))
        .route("/api/internal/v1/heartbeat", post(internal::heartbeat))
        .route("/api/internal/v1/claim", post(claim::claim))
        .route("/api/internal/logs", post(internal::legacy_log))
        .route("/api/internal/logs/append", post(internal::legacy_log))
        .route("/api/internal/sessions/status", post(internal::legacy_status))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_internal,
        ));
    let public = Router::new()
        .route("/api/v1/sessions", get(public::list))
        .route("/api/v1/sessions/{id}", get(public::show))
        .route("/api/v1/sessions/{id}/events", get(public::events))
        .route("/api/v1/sessions/{id}/cancel", post(public::cancel))
        .route("/api/v1/agents", get(agents::list))
        .route(
            "/api/v1/agents/{id}",
            get(agents::show).put(agents::put).delete(agents::delete),
        )
        .route("/api/v1/agents/{id}/versions", get(agents::versions))
        .route("/api/v1/agents/{id}/sessions", post(queue::queue))
        .route("/api/v1/conversations/{id}", get(queue::conversation))
        .route("/api/v1/triggers/{id}/deliveries", get(deliveries::list))
        .route("/api/v1/triggers/{id}/preview", post(deliveries::preview))
        .route("/api/v1/deliveries/{id}/replay", post(deliveries::replay))
        .route("/api/v1/runtimes", get(runtimes::list))
        .route("/api/v1/triggers", get(triggers::list))
        .route(
            "/api/v1/triggers/{id}",
            get(triggers::show).put(triggers::put).delete(triggers::delete),
        )
        .route("/metrics", get(public::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_public,
        ));
    let pages = if ui { crate::ui::routes() } else { Router::new() };
    Router::new()
        .merge(internal)
        .merge(public)
        .merge(pages)
        // Outside both auth layers: a provider's signature is the credential (`hooks`).
        .route("/hooks/{id}", post(hooks::hook))
        .route("/health", get(public::health))
        .route("/api/internal/health", get(public::health))
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}

/// Reads a request body of at most [`MAX_BODY`] bytes, gunzipping it when it says so.
pub async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {MAX_BODY} bytes; split the batch"),
        )
    };
    // Read to the end even past the limit (up to a bound), so the client gets to read the 413 instead of a
    // connection closed under the body it is still writing, and knows to split the batch.
    let mut body = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        total += chunk.len();
        if total <= MAX_BODY {
            bytes.extend_from_slice(&chunk);
        } else if total > DRAIN_MAX {
            break;
        }
    }
    if total > MAX_BODY {
        return Err(too_large());
    }
    let bytes = Bytes::from(bytes);
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    match encoding {
        "identity" | "" => Ok(bytes),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request(format!("invalid gzip body: {e}")))?;
            if out.len() > MAX_BODY {
                return Err(too_large());
            }
            Ok(out.into())
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding {other:?} is not supported: send identity or gzip"),
        )),
    }
}

/// Parses JSON; the error names the field that was wrong (`events[3].seq: invalid type …`).
/// Reads a JSON body of at most `max` bytes (413 naming `what` when larger) and parses it.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    what: &str,
) -> Result<T, ApiError> {
    let body = read_body(headers, body).await?;
    if body.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{what} is at most {max} bytes"),
        ));
    }
    parse_json(&body)
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("invalid body: malformed JSON: {inner}"))
        } else if path == "." || path == "?" {
            ApiError::bad_request(format!("invalid body: {inner}"))
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })
}
