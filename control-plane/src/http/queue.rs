//! `POST /api/v1/agents/{id}/sessions` (queue a session of an agent) and `GET /api/v1/conversations/{id}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{AgentId, Conversation, QueueSessionRequest, SessionId};

use crate::agents::queue::{self, QueueError, Queued};
use crate::http::agents::agent_id;
use crate::http::error::ApiError;
use crate::http::{AppState, read_json};
use crate::store::StoreError;

/// Largest queue request (prompt and env): what a supervisor takes as one job, with the definition.
const MAX_QUEUE_BODY: usize = 1024 * 1024;

pub async fn queue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let agent = agent_id(&id)?;
    let request: QueueSessionRequest = read_json(&headers, body, MAX_QUEUE_BODY, "a queue request").await?;
    match queue::queue(&state.store, &state.dispatch, &agent, request).await {
        Ok(Queued::New(answer)) => Ok((StatusCode::ACCEPTED, Json(answer)).into_response()),
        Ok(Queued::Existing(answer)) => Ok((StatusCode::OK, Json(answer)).into_response()),
        Err(QueueError::Invalid(e)) => Err(ApiError::bad_request(e.to_string())),
        Err(QueueError::NotFound(why)) => Err(ApiError::not_found(why)),
        Err(QueueError::Conflict(why)) => Err(ApiError::new(StatusCode::CONFLICT, "conflict", why)),
        Err(QueueError::Store(e)) => Err(e.into()),
    }
}

pub async fn conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let id = SessionId::parse(id.clone())
        .map_err(|e| ApiError::bad_request(format!("conversation id: {e} (got {id:?})")))?;
    let rows = state.store.conversation(id.as_str()).await?;
    let Some(first) = rows.first() else {
        return Err(ApiError::not_found(format!("conversation {id} not found")));
    };
    let agent_id = first
        .agent_id
        .as_deref()
        .and_then(|a| AgentId::parse(a).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("conversation {id}: session without an agent")))?;
    Ok(Json(Conversation {
        conversation_id: id,
        agent_id,
        sessions: rows.iter().map(|r| r.to_detail()).collect(),
    }))
}
