//! The event store: PostgreSQL or SQLite behind one type.
//!
//! **Invariant:** all SQL of the control plane lives in this module; routes and the CLI never build SQL.
//! Both backends run the same code: every statement is written once and type-checked against each backend
//! by the `with_conn!`/`with_pool!` macros, and only the few statements that differ (bulk insert, row locks)
//! have a variant per backend.
//!
//! Writes on SQLite go through a pool of exactly one connection, so two writers never race for SQLite's
//! write lock (a deferred transaction that reads and then writes would fail with `SQLITE_BUSY` instead of
//! waiting). On PostgreSQL, row locks taken in session-id order serialise writers of the same session, also
//! across replicas.

mod ingest;
pub mod projection;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use protocol::{
    Event, EventSource, LegacyLogEntry, LegacySessionStatus, Session, SessionDetail, SessionId, SessionStatus,
};
use serde_json::value::RawValue;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool};

pub use ingest::{BatchOutcome, CommitResult, IngestBatch};

use crate::time;

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a request waits for a database connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// A cancel is delivered again this long after the last delivery while the session still runs, so a
/// response lost on the way to the runtime does not lose the cancel.
const COMMAND_REDELIVERY_MS: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refuses connections: the caller should retry later (503).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database url {0:?}: expected postgres://… or sqlite://…")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Database(error)
        }
    }
}

/// Tries of one group commit that lose an insert race before its error goes to the senders (who retry).
const INSERT_RACE_ATTEMPTS: u32 = 3;

/// A unique violation or a deadlock: what an early insert meets when another transaction is storing the same
/// events (see [`ingest::Mode::Early`]).
fn is_insert_race(error: &StoreError) -> bool {
    let (StoreError::Database(sqlx::Error::Database(db))
    | StoreError::Unavailable(sqlx::Error::Database(db))) = error
    else {
        return false;
    };
    matches!(db.code().as_deref(), Some("23505" | "40P01"))
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 53: insufficient resources; 57P0x: shutdown, cannot connect now;
            // 40001/40P01: serialization failure or deadlock, worth a retry too.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED, 13 SQLITE_FULL, 10 SQLITE_IOERR (and extended codes).
            // 55000 and 3D000 come from a database that refuses connections or is gone; 28: rejected login.
            code.starts_with("08")
                || code.starts_with("28")
                || code == "55000"
                || code == "3D000"
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
                || matches!(code.parse::<i64>().map(|c| c & 0xff), Ok(5 | 6 | 10 | 13))
        }
        _ => false,
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

#[derive(Debug, Clone)]
enum Pools {
    Pg(PgPool),
    Sqlite { read: SqlitePool, write: SqlitePool },
}

/// One write transaction, on either backend.
#[derive(Debug)]
enum Tx {
    Pg(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

/// Runs `$body` with `$c` bound to the transaction's connection; the body is compiled once per backend.
macro_rules! with_conn {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            Tx::Pg(t) => {
                let $c = &mut **t;
                $body
            }
            Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to a pool for reads; the body is compiled once per backend.
macro_rules! with_pool {
    ($pools:expr, |$p:ident| $body:expr) => {
        match $pools {
            Pools::Pg($p) => $body,
            Pools::Sqlite { read: $p, .. } => $body,
        }
    };
}

/// Reads a [`SessionRow`] from a row selected with [`SESSION_COLUMNS`].
macro_rules! session_row {
    ($row:expr) => {{
        let row = $row;
        let status: String = row.try_get("status")?;
        SessionRow {
            id: row.try_get("id")?,
            session_id: row.try_get("session_id")?,
            agent_id: row.try_get("agent_id")?,
            runtime_id: row.try_get("runtime_id")?,
            status: SessionStatus::from_str(&status).map_err(StoreError::Corrupt)?,
            pid: row.try_get("pid")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            exit_code: row.try_get("exit_code")?,
            signal: row.try_get("signal")?,
            last_seq: row.try_get("last_seq")?,
            acked_seq: row.try_get("acked_seq")?,
            num_turns: row.try_get("num_turns")?,
            total_cost_usd: row.try_get("total_cost_usd")?,
            result_seq: row.try_get("result_seq")?,
            model: row.try_get("model")?,
            result_text: row.try_get("result_text")?,
            error: row.try_get("error")?,
            cancel_requested_ms: row.try_get("cancel_requested_ms")?,
        }
    }};
}

/// Reads an [`Event`] from a row selected with `session_id, seq, ts, source, type, data`.
macro_rules! event_row {
    ($row:expr) => {{
        let row = $row;
        let session_id: String = row.try_get("session_id")?;
        let seq: i64 = row.try_get("seq")?;
        let source: String = row.try_get("source")?;
        let data: String = row.try_get("data")?;
        Event {
            session_id: SessionId::parse(session_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            seq: seq as u64,
            ts: row.try_get("ts")?,
            source: parse_source(&source)?,
            kind: row.try_get("type")?,
            data: RawValue::from_string(data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }
    }};
}

const SESSION_COLUMNS: &str = "id, session_id, agent_id, runtime_id, status, pid, created_at, started_at, \
     finished_at, exit_code, signal, last_seq, acked_seq, num_turns, total_cost_usd, result_seq, model, \
     result_text, error, cancel_requested_ms";

/// A session as stored: the projection of its events plus the control plane's bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub session_id: String,
    pub agent_id: Option<String>,
    pub runtime_id: Option<String>,
    pub status: SessionStatus,
    pub pid: Option<i64>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub signal: Option<String>,
    pub last_seq: Option<i64>,
    pub acked_seq: Option<i64>,
    pub num_turns: Option<i64>,
    pub total_cost_usd: Option<f64>,
    pub result_seq: Option<i64>,
    pub model: Option<String>,
    pub result_text: Option<String>,
    pub error: Option<String>,
    pub cancel_requested_ms: Option<i64>,
}

impl SessionRow {
    /// The wire shape of the public API.
    pub fn to_detail(&self) -> SessionDetail {
        let agent_id = self
            .agent_id
            .as_deref()
            .and_then(|a| protocol::AgentId::parse(a).ok())
            .unwrap_or_else(|| {
                protocol::AgentId::parse(projection::UNKNOWN_AGENT).expect("a valid agent id literal")
            });
        SessionDetail {
            session: Session {
                session_id: SessionId::parse(self.session_id.clone())
                    .expect("session ids are parsed before they are stored"),
                agent_id,
                status: self.status,
                pid: self.pid.and_then(|p| u32::try_from(p).ok()),
                created_at: self.created_at.clone(),
                started_at: self.started_at.clone(),
                finished_at: self.finished_at.clone(),
                exit_code: self.exit_code.and_then(|c| i32::try_from(c).ok()),
                signal: self.signal.clone(),
                last_seq: self.last_seq.map(|s| s as u64),
                num_turns: self.num_turns.map(|n| n as u64),
                total_cost_usd: self.total_cost_usd,
                error: self.error.clone(),
            },
            runtime_id: self.runtime_id.clone(),
            model: self.model.clone(),
            result_text: self.result_text.clone(),
        }
    }
}

fn parse_source(source: &str) -> Result<EventSource> {
    match source {
        "agent" => Ok(EventSource::Agent),
        "stderr" => Ok(EventSource::Stderr),
        "supervisor" => Ok(EventSource::Supervisor),
        other => Err(StoreError::Corrupt(format!("unknown event source {other:?}"))),
    }
}

/// Filters of `GET /api/v1/sessions`.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub status: Option<SessionStatus>,
    pub agent_id: Option<String>,
    /// Only sessions older than this row id (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// What `POST /api/v1/sessions/{id}/cancel` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Queued,
    AlreadyFinished(SessionStatus),
}

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite://path`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::connect_lazy(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without running the migrations.
    pub async fn connect_lazy(url: &str) -> Result<Self> {
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // sqlx pings a connection when it is released and drops it if the ping fails; a ping before
                // every acquire too would add a round trip to every group commit. A connection that died while
                // idle fails its one query as unavailable (503, the sender retries) and is then dropped.
                .test_before_acquire(false)
                .connect_lazy_with(options);
            Pools::Pg(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a batch answered 200 survives a power loss, not only a crash of this process.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(0)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options.read_only(true));
            Pools::Sqlite { read, write }
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Self { pools })
    }

    pub async fn migrate(&self) -> Result<()> {
        let result = match &self.pools {
            Pools::Pg(pool) => PG_MIGRATIONS.run(pool).await,
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await,
        };
        result.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Database(sqlx::Error::Migrate(Box::new(other))),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Pg(_) => Backend::Postgres,
            Pools::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The PostgreSQL pool, for the follow doorbell (LISTEN/NOTIFY); `None` on SQLite.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Pg(pool) => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Pg(pool) => pool.close().await,
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }

    async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Pg(pool) => Tx::Pg(pool.begin().await?),
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
        })
    }

    /// Answers whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(&self.pools, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn session(&self, session_id: &SessionId) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1");
        let row = with_pool!(&self.pools, |p| {
            match sqlx::query(&sql)
                .bind(session_id.as_str())
                .fetch_optional(p)
                .await?
            {
                Some(row) => Some(session_row!(row)),
                None => None,
            }
        });
        Ok(row)
    }

    /// Sessions newest first; one more than `limit` is returned when there is a next page.
    pub async fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionRow>> {
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if filter.status.is_some() {
            sql.push_str(&format!(" AND status = {}", param()));
        }
        if filter.agent_id.is_some() {
            sql.push_str(&format!(" AND agent_id = {}", param()));
        }
        if filter.before.is_some() {
            sql.push_str(&format!(" AND id < {}", param()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", param()));
        let rows = with_pool!(&self.pools, |p| {
            let mut query = sqlx::query(&sql);
            if let Some(status) = filter.status {
                query = query.bind(status.as_str());
            }
            if let Some(agent) = &filter.agent_id {
                query = query.bind(agent.as_str());
            }
            if let Some(before) = filter.before {
                query = query.bind(before);
            }
            let rows = query.bind(i64::from(filter.limit) + 1).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(session_row!(row));
            }
            out
        });
        Ok(rows)
    }

    /// Events of a session with `after < seq <= upto`, in seq order.
    pub async fn events(
        &self,
        session_id: &SessionId,
        after: Option<u64>,
        upto: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let after = after.map_or(-1, |a| a as i64);
        let upto = upto.map_or(i64::MAX, |u| u as i64);
        let sql = "SELECT session_id, seq, ts, source, type, data FROM events \
                   WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4";
        let events = with_pool!(&self.pools, |p| {
            let rows = sqlx::query(sql)
                .bind(session_id.as_str())
                .bind(after)
                .bind(upto)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(event_row!(row));
            }
            out
        });
        Ok(events)
    }

    /// Stores the batches of one group commit in one transaction (see `ingest.rs`).
    pub async fn commit_group(&self, batches: &[IngestBatch], now_ms: i64) -> Result<CommitResult> {
        let mut mode = match self.pools {
            Pools::Pg(_) => ingest::Mode::Early,
            // One writer connection: nothing to overlap.
            Pools::Sqlite { .. } => ingest::Mode::Locked,
        };
        // A race with a transaction storing the same events is settled by the primary key: the loser runs
        // again, locks first, and then sees what the winner stored.
        let mut attempts = 1;
        loop {
            match self.try_commit_group(batches, now_ms, mode).await {
                Err(error) if attempts < INSERT_RACE_ATTEMPTS && is_insert_race(&error) => {
                    tracing::debug!(%error, ?mode, "insert raced another transaction; storing the group again, locks first");
                    mode = ingest::Mode::Locked;
                    attempts += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_commit_group(
        &self,
        batches: &[IngestBatch],
        now_ms: i64,
        mode: ingest::Mode,
    ) -> Result<CommitResult> {
        let mut tx = self.begin().await?;
        let result = ingest::commit_group(&mut tx, batches, now_ms, mode).await?;
        tx.commit().await?;
        Ok(result)
    }

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

    /// Queues a cancel for the runtime that owns the session; `None` when there is no such session.
    pub async fn request_cancel(&self, session_id: &SessionId, now_ms: i64) -> Result<Option<CancelOutcome>> {
        let mut tx = self.begin().await?;
        let Some(row) = tx.lock_session(session_id.as_str()).await? else {
            return Ok(None);
        };
        if row.status.is_finished() && row.status != SessionStatus::Lost {
            return Ok(Some(CancelOutcome::AlreadyFinished(row.status)));
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

    /// Marks `lost` every unfinished session whose runtime was last seen before `cutoff_ms`.
    pub async fn mark_lost(&self, cutoff_ms: i64) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let ids = with_conn!(&mut tx, |c| {
            let rows = sqlx::query(
                "UPDATE sessions SET status = 'lost' WHERE status IN ('pending', 'running') \
                 AND runtime_id IN (SELECT runtime_id FROM runtimes WHERE last_seen_ms < $1) \
                 RETURNING session_id",
            )
            .bind(cutoff_ms)
            .fetch_all(c)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>("session_id"))
                .collect::<Result<Vec<_>, _>>()?
        });
        tx.commit().await?;
        Ok(ids)
    }

    /// Seed compatibility: stores a key/value log entry as the session's next event.
    pub async fn append_legacy_log(&self, entry: &LegacyLogEntry, now_ms: i64) -> Result<Event> {
        let ts = entry
            .timestamp
            .clone()
            .filter(|t| humantime::parse_rfc3339_weak(t).is_ok())
            .unwrap_or_else(|| time::rfc3339_ms(now_ms));
        let mut tx = self.begin().await?;
        let session_id = entry.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &ts).await?;
        if row.agent_id.is_none() {
            row.agent_id = Some(entry.agent_id.clone());
        }
        let data = serde_json::json!({"key": entry.key, "value": entry.value}).to_string();
        let event = Event {
            session_id: entry.session_id.clone(),
            seq: row.last_seq.map_or(0, |s| s + 1) as u64,
            ts,
            source: EventSource::Agent,
            kind: "log".into(),
            data: RawValue::from_string(data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        tx.insert_events(&[&event]).await?;
        projection::apply(&mut row, &event);
        row.acked_seq = row.last_seq;
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Seed compatibility: sets a session's status directly.
    pub async fn set_legacy_status(&self, update: &LegacySessionStatus, now_ms: i64) -> Result<()> {
        let now = time::rfc3339_ms(now_ms);
        let mut tx = self.begin().await?;
        let session_id = update.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &now).await?;
        if let Some(agent) = &update.agent_id {
            row.agent_id = Some(agent.clone());
        }
        row.status = update.status;
        if update.status == SessionStatus::Running && row.started_at.is_none() {
            row.started_at = Some(now.clone());
        }
        if update.status.is_finished() {
            row.finished_at = Some(now);
        }
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Test and benchmark support: deletes everything. Never called by the server.
    pub async fn count_events(&self, session_id: &SessionId) -> Result<i64> {
        let n = with_pool!(&self.pools, |p| {
            sqlx::query("SELECT COUNT(*) AS n FROM events WHERE session_id = $1")
                .bind(session_id.as_str())
                .fetch_one(p)
                .await?
                .try_get::<i64, _>("n")?
        });
        Ok(n)
    }
}

impl Tx {
    async fn commit(self) -> Result<()> {
        match self {
            Tx::Pg(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Locks the session's row, creating it first when it does not exist; answers the row and whether it
    /// was created. An existing session (every batch but a session's first) costs one round trip.
    async fn lock_or_create_session(
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
    async fn forget_session(&mut self, session_id: &str) -> Result<()> {
        with_conn!(self, |c| {
            sqlx::query("DELETE FROM sessions WHERE session_id = $1")
                .bind(session_id)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Reads the session's row, locking it until the end of the transaction on PostgreSQL (SQLite's single
    /// writer connection needs no row lock).
    async fn lock_session(&mut self, session_id: &str) -> Result<Option<SessionRow>> {
        let sql = match self {
            Tx::Pg(_) => format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1 FOR UPDATE"),
            Tx::Sqlite(_) => format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1"),
        };
        let row = with_conn!(self, |c| {
            match sqlx::query(&sql).bind(session_id).fetch_optional(c).await? {
                Some(row) => Some(session_row!(row)),
                None => None,
            }
        });
        Ok(row)
    }

    async fn update_session(&mut self, row: &SessionRow) -> Result<()> {
        with_conn!(self, |c| {
            sqlx::query(
                "UPDATE sessions SET agent_id = $2, runtime_id = $3, status = $4, pid = $5, created_at = $6, \
                 started_at = $7, finished_at = $8, exit_code = $9, signal = $10, last_seq = $11, \
                 acked_seq = $12, num_turns = $13, total_cost_usd = $14, result_seq = $15, model = $16, \
                 result_text = $17, error = $18 WHERE session_id = $1",
            )
            .bind(&row.session_id)
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

    async fn insert_events(&mut self, events: &[&Event]) -> Result<u64> {
        match self {
            Tx::Pg(t) => {
                let mut rows = Vec::with_capacity(events.iter().map(|e| e.data.get().len() + 96).sum());
                for e in events {
                    copy_row(&mut rows, e);
                }
                let mut copy = t
                    .copy_in_raw("COPY events (session_id, seq, ts, source, type, data) FROM STDIN")
                    .await?;
                if let Err(error) = copy.send(rows).await {
                    // `finish` or `abort` must end a COPY, or the connection is unusable afterwards.
                    let _ = copy.abort(error.to_string()).await;
                    return Err(error.into());
                }
                Ok(copy.finish().await?)
            }
            Tx::Sqlite(t) => {
                let mut written = 0;
                // SQLite allows 32,766 bound parameters per statement: 6 per row.
                for chunk in events.chunks(5_000) {
                    let mut builder = sqlx::QueryBuilder::<Sqlite>::new(
                        "INSERT INTO events (session_id, seq, ts, source, type, data) ",
                    );
                    builder.push_values(chunk, |mut b, e| {
                        b.push_bind(e.session_id.as_str())
                            .push_bind(e.seq as i64)
                            .push_bind(e.ts.as_str())
                            .push_bind(e.source.as_str())
                            .push_bind(e.kind.as_str())
                            .push_bind(e.data.get());
                    });
                    written += builder.build().execute(&mut **t).await?.rows_affected();
                }
                Ok(written)
            }
        }
    }

    /// Owner and `last_seq` of those of `session_ids` that exist, without locking them.
    async fn peek_sessions(
        &mut self,
        session_ids: &[&str],
    ) -> Result<BTreeMap<String, (Option<String>, Option<i64>)>> {
        let sql = match self {
            Tx::Pg(_) => {
                "SELECT session_id, runtime_id, last_seq FROM sessions \
                 WHERE session_id IN (SELECT json_array_elements_text($1::json))"
            }
            Tx::Sqlite(_) => {
                "SELECT session_id, runtime_id, last_seq FROM sessions \
                 WHERE session_id IN (SELECT value FROM json_each($1))"
            }
        };
        let list = json_list(session_ids)?;
        let peeked = with_conn!(self, |c| {
            let mut peeked = BTreeMap::new();
            for row in sqlx::query(sql).bind(&list).fetch_all(c).await? {
                peeked.insert(
                    row.try_get("session_id")?,
                    (row.try_get("runtime_id")?, row.try_get("last_seq")?),
                );
            }
            peeked
        });
        Ok(peeked)
    }

    /// Which of `seqs` the session already has stored.
    async fn existing_seqs(&mut self, session_id: &str, seqs: &[i64]) -> Result<Vec<i64>> {
        let sql = match self {
            Tx::Pg(_) => {
                "SELECT seq FROM events WHERE session_id = $1 \
                 AND seq IN (SELECT json_array_elements_text($2::json)::int8)"
            }
            Tx::Sqlite(_) => {
                "SELECT seq FROM events WHERE session_id = $1 AND seq IN (SELECT value FROM json_each($2))"
            }
        };
        let list = json_list(seqs)?;
        let stored = with_conn!(self, |c| {
            let mut stored = Vec::new();
            for row in sqlx::query(sql).bind(session_id).bind(&list).fetch_all(c).await? {
                stored.push(row.try_get::<i64, _>("seq")?);
            }
            stored
        });
        Ok(stored)
    }

    async fn stored_seqs_after(
        &mut self,
        session_id: &str,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let seqs = with_conn!(self, |c| {
            let rows = sqlx::query(
                "SELECT seq FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(session_id)
            .bind(after.unwrap_or(-1))
            .bind(limit)
            .fetch_all(c)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<i64, _>("seq"))
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(seqs)
    }

    async fn touch_runtime(&mut self, runtime_id: &str, version: Option<&str>, now_ms: i64) -> Result<()> {
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
    async fn take_commands(&mut self, runtime_id: &str, now_ms: i64) -> Result<Vec<SessionId>> {
        let ids = with_conn!(self, |c| {
            let rows = sqlx::query(
                "UPDATE sessions SET cancel_delivered_ms = $2 \
                 WHERE runtime_id = $1 AND status IN ('pending', 'running') \
                 AND cancel_requested_ms IS NOT NULL \
                 AND (cancel_delivered_ms IS NULL OR cancel_delivered_ms < $3) RETURNING session_id",
            )
            .bind(runtime_id)
            .bind(now_ms)
            .bind(now_ms - COMMAND_REDELIVERY_MS)
            .fetch_all(c)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>("session_id"))
                .collect::<Result<Vec<_>, _>>()?
        });
        ids.into_iter()
            .map(|id| SessionId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }
}

/// Groups events by session, for callers that need per-session views of a batch.
pub fn by_session<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeMap<&'a str, Vec<&'a Event>> {
    let mut map: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        map.entry(e.session_id.as_str()).or_default().push(e);
    }
    map
}

/// The channel of the follow doorbell between replicas.
pub const DOORBELL_CHANNEL: &str = "agentctl_follow";

impl Store {
    /// Rings the doorbell: one autocommit NOTIFY, outside any ingest transaction (a notifying commit takes
    /// a cluster-wide lock, see reference/delivery-and-ingest.md §4). No-op on SQLite (one replica).
    pub async fn ring_doorbell(&self, payload: &str) -> Result<()> {
        if let Pools::Pg(pool) = &self.pools {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(DOORBELL_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on the doorbell channel (PostgreSQL only).
    pub async fn doorbell_listener(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        let Pools::Pg(pool) = &self.pools else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(DOORBELL_CHANNEL).await?;
        Ok(Some(listener))
    }
}

/// A list bound as one JSON array parameter: the same statement text on both backends, whatever its length.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Appends `event` as one row of `COPY … FROM STDIN` text format: tab-separated columns, newline-terminated,
/// with backslash, tab, newline and carriage return escaped (JSON text may hold the last three as whitespace).
fn copy_row(out: &mut Vec<u8>, event: &Event) {
    copy_text(out, event.session_id.as_str());
    out.push(b'\t');
    out.extend_from_slice(event.seq.to_string().as_bytes());
    out.push(b'\t');
    copy_text(out, &event.ts);
    out.push(b'\t');
    copy_text(out, event.source.as_str());
    out.push(b'\t');
    copy_text(out, &event.kind);
    out.push(b'\t');
    copy_text(out, event.data.get());
    out.push(b'\n');
}

fn copy_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // JSON text holds carriage returns only as (rare) whitespace: without one, memchr3 finds the rest fast.
    let has_cr = memchr::memchr(b'\r', bytes).is_some();
    let mut start = 0;
    while start < bytes.len() {
        let next = if has_cr {
            bytes[start..]
                .iter()
                .position(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        } else {
            memchr::memchr3(b'\\', b'\t', b'\n', &bytes[start..])
        };
        let Some(offset) = next else { break };
        let at = start + offset;
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(match bytes[at] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::copy_text;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        copy_text(&mut out, text);
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("plain ünï"), "plain ünï");
        assert_eq!(escaped(r#"{"a":"x\ny"}"#), r#"{"a":"x\\ny"}"#);
        assert_eq!(escaped("{\t\"a\":1,\n}\\"), "{\\t\"a\":1,\\n}\\\\");
        // With a carriage return the slow path runs: same rules.
        assert_eq!(escaped("\r\n\t\\x"), "\\r\\n\\t\\\\x");
    }
}
