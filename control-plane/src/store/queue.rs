//! Statements of queued sessions: `POST /api/v1/agents/{id}/sessions` and conversations.
//!
//! A queued session is a `sessions` row (status `queued`, no runtime, its conversation and version) plus a
//! `session_jobs` row (the request as given, the version's selector, the lease). Queuing locks the agent's
//! row, so it is ordered with PUT and DELETE of the agent, and sessions of one conversation get ids in the
//! order they were queued: the order they run in.

use protocol::{Agent, SessionStatus};

use super::backend::{with_conn, with_pool};
use super::rows::{SESSION_COLUMNS, SessionRecord, SessionRow};
use super::{Result, Store, StoreError};

/// A session to queue.
#[derive(Debug, Clone)]
pub struct NewQueued<'a> {
    pub session_id: &'a str,
    pub agent_id: &'a str,
    pub conversation_id: Option<&'a str>,
    /// The request as given (without its session id), as JSON: what a retry is compared with.
    pub request: &'a str,
    pub now_ms: i64,
    pub created_at: &'a str,
}

/// A queued session as the answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRow {
    pub session_id: String,
    pub conversation_id: String,
    pub agent_version: u32,
    pub status: SessionStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOutcome {
    Queued(QueuedRow),
    /// The same session id with the same request: nothing queued twice.
    Existing(QueuedRow),
    /// The session id is taken by another request or another agent.
    Conflict,
    UnknownAgent,
    DeletedAgent,
    UnknownConversation,
    /// The conversation belongs to this agent.
    ForeignConversation(String),
}

impl Store {
    pub async fn queue_session(&self, new: &NewQueued<'_>) -> Result<QueueOutcome> {
        let mut tx = self.begin().await?;
        let outcome = tx.insert_queued(new).await?;
        if matches!(outcome, QueueOutcome::Queued(_)) {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// The sessions of a conversation, oldest first; empty when there is no such conversation.
    pub async fn conversation(&self, conversation_id: &str) -> Result<Vec<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE conversation_id = $1 ORDER BY id");
        let records = with_pool!(self, |p| {
            sqlx::query_as::<_, SessionRecord>(&sql)
                .bind(conversation_id)
                .fetch_all(p)
                .await?
        });
        records.into_iter().map(SessionRow::try_from).collect()
    }
}

impl super::backend::Tx {
    /// Queues `new` inside this transaction (the agent's row locked, its conversation checked), so a
    /// trigger's delivery and its session commit together. Nothing is written unless it answers `Queued`;
    /// the caller commits.
    pub(super) async fn insert_queued(&mut self, new: &NewQueued<'_>) -> Result<QueueOutcome> {
        let sql = format!(
            "SELECT version, deleted_at FROM agents WHERE agent_id = $1{}",
            self.row_lock()
        );
        let head = with_conn!(&mut *self, |c| {
            sqlx::query_as::<_, (i64, Option<String>)>(&sql)
                .bind(new.agent_id)
                .fetch_optional(c)
                .await?
        });
        let version = match head {
            None | Some((0, _)) => return Ok(QueueOutcome::UnknownAgent),
            Some((_, Some(_))) => return Ok(QueueOutcome::DeletedAgent),
            Some((v, None)) => v,
        };
        if let Some(existing) = self.queued_session(new.session_id).await? {
            let (row, agent_id, request) = existing;
            return Ok(
                if agent_id.as_deref() == Some(new.agent_id) && request.as_deref() == Some(new.request) {
                    QueueOutcome::Existing(row)
                } else {
                    QueueOutcome::Conflict
                },
            );
        }
        let conversation_id = match new.conversation_id {
            None => new.session_id,
            Some(conversation) => {
                let owner = with_conn!(&mut *self, |c| {
                    sqlx::query_scalar::<_, Option<String>>(
                        "SELECT agent_id FROM sessions WHERE conversation_id = $1 ORDER BY id LIMIT 1",
                    )
                    .bind(conversation)
                    .fetch_optional(c)
                    .await?
                });
                match owner {
                    None => return Ok(QueueOutcome::UnknownConversation),
                    Some(owner) if owner.as_deref() != Some(new.agent_id) => {
                        return Ok(QueueOutcome::ForeignConversation(owner.unwrap_or_default()));
                    }
                    Some(_) => conversation,
                }
            }
        };
        let version_row = self
            .agent_version(new.agent_id, version)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("agent {} lost version {version}", new.agent_id)))?;
        let definition: Agent = serde_json::from_str(&version_row.definition)
            .map_err(|e| StoreError::Corrupt(format!("agent_versions ({}, {version}): {e}", new.agent_id)))?;
        let selector = serde_json::to_string(&definition.runtime_selector).expect("a map serialises");
        let inserted = with_conn!(&mut *self, |c| {
            sqlx::query(
                "INSERT INTO sessions (session_id, agent_id, status, created_at, conversation_id, agent_version) \
                 VALUES ($1, $2, 'queued', $3, $4, $5) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(new.session_id)
            .bind(new.agent_id)
            .bind(new.created_at)
            .bind(conversation_id)
            .bind(version)
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        if !inserted {
            return Ok(QueueOutcome::Conflict);
        }
        with_conn!(&mut *self, |c| {
            sqlx::query(
                "INSERT INTO session_jobs (session_id, agent_id, agent_version, request, selector, queued_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new.session_id)
            .bind(new.agent_id)
            .bind(version)
            .bind(new.request)
            .bind(&selector)
            .bind(new.now_ms)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(QueueOutcome::Queued(QueuedRow {
            session_id: new.session_id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            agent_version: super::agents::to_version(version)?,
            status: SessionStatus::Queued,
        }))
    }

    /// A session's queue answer, its agent and its stored request (`None` for a `POST /execute` session).
    async fn queued_session(
        &mut self,
        session_id: &str,
    ) -> Result<Option<(QueuedRow, Option<String>, Option<String>)>> {
        let row =
            with_conn!(self, |c| {
                sqlx::query_as::<_, (String, Option<String>, Option<i64>, Option<String>, Option<String>)>(
                "SELECT s.status, s.conversation_id, s.agent_version, s.agent_id, j.request FROM sessions s \
                 LEFT JOIN session_jobs j ON j.session_id = s.session_id WHERE s.session_id = $1",
            )
            .bind(session_id)
            .fetch_optional(c)
            .await?
            });
        let Some((status, conversation_id, version, agent_id, request)) = row else {
            return Ok(None);
        };
        let status = status
            .parse::<SessionStatus>()
            .map_err(|e| StoreError::Corrupt(format!("sessions {session_id}: {e}")))?;
        Ok(Some((
            QueuedRow {
                session_id: session_id.to_owned(),
                conversation_id: conversation_id.unwrap_or_else(|| session_id.to_owned()),
                agent_version: version.map(super::agents::to_version).transpose()?.unwrap_or(0),
                status,
            },
            agent_id,
            request,
        )))
    }
}
