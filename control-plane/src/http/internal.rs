//! `/api/internal/…`: what supervisors call.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{
    Command, ErrorDetail, Heartbeat, IngestResponse, LegacyLogEntry, LegacySessionStatus, RuntimeState,
};
use serde_json::json;

use crate::conversation;
use crate::http::error::ApiError;
use crate::http::{AppState, parse_json, read_body};
use crate::ingest;
use crate::metrics::Metrics;
use crate::store::{BatchOutcome, Refusal, SeedRefusal};
use crate::time;

/// A batch not committed within this long is answered 503 (the supervisor's client waits longer, so it
/// never gives up on a request the server still works on).
const INGEST_DEADLINE: Duration = Duration::from_secs(10);

pub async fn events(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match ingest_events(&state, &headers, body).await {
        Ok(response) => {
            Metrics::add(&state.metrics.ingest_batches, 1);
            response
        }
        Err(error) => {
            if error.status == StatusCode::SERVICE_UNAVAILABLE {
                Metrics::add(&state.metrics.ingest_unavailable, 1);
            } else {
                Metrics::add(&state.metrics.ingest_rejected, 1);
            }
            error.into_response()
        }
    }
}

async fn ingest_events(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let body = read_body(headers, body).await?;
    let ingest::Checked {
        mut batch,
        mut rejected,
        rejected_events,
    } = ingest::parse_batch(&body, time::now_ms()).map_err(|e| ApiError::bad_request(e.0))?;
    batch.states = conversation::divert(&mut batch.events, state.dispatch.secrets_key.as_ref());
    let runtime_id = batch.runtime_id.clone();
    let total = batch.events.len();
    let BatchOutcome {
        acked,
        conflicts,
        refused_events,
        cancels,
        inserted,
    } = tokio::time::timeout(INGEST_DEADLINE, state.ingestor.submit(batch))
        .await
        .map_err(|_| ApiError::unavailable())??;
    Metrics::add(&state.metrics.events_inserted, inserted as u64);
    Metrics::add(
        &state.metrics.events_duplicate,
        (total - inserted - refused_events) as u64,
    );
    Metrics::add(
        &state.metrics.events_rejected,
        (rejected_events + refused_events) as u64,
    );
    // A session another runtime owns, or one the seed's log routes wrote, is refused alone (DESIGN change,
    // ARCHITECTURE.md): one foreign session id must not block a runtime's whole delivery.
    for (session_id, refusal) in conflicts {
        let (code, message) = match refusal {
            Refusal::OtherRuntime(owner) => (
                "runtime_conflict",
                format!(
                    "session {session_id} belongs to runtime {owner:?}; this batch came from runtime \
                     {runtime_id:?}"
                ),
            ),
            Refusal::SeedSession => (
                "seed_session",
                format!(
                    "session {session_id} was written by the seed's log routes (/api/internal/logs), whose \
                     seqs would collide with this runtime's; run the session under another id"
                ),
            ),
        };
        rejected.insert(
            session_id,
            ErrorDetail {
                code: code.into(),
                message,
            },
        );
    }
    if !rejected.is_empty() {
        tracing::warn!(runtime_id = %runtime_id, ?rejected, "refused the events of sessions of a batch");
    }
    let commands = cancels
        .into_iter()
        .map(|session_id| Command::Cancel { session_id })
        .collect();
    Ok(Json(IngestResponse {
        acked,
        rejected,
        commands,
    })
    .into_response())
}

pub async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body).await?;
    let beat: Heartbeat = parse_json(&body)?;
    if beat.runtime_id.is_empty() {
        return Err(ApiError::bad_request("runtimeId: must not be empty"));
    }
    if beat.state == RuntimeState::Lost {
        return Err(ApiError::bad_request(
            "state: a runtime reports \"active\" or \"draining\"; \"lost\" is the control plane's to say",
        ));
    }
    let cancels = state.store.heartbeat(&beat, time::now_ms()).await?;
    Metrics::add(&state.metrics.heartbeats, 1);
    let commands: Vec<Command> = cancels
        .into_iter()
        .map(|session_id| Command::Cancel { session_id })
        .collect();
    Ok(Json(json!({ "commands": commands })).into_response())
}

pub async fn legacy_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body).await?;
    let entry: LegacyLogEntry = parse_json(&body)?;
    if protocol::AgentId::parse(entry.agent_id.clone()).is_err() {
        return Err(ApiError::bad_request(format!(
            "agentId: must match {}",
            protocol::AgentId::RULE
        )));
    }
    let event = state
        .store
        .append_legacy_log(&entry, time::now_ms())
        .await?
        .map_err(refused)?;
    state.hub.publish(vec![event.session_id.to_string()]);
    Ok(Json(json!({"success": true, "sessionId": event.session_id, "seq": event.seq})).into_response())
}

pub async fn legacy_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body).await?;
    let update: LegacySessionStatus = parse_json(&body)?;
    state
        .store
        .set_legacy_status(&update, time::now_ms())
        .await?
        .map_err(refused)?;
    state.hub.publish(vec![update.session_id.to_string()]);
    Ok(Json(json!({"success": true})).into_response())
}

/// A seed route's refusal: 409, the message naming the session (and its runtime, or both statuses).
fn refused(refusal: SeedRefusal) -> ApiError {
    let code = match refusal {
        SeedRefusal::RuntimeOwned { .. } => "runtime_owned",
        SeedRefusal::Transition { .. } => "invalid_transition",
    };
    ApiError::new(StatusCode::CONFLICT, code, refusal.to_string())
}
