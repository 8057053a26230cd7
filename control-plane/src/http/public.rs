//! `/api/v1/…`: what people and tools call, and the health and metrics routes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use protocol::{CancelResponse, Event, EventPage, SessionId, SessionList, SessionStatus};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::follow::Hub;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::{CancelOutcome, SessionFilter};
use crate::time;

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(query: Params) -> Result<HashMap<String, String>, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))
}

fn session_id(raw: String) -> Result<SessionId, ApiError> {
    SessionId::parse(raw.clone()).map_err(|e| ApiError::bad_request(format!("{e} (got {raw:?})")))
}

fn number<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<Option<T>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{name}: {v:?} is not a non-negative integer"))),
    }
}

fn limit(params: &HashMap<String, String>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = number::<u32>(params, "limit")?.unwrap_or(default);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {max}"
        )));
    }
    Ok(limit)
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
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn list(State(state): State<AppState>, query: Params) -> Result<Json<SessionList>, ApiError> {
    let params = params(query)?;
    let status = match params.get("status") {
        Some(s) => Some(
            s.parse::<SessionStatus>()
                .map_err(|e| ApiError::bad_request(format!("status: {e}")))?,
        ),
        None => None,
    };
    let agent_id = params.get("agentId").cloned();
    let before = match params.get("cursor") {
        Some(c) => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
            ApiError::bad_request(format!("cursor: {c:?} is not a cursor this server returned"))
        })?),
        None => None,
    };
    let limit = limit(&params, 50, 1000)?;
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

pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = session_id(id)?;
    match state.store.request_cancel(&id, time::now_ms()).await? {
        None => Err(ApiError::not_found(format!("session {id} not found"))),
        Some(CancelOutcome::Queued) => Ok((
            StatusCode::ACCEPTED,
            Json(CancelResponse {
                session_id: id,
                status: "cancelling".into(),
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
    query: Params,
) -> Result<Response, ApiError> {
    let id = session_id(id)?;
    let params = params(query)?;
    let mut after = number::<u64>(&params, "after")?;
    let limit = limit(&params, 1000, 10_000)?;
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
        return Ok(follow(state, id, after));
    }
    let events = state.store.events(&id, after, None, limit).await?;
    let next_after = events.last().map(|e| e.seq).or(after);
    Ok(Json(EventPage { events, next_after }).into_response())
}

/// Events of one SSE message; the data is the event as JSON on one line.
fn sse_event(event: &Event) -> SseEvent {
    let mut json = serde_json::to_string(event).expect("events serialise");
    if json.contains(['\n', '\r']) {
        // Raw data may hold whitespace between tokens; an SSE data line must not.
        let value: serde_json::Value = serde_json::from_str(&json).expect("our own JSON parses");
        json = value.to_string();
    }
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind.as_str())
        .data(json)
}

const FOLLOW_PAGE: u32 = 500;

/// How long a follow waits at a gap below a finished session's last event for the missing events (a
/// supervisor has up to two batches in flight, so `session.finished` can be stored before the batch before
/// it) before sending what follows the gap and ending. A supervisor retries a failed batch within 5 s.
const GAP_GRACE: Duration = Duration::from_secs(10);

/// The SSE stream: every event after `after` in seq order, then live ones, then `end`.
///
/// It sends only up to the highest seq stored with no gap below (`acked_seq`), so a batch committed out of
/// order can never make a follower skip a seq; once the session is finished and has no gap (or a gap has
/// stayed open for [`GAP_GRACE`]) it sends the rest and ends.
fn follow(state: AppState, id: SessionId, mut after: Option<u64>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    state.metrics.followers.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut wakes = state.hub.subscribe();
        let mut gap_deadline: Option<tokio::time::Instant> = None;
        loop {
            let row = match state.store.session(&id).await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, session_id = %id, "follow: read session");
                    tokio::select! {
                        () = Hub::wait(&mut wakes, id.as_str()) => continue,
                        () = tx.closed() => break,
                    }
                }
            };
            let finished = row.status.is_finished() && {
                let gap = row.acked_seq != row.last_seq;
                let deadline = *gap_deadline.get_or_insert_with(|| tokio::time::Instant::now() + GAP_GRACE);
                !gap || tokio::time::Instant::now() >= deadline
            };
            let upto = if finished { row.last_seq } else { row.acked_seq };
            let pending = match (upto, after) {
                (Some(upto), Some(after)) => upto as u64 > after,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if pending {
                let upto = upto.map(|u| u as u64);
                match state.store.events(&id, after, upto, FOLLOW_PAGE).await {
                    Ok(events) if !events.is_empty() => {
                        for event in &events {
                            if tx.send(Ok(sse_event(event))).await.is_err() {
                                state.metrics.followers.fetch_sub(1, Ordering::Relaxed);
                                return;
                            }
                            after = Some(event.seq);
                        }
                        continue;
                    }
                    // Only a finished session can have nothing between `after` and `last_seq`: a gap that
                    // will never be filled. Everything there is was sent.
                    Ok(_) if finished => {
                        send_end(&tx, &row).await;
                        break;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error, session_id = %id, "follow: read events");
                    }
                }
            } else if finished {
                send_end(&tx, &row).await;
                break;
            }
            let gap_waited = async {
                match gap_deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = Hub::wait(&mut wakes, id.as_str()) => {}
                () = gap_waited => {}
                () = tx.closed() => break,
                () = state.shutdown.cancelled() => break,
            }
        }
        state.metrics.followers.fetch_sub(1, Ordering::Relaxed);
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `event: end`, with the session as it ended.
async fn send_end(tx: &mpsc::Sender<Result<SseEvent, Infallible>>, row: &crate::store::SessionRow) {
    let data = serde_json::to_string(&row.to_detail()).expect("sessions serialise");
    let _ = tx.send(Ok(SseEvent::default().event("end").data(data))).await;
}
