//! `POST /api/v1/agents/{id}/sessions` (queue a session of an agent) and `GET /api/v1/conversations/{id}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::validate;
use protocol::{AgentId, Conversation, QueueSessionRequest, QueuedSession, SessionId};

use crate::http::agents::agent_id;
use crate::http::error::ApiError;
use crate::http::{AppState, read_json};
use crate::store::{NewQueued, QueueOutcome, QueuedRow, StoreError};
use crate::time;

/// Largest queue request (prompt and env): what a supervisor takes as one job, with the definition.
const MAX_QUEUE_BODY: usize = 1024 * 1024;

pub async fn queue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let agent = agent_id(&id)?;
    let mut request: QueueSessionRequest =
        read_json(&headers, body, MAX_QUEUE_BODY, "a queue request").await?;
    validate::check_prompt(&request.prompt).map_err(|e| ApiError::bad_request(e.to_string()))?;
    validate::check_env("env", &request.env).map_err(|e| ApiError::bad_request(e.to_string()))?;
    validate::plan_files(&[], &request.files).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let session_id = match request.session_id.take() {
        Some(id) => id,
        None => SessionId::parse(uuid::Uuid::new_v4().to_string()).expect("a UUID is a session id"),
    };
    let stored = serde_json::to_string(&request).expect("a request serialises");
    let now_ms = time::now_ms();
    let created_at = time::rfc3339_ms(now_ms);
    let outcome = state
        .store
        .queue_session(&NewQueued {
            session_id: session_id.as_str(),
            agent_id: agent.as_str(),
            conversation_id: request.conversation_id.as_ref().map(SessionId::as_str),
            request: &stored,
            now_ms,
            created_at: &created_at,
        })
        .await?;
    match outcome {
        QueueOutcome::Queued(row) => {
            tracing::info!(session_id = %session_id, agent_id = %agent, conversation_id = %row.conversation_id, "session queued");
            state.dispatch.bell.ring().await;
            Ok((StatusCode::ACCEPTED, Json(answer(row)?)).into_response())
        }
        QueueOutcome::Existing(row) => Ok((StatusCode::OK, Json(answer(row)?)).into_response()),
        QueueOutcome::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("session {session_id} exists with another request"),
        )),
        QueueOutcome::UnknownAgent => Err(ApiError::not_found(format!("agent {agent} not found"))),
        QueueOutcome::DeletedAgent => Err(ApiError::not_found(format!(
            "agent {agent} was deleted: it takes no new sessions"
        ))),
        QueueOutcome::UnknownConversation => Err(ApiError::not_found(format!(
            "conversation {} not found",
            request
                .conversation_id
                .as_ref()
                .map(SessionId::as_str)
                .unwrap_or_default()
        ))),
        QueueOutcome::ForeignConversation(owner) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "conversationId: conversation {} belongs to agent {owner}, not {agent}",
                request
                    .conversation_id
                    .as_ref()
                    .map(SessionId::as_str)
                    .unwrap_or_default()
            ),
        )),
    }
}

fn answer(row: QueuedRow) -> Result<QueuedSession, StoreError> {
    let parse = |s: &str| SessionId::parse(s).map_err(|e| StoreError::Corrupt(format!("session {s}: {e}")));
    Ok(QueuedSession {
        session_id: parse(&row.session_id)?,
        conversation_id: parse(&row.conversation_id)?,
        agent_version: row.agent_version,
        status: row.status,
    })
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
