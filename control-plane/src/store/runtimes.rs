//! Runtimes: heartbeats, the commands (cancels) they pick up, the sessions of silent ones, and the list of
//! `GET /api/v1/runtimes`.

use std::collections::BTreeMap;

use protocol::{Heartbeat, RuntimeInfo, RuntimeState, SessionId};

use super::backend::{Tx, with_conn, with_pool};
use super::{Result, Store, StoreError};

/// A cancel is delivered again this long after the last delivery while the session still runs, so a
/// response lost on the way to the runtime does not lose the cancel.
const COMMAND_REDELIVERY_MS: i64 = 5_000;

impl Store {
    /// Records a heartbeat (with what the runtime reports of itself: labels, capacity, state); returns
    /// the commands for the runtime.
    pub async fn heartbeat(&self, beat: &Heartbeat, now_ms: i64) -> Result<Vec<SessionId>> {
        let runtime_id = beat.runtime_id.as_str();
        let labels = serde_json::to_string(&beat.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let capacity = beat.capacity.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
        let mut tx = self.begin().await?;
        tx.touch_runtime(runtime_id, Some(&beat.version), now_ms).await?;
        with_conn!(&mut tx, |c| {
            sqlx::query("UPDATE runtimes SET labels = $2, capacity = $3, state = $4 WHERE runtime_id = $1")
                .bind(runtime_id)
                .bind(&labels)
                .bind(capacity)
                .bind(state_text(beat.state))
                .execute(c)
                .await
                .map(|_| ())
        })?;
        // A session the runtime still reports as running is not lost.
        for session in &beat.sessions {
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

    /// Every runtime known, by id: `running` counts its unfinished sessions, and `state` is `lost` for one
    /// last heard of before `lost_before_ms`, else what it reported.
    pub async fn runtimes(&self, lost_before_ms: i64) -> Result<Vec<RuntimeInfo>> {
        let records = with_pool!(self, |p| {
            sqlx::query_as::<_, RuntimeRecord>(
                "SELECT r.runtime_id, r.version, r.labels, r.capacity, r.state, r.last_seen_ms, \
                 (SELECT COUNT(*) FROM sessions s WHERE s.runtime_id = r.runtime_id \
                  AND s.status IN ('pending', 'running')) AS running \
                 FROM runtimes r ORDER BY r.runtime_id",
            )
            .fetch_all(p)
            .await?
        });
        records.into_iter().map(|r| r.parse(lost_before_ms)).collect()
    }
}

/// How a reported state is stored. `lost` is derived, never stored: a runtime that says so is refused
/// before it gets here.
fn state_text(state: RuntimeState) -> &'static str {
    match state {
        RuntimeState::Active => "active",
        RuntimeState::Draining => "draining",
        RuntimeState::Lost => "lost",
    }
}

/// A `runtimes` row as read, with its running sessions counted.
#[derive(Debug)]
struct RuntimeRecord {
    runtime_id: String,
    version: Option<String>,
    labels: String,
    capacity: Option<i64>,
    state: String,
    last_seen_ms: i64,
    running: i64,
}

impl<'r, R> sqlx::FromRow<'r, R> for RuntimeRecord
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            runtime_id: row.try_get("runtime_id")?,
            version: row.try_get("version")?,
            labels: row.try_get("labels")?,
            capacity: row.try_get("capacity")?,
            state: row.try_get("state")?,
            last_seen_ms: row.try_get("last_seen_ms")?,
            running: row.try_get("running")?,
        })
    }
}

impl RuntimeRecord {
    /// Parsed at the boundary (ARCHITECTURE.md): a row that does not parse is `Corrupt`, never a panic.
    fn parse(self, lost_before_ms: i64) -> Result<RuntimeInfo> {
        let corrupt =
            |what: String| StoreError::Corrupt(format!("runtimes row {:?}: {what}", self.runtime_id));
        let labels: BTreeMap<String, String> = serde_json::from_str(&self.labels)
            .map_err(|e| corrupt(format!("labels {:?}: {e}", self.labels)))?;
        let reported = match self.state.as_str() {
            "active" => RuntimeState::Active,
            "draining" => RuntimeState::Draining,
            other => return Err(corrupt(format!("state {other:?}"))),
        };
        let capacity = self
            .capacity
            .map(|c| usize::try_from(c).map_err(|e| corrupt(format!("capacity {c}: {e}"))))
            .transpose()?;
        Ok(RuntimeInfo {
            state: if self.last_seen_ms < lost_before_ms {
                RuntimeState::Lost
            } else {
                reported
            },
            last_heartbeat_at: crate::time::rfc3339_ms(self.last_seen_ms),
            runtime_id: self.runtime_id,
            version: self.version.unwrap_or_default(),
            labels,
            capacity,
            running: usize::try_from(self.running).unwrap_or(0),
        })
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
