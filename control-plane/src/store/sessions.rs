//! Statements on the `sessions` table: reads for the public API, cancel requests, and the row work of an
//! ingest transaction (create, lock, write back).

use std::collections::BTreeMap;

use protocol::{SessionId, SessionStatus};

use super::backend::{Tx, json_list, with_conn, with_pool};
use super::rows::{SESSION_COLUMNS, SessionRecord, SessionRow};
use super::{CancelOutcome, Result, SessionFilter, SessionPage, Store, StoreError};

impl Store {
    pub async fn session(&self, session_id: &SessionId) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1");
        let record = with_pool!(self, |p| {
            sqlx::query_as::<_, SessionRecord>(&sql)
                .bind(session_id.as_str())
                .fetch_optional(p)
                .await?
        });
        record.map(SessionRow::try_from).transpose()
    }

    /// Sessions newest first; one more than `limit` is returned when there is a next page. The API's filter
    /// (one status at most) as a page of the UI's list: one query builder for both.
    pub async fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRow>> {
        self.session_page(&SessionPage {
            statuses: filter.status.into_iter().collect(),
            agent_id: filter.agent_id.clone(),
            before: filter.before,
            limit: filter.limit,
        })
        .await
    }

    /// Queues a cancel for the runtime that owns the session; `None` when there is no such session.
    pub async fn request_cancel(&self, session_id: &SessionId, now_ms: i64) -> Result<Option<CancelOutcome>> {
        let mut tx = self.begin().await?;
        let Some(row) = tx.lock_session(session_id.as_str()).await? else {
            return Ok(None);
        };
        if row.status.is_finished() && row.status != SessionStatus::Lost {
            return Ok(Some(CancelOutcome::AlreadyFinished(row.status)));
        }
        if row.status == SessionStatus::Queued {
            // Never claimed: nothing runs, so it is cancelled now rather than by a runtime.
            let finished_at = crate::time::rfc3339_ms(now_ms);
            with_conn!(&mut tx, |c| {
                sqlx::query(
                    "UPDATE sessions SET status = 'cancelled', finished_at = $2, cancel_requested_ms = $3 \
                     WHERE session_id = $1",
                )
                .bind(session_id.as_str())
                .bind(&finished_at)
                .bind(now_ms)
                .execute(c)
                .await
                .map(|_| ())
            })?;
            tx.commit().await?;
            return Ok(Some(CancelOutcome::Dequeued));
        }
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "UPDATE sessions SET cancel_requested_ms = COALESCE(cancel_requested_ms, $2), \
                 cancel_delivered_ms = NULL WHERE session_id = $1",
            )
            .bind(session_id.as_str())
            .bind(now_ms)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(Some(CancelOutcome::Queued))
    }
}

impl Tx {
    /// Locks the session's row, creating it first when it does not exist; answers the row and whether it
    /// was created. An existing session (every batch but a session's first) costs one round trip.
    pub(super) async fn lock_or_create_session(
        &mut self,
        session_id: &str,
        runtime_id: Option<&str>,
        ts: &str,
    ) -> Result<(SessionRow, bool)> {
        if let Some(row) = self.lock_session(session_id).await? {
            return Ok((row, false));
        }
        let created = self.ensure_session(session_id, runtime_id, ts).await?;
        let row = self
            .lock_session(session_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("session {session_id} vanished")))?;
        Ok((row, created))
    }

    /// Creates the session's row if it does not exist yet; answers whether it did.
    async fn ensure_session(&mut self, session_id: &str, runtime_id: Option<&str>, ts: &str) -> Result<bool> {
        let created = with_conn!(self, |c| {
            sqlx::query(
                "INSERT INTO sessions (session_id, runtime_id, status, created_at) \
                 VALUES ($1, $2, 'pending', $3) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(session_id)
            .bind(runtime_id)
            .bind(ts)
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        Ok(created)
    }

    /// Removes a row this transaction created for a batch that was then refused.
    pub(super) async fn forget_session(&mut self, session_id: &str) -> Result<()> {
        with_conn!(self, |c| {
            sqlx::query("DELETE FROM sessions WHERE session_id = $1")
                .bind(session_id)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Reads the session's row, locked until the end of the transaction.
    pub(super) async fn lock_session(&mut self, session_id: &str) -> Result<Option<SessionRow>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1{}",
            self.row_lock()
        );
        let record = with_conn!(self, |c| {
            sqlx::query_as::<_, SessionRecord>(&sql)
                .bind(session_id)
                .fetch_optional(c)
                .await?
        });
        record.map(SessionRow::try_from).transpose()
    }

    pub(super) async fn update_session(&mut self, row: &SessionRow) -> Result<()> {
        with_conn!(self, |c| {
            sqlx::query(
                "UPDATE sessions SET agent_id = $2, runtime_id = $3, status = $4, pid = $5, created_at = $6, \
                 started_at = $7, finished_at = $8, exit_code = $9, signal = $10, last_seq = $11, \
                 acked_seq = $12, num_turns = $13, total_cost_usd = $14, result_seq = $15, model = $16, \
                 result_text = $17, error = $18 WHERE session_id = $1",
            )
            .bind(row.session_id.as_str())
            .bind(&row.agent_id)
            .bind(&row.runtime_id)
            .bind(row.status.as_str())
            .bind(row.pid)
            .bind(&row.created_at)
            .bind(&row.started_at)
            .bind(&row.finished_at)
            .bind(row.exit_code)
            .bind(&row.signal)
            .bind(row.last_seq)
            .bind(row.acked_seq)
            .bind(row.num_turns)
            .bind(row.total_cost_usd)
            .bind(row.result_seq)
            .bind(&row.model)
            .bind(&row.result_text)
            .bind(&row.error)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Owner and `last_seq` of those of `session_ids` that exist, without locking them.
    pub(super) async fn peek_sessions(
        &mut self,
        session_ids: &[&str],
    ) -> Result<BTreeMap<String, (Option<String>, Option<i64>)>> {
        let sql = format!(
            "SELECT session_id, runtime_id, last_seq FROM sessions WHERE session_id IN ({})",
            self.json_texts("$1")
        );
        let list = json_list(session_ids)?;
        let peeked = with_conn!(self, |c| {
            sqlx::query_as::<_, (String, Option<String>, Option<i64>)>(&sql)
                .bind(&list)
                .fetch_all(c)
                .await?
        });
        Ok(peeked
            .into_iter()
            .map(|(id, owner, last_seq)| (id, (owner, last_seq)))
            .collect())
    }
}
