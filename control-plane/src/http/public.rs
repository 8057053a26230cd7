//! `/api/v1/…`: what people and tools call, and the health and metrics routes. The live follow (SSE) is in
//! `sse.rs`, the query strings in `query.rs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{CancelResponse, EventPage, SessionId, SessionList};
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::query::{EventsQuery, ListQuery, Params};
use crate::http::{AppState, sse};
use crate::store::{CancelOutcome, SessionFilter, StoreError};
use crate::time;

fn session_id(raw: String) -> Result<SessionId, ApiError> {
    SessionId::parse(raw.clone()).map_err(|e| ApiError::bad_request(format!("{e} (got {raw:?})")))
}

pub async fn health(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "database": if database { "ok" } else { "unavailable" },
        "uptimeSeconds": state.started.elapsed().as_secs(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render();
    crate::dispatch::render_queued(&state.store, &mut text).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub async fn list(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<SessionList>, ApiError> {
    let before = query.before()?;
    let limit = query.limit()?;
    let ListQuery { status, agent_id, .. } = query;
    let mut rows = state
        .store
        .sessions(&SessionFilter {
            status,
            agent_id,
            before,
            limit,
        })
        .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(SessionList {
        sessions: rows.iter().map(|r| r.to_detail()).collect(),
        next_cursor,
    }))
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = session_id(id)?;
    let row = state
        .store
        .session(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("session {id} not found")))?;
    Ok(Json(row.to_detail()).into_response())
}

/// What a cancel does, for the API and the UI's cancel form alike: the store queues it for the session's
/// runtime (or cancels a still-queued session at once); `None` when there is no such session.
pub(crate) async fn cancel_session(
    state: &AppState,
    id: &SessionId,
) -> Result<Option<CancelOutcome>, StoreError> {
    let outcome = state.store.request_cancel(id, time::now_ms()).await?;
    if outcome == Some(CancelOutcome::Dequeued) {
        // The next session of its conversation may run now.
        state.dispatch.bell.ring().await;
    }
    Ok(outcome)
}

pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = session_id(id)?;
    match cancel_session(&state, &id).await? {
        None => Err(ApiError::not_found(format!("session {id} not found"))),
        Some(CancelOutcome::Queued) => Ok((
            StatusCode::ACCEPTED,
            Json(CancelResponse {
                session_id: id,
                status: "cancelling".into(),
            }),
        )
            .into_response()),
        Some(CancelOutcome::Dequeued) => Ok((
            StatusCode::OK,
            Json(CancelResponse {
                session_id: id,
                status: "cancelled".into(),
            }),
        )
            .into_response()),
        Some(CancelOutcome::AlreadyFinished(status)) => Ok((
            StatusCode::OK,
            Json(CancelResponse {
                session_id: id,
                status: status.to_string(),
            }),
        )
            .into_response()),
    }
}

pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Params(query): Params<EventsQuery>,
) -> Result<Response, ApiError> {
    let id = session_id(id)?;
    let mut after = query.after;
    let limit = query.limit()?;
    if state.store.session(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("session {id} not found")));
    }
    let wants_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_sse {
        if let Some(last) = headers.get("last-event-id") {
            let last = last
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID: must be the seq of the last event received")
                })?;
            after = Some(last);
        }
        return Ok(sse::follow(state, id, after));
    }
    let events = state.store.events(&id, after, None, limit).await?;
    let next_after = events.last().map(|e| e.seq).or(after);
    Ok(Json(EventPage { events, next_after }).into_response())
}
