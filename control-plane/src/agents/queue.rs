//! Queueing a session of an agent: the one path of `POST /api/v1/agents/{id}/sessions` and the UI's run
//! form.

use protocol::validate::{self, RequestError};
use protocol::{AgentId, QueueSessionRequest, QueuedSession, SessionId};

use crate::dispatch::Dispatch;
use crate::store::{NewQueued, QueueOutcome, QueuedRow, Store, StoreError};
use crate::time;

/// What was queued: a new session, or the one an identical earlier request queued.
#[derive(Debug)]
pub enum Queued {
    New(QueuedSession),
    Existing(QueuedSession),
}

/// Why nothing was queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Invalid(RequestError),
    /// The agent or the conversation does not exist (or the agent was deleted).
    #[error("{0}")]
    NotFound(String),
    /// The session id is taken, or the conversation is another agent's.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `request` and queues it as a session of `agent`, ringing the queue's bell when it is new.
pub async fn queue(
    store: &Store,
    dispatch: &Dispatch,
    agent: &AgentId,
    mut request: QueueSessionRequest,
) -> Result<Queued, QueueError> {
    validate::check_prompt(&request.prompt).map_err(QueueError::Invalid)?;
    validate::check_env("env", &request.env).map_err(QueueError::Invalid)?;
    validate::plan_files(&[], &request.files).map_err(QueueError::Invalid)?;
    let session_id = match request.session_id.take() {
        Some(id) => id,
        None => SessionId::parse(uuid::Uuid::new_v4().to_string()).expect("a UUID is a session id"),
    };
    let stored = serde_json::to_string(&request).expect("a request serialises");
    let now_ms = time::now_ms();
    let created_at = time::rfc3339_ms(now_ms);
    let outcome = store
        .queue_session(&NewQueued {
            session_id: session_id.as_str(),
            agent_id: agent.as_str(),
            conversation_id: request.conversation_id.as_ref().map(SessionId::as_str),
            request: &stored,
            now_ms,
            created_at: &created_at,
        })
        .await?;
    let conversation = || {
        request
            .conversation_id
            .as_ref()
            .map(SessionId::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match outcome {
        QueueOutcome::Queued(row) => {
            tracing::info!(session_id = %session_id, agent_id = %agent, conversation_id = %row.conversation_id, "session queued");
            dispatch.bell.ring().await;
            Ok(Queued::New(answer(row)?))
        }
        QueueOutcome::Existing(row) => Ok(Queued::Existing(answer(row)?)),
        QueueOutcome::Conflict => Err(QueueError::Conflict(format!(
            "session {session_id} exists with another request"
        ))),
        QueueOutcome::UnknownAgent => Err(QueueError::NotFound(format!("agent {agent} not found"))),
        QueueOutcome::DeletedAgent => Err(QueueError::NotFound(format!(
            "agent {agent} was deleted: it takes no new sessions"
        ))),
        QueueOutcome::UnknownConversation => Err(QueueError::NotFound(format!(
            "conversation {} not found",
            conversation()
        ))),
        QueueOutcome::ForeignConversation(owner) => Err(QueueError::Conflict(format!(
            "conversationId: conversation {} belongs to agent {owner}, not {agent}",
            conversation()
        ))),
    }
}

/// A queued row as the API answers it.
pub fn answer(row: QueuedRow) -> Result<QueuedSession, StoreError> {
    let parse = |s: &str| SessionId::parse(s).map_err(|e| StoreError::Corrupt(format!("session {s}: {e}")));
    Ok(QueuedSession {
        session_id: parse(&row.session_id)?,
        conversation_id: parse(&row.conversation_id)?,
        agent_version: row.agent_version,
        status: row.status,
    })
}
