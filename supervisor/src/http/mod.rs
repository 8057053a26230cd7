//! The HTTP API of DESIGN.md §3.

mod auth;
pub(crate) mod deadline;
mod drain;
mod error;
mod events;
pub(crate) mod server;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, middleware};
use protocol::{
    CancelResponse, ExecuteRequest, ExecuteResponse, Health, HealthSessions, SessionId, SessionsResponse,
};

pub(crate) use error::ApiError;

use crate::dispatch::submit::{Refusal, submit};
use crate::metrics::Gauges;
use crate::session::entry::SessionEntry;
use crate::session::launch::{Launch, LaunchError};
use crate::session::workspace::WriteFilesError;
use crate::state::AppState;

/// How long a client should wait before retrying a 429.
const BUSY_RETRY_AFTER_SECONDS: u64 = 5;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let max_body = usize::try_from(state.config.max_body).unwrap_or(usize::MAX);
    let protected = Router::new()
        .route("/execute", post(execute))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", get(get_session))
        .route("/sessions/{id}/events", get(events::events))
        .route("/sessions/{id}/cancel", post(cancel))
        .route("/metrics", get(metrics))
        .route("/drain", post(drain::drain))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.config.body_read_timeout,
            deadline::bound_body,
        ))
        .with_state(state)
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let (status, body) = health_body(&state);
    (status, Json(body)).into_response()
}

/// `/health`'s answer: 200 `ok`, or 503 `draining` (DESIGN.md §9) and then `shutting_down`.
pub(super) fn health_body(state: &AppState) -> (StatusCode, Health) {
    let status = if state.shutdown.is_cancelled() {
        "shutting_down"
    } else if state.drain.is_cancelled() {
        "draining"
    } else {
        "ok"
    };
    let body = Health {
        status: status.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        runtime_id: state.runtime_id.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
        sessions: HealthSessions {
            running: state.sessions.running(),
            max: state.config.max_sessions,
        },
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}

async fn execute(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(error::from_rejection)?;
    let request: ExecuteRequest = parse_json(&body)?;
    let launched = submit(&state, request).await.map_err(|refusal| {
        use LaunchError as E;
        let message = refusal.to_string();
        let err = match refusal {
            Refusal::Invalid(_) => return reject(&state, ApiError::bad_request(message)),
            Refusal::Draining => {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "draining", message);
            }
            Refusal::Launch(err) => err,
        };
        match err {
            E::ShuttingDown => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message),
            E::Conflict(_) | E::Removed(_) => {
                reject(&state, ApiError::new(StatusCode::CONFLICT, "conflict", message))
            }
            E::Busy(_) => reject(
                &state,
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_sessions", message)
                    .retry_after(BUSY_RETRY_AFTER_SECONDS),
            ),
            E::Files(WriteFilesError::Escape { .. } | WriteFilesError::Conflict { .. }) => {
                reject(&state, ApiError::bad_request(message))
            }
            E::Files(WriteFilesError::Exists { .. }) => {
                reject(&state, ApiError::new(StatusCode::CONFLICT, "conflict", message))
            }
            E::Spawn { .. } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "spawn_failed", message),
            E::Files(_) | E::Log { .. } => {
                tracing::error!(error = ?anyhow::Error::from(err), "prepare session");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "could not prepare the session",
                )
            }
        }
    })?;
    let (status, entry, label) = match launched {
        Launch::Started(entry) => (StatusCode::ACCEPTED, entry, "started".to_owned()),
        Launch::Existing(entry) => (StatusCode::OK, entry.clone(), entry.status().to_string()),
    };
    let body = ExecuteResponse {
        success: true,
        agent_id: entry.agent_id.clone(),
        session_id: entry.id.clone(),
        status: label,
    };
    Ok((status, Json(body)).into_response())
}

async fn list_sessions(State(state): State<Arc<AppState>>) -> Json<SessionsResponse> {
    Json(SessionsResponse {
        sessions: state.sessions.list().iter().map(|e| e.snapshot()).collect(),
    })
}

async fn get_session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = find(&state, &id)?;
    Ok(Json(entry.snapshot()).into_response())
}

async fn cancel(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let entry = find(&state, &id)?;
    if !entry.request_cancel() {
        let body = CancelResponse {
            session_id: entry.id.clone(),
            status: entry.status().to_string(),
        };
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    let body = CancelResponse {
        session_id: entry.id.clone(),
        status: "cancelling".to_owned(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let gauges = Gauges {
        sessions_running: state.sessions.running(),
        sessions_retained: state.sessions.retained(),
        orphans_reaped: state.reaper.orphans_reaped(),
        uptime_seconds: state.started.elapsed().as_secs(),
    };
    let body = state.metrics.render(&gauges);
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

/// Parses a JSON body; the error names the field that was wrong (`options.maxTurns: invalid type …`).
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would read a struct from a JSON array too; the API only takes objects.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            return Err(ApiError::bad_request("body must be a JSON object"));
        }
        _ => {}
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("body is not valid JSON: {inner}")
        } else if path == "." {
            format!("body: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        ApiError::bad_request(message)
    })?;
    // Only whitespace may follow the object: anything else is a body the caller did not mean.
    deserializer
        .end()
        .map_err(|err| ApiError::bad_request(format!("body is not valid JSON: {err}")))?;
    Ok(value)
}

fn find(state: &AppState, id: &str) -> Result<Arc<SessionEntry>, ApiError> {
    let id = SessionId::parse(id).map_err(|e| ApiError::bad_request(format!("sessionId {id:?}: {e}")))?;
    state.sessions.get(&id).ok_or_else(|| not_found(state, &id))
}

/// A plain 404, or one saying that retention removed the session after its delivery.
fn not_found(state: &AppState, id: &SessionId) -> ApiError {
    if state.sessions.was_removed(id) {
        removed(id)
    } else {
        ApiError::not_found(format_args!("session {id}"))
    }
}

fn removed(id: &SessionId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "session {id} was removed after delivery (--retain): its events are at the destination it was \
             shipped to, if it had one"
        ),
    )
}

fn reject(state: &AppState, error: ApiError) -> ApiError {
    state.metrics.requests_rejected.fetch_add(1, Ordering::Relaxed);
    error
}
