//! Runtimes: heartbeats, the commands (cancels) they pick up, and the sessions of silent ones.

use protocol::SessionId;

use super::backend::{Tx, with_conn};
use super::{Result, Store, StoreError};

/// A cancel is delivered again this long after the last delivery while the session still runs, so a
/// response lost on the way to the runtime does not lose the cancel.
const COMMAND_REDELIVERY_MS: i64 = 5_000;

impl Store {
    /// Records a heartbeat; returns the commands for the runtime.
    pub async fn heartbeat(
        &self,
        runtime_id: &str,
        version: &str,
        sessions: &[SessionId],
        now_ms: i64,
    ) -> Result<Vec<SessionId>> {
        let mut tx = self.begin().await?;
        tx.touch_runtime(runtime_id, Some(version), now_ms).await?;
        // A session the runtime still reports as running is not lost.
        for session in sessions {
            with_conn!(&mut tx, |c| {
                sqlx::query(
                    "UPDATE sessions SET status = 'running' \
                     WHERE session_id = $1 AND runtime_id = $2 AND status = 'lost' AND finished_at IS NULL",
                )
                .bind(session.as_str())
                .bind(runtime_id)
                .execute(c)
                .await
                .map(|_| ())
            })?;
        }
        let commands = tx.take_commands(runtime_id, now_ms).await?;
        tx.commit().await?;
        Ok(commands)
    }

    /// Marks `lost` every unfinished session whose runtime was last seen before `cutoff_ms`. A claimed
    /// session not started yet (`pending` with a job) is left to its claim lease, which requeues it.
    pub async fn mark_lost(&self, cutoff_ms: i64) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let ids = with_conn!(&mut tx, |c| {
            sqlx::query_scalar::<_, String>(
                "UPDATE sessions SET status = 'lost' WHERE status IN ('pending', 'running') \
                 AND runtime_id IN (SELECT runtime_id FROM runtimes WHERE last_seen_ms < $1) \
                 AND NOT (status = 'pending' AND session_id IN (SELECT session_id FROM session_jobs)) \
                 RETURNING session_id",
            )
            .bind(cutoff_ms)
            .fetch_all(c)
            .await?
        });
        tx.commit().await?;
        Ok(ids)
    }
}

impl Tx {
    pub(super) async fn touch_runtime(
        &mut self,
        runtime_id: &str,
        version: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        with_conn!(self, |c| {
            sqlx::query(
                "INSERT INTO runtimes (runtime_id, version, last_seen_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (runtime_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, \
                 version = COALESCE(excluded.version, runtimes.version)",
            )
            .bind(runtime_id)
            .bind(version)
            .bind(now_ms)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The cancels the runtime has to act on, marked as delivered now.
    pub(super) async fn take_commands(&mut self, runtime_id: &str, now_ms: i64) -> Result<Vec<SessionId>> {
        let ids = with_conn!(self, |c| {
            sqlx::query_scalar::<_, String>(
                "UPDATE sessions SET cancel_delivered_ms = $2 \
                 WHERE runtime_id = $1 AND status IN ('pending', 'running') \
                 AND cancel_requested_ms IS NOT NULL \
                 AND (cancel_delivered_ms IS NULL OR cancel_delivered_ms < $3) RETURNING session_id",
            )
            .bind(runtime_id)
            .bind(now_ms)
            .bind(now_ms - COMMAND_REDELIVERY_MS)
            .fetch_all(c)
            .await?
        });
        ids.into_iter()
            .map(|id| SessionId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }
}
