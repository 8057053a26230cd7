//! Rows as the database holds them, and their parsed forms.
//!
//! The records implement [`sqlx::FromRow`] by hand, by column name, for either backend: the derive would
//! need sqlx's proc-macro crate, which builds a second copy of the drivers (see `migrations.rs`).
//!
//! Stored data is parsed here, once, at the boundary: a row that does not parse (an unknown status, a
//! session id that is not one, event data that is not JSON) becomes [`StoreError::Corrupt`], which fails
//! the one request that read it (500, the cause logged) and never the process.

use protocol::{AgentId, Event, EventSource, Session, SessionDetail, SessionId, SessionStatus};
use serde_json::value::RawValue;

use super::{StoreError, projection};

/// The columns of [`SessionRecord`], for `SELECT`.
pub(super) const SESSION_COLUMNS: &str = "id, session_id, agent_id, runtime_id, status, pid, created_at, \
     started_at, finished_at, exit_code, signal, last_seq, acked_seq, num_turns, total_cost_usd, result_seq, \
     model, result_text, error, cancel_requested_ms, conversation_id, agent_version";

/// The columns of [`EventRecord`], for `SELECT`.
pub(super) const EVENT_COLUMNS: &str = "session_id, seq, ts, source, type, data";

/// A session as stored: the projection of its events plus the control plane's bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub session_id: SessionId,
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
    /// An agent's session: its conversation and version (not written by ingest, which never changes them).
    pub conversation_id: Option<String>,
    pub agent_version: Option<i64>,
}

/// A `sessions` row as read, before its text columns are parsed.
#[derive(Debug)]
pub(super) struct SessionRecord {
    id: i64,
    session_id: String,
    agent_id: Option<String>,
    runtime_id: Option<String>,
    status: String,
    pid: Option<i64>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    exit_code: Option<i64>,
    signal: Option<String>,
    last_seq: Option<i64>,
    acked_seq: Option<i64>,
    num_turns: Option<i64>,
    total_cost_usd: Option<f64>,
    result_seq: Option<i64>,
    model: Option<String>,
    result_text: Option<String>,
    error: Option<String>,
    cancel_requested_ms: Option<i64>,
    conversation_id: Option<String>,
    agent_version: Option<i64>,
}

impl<'r, R> sqlx::FromRow<'r, R> for SessionRecord
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            session_id: row.try_get("session_id")?,
            agent_id: row.try_get("agent_id")?,
            runtime_id: row.try_get("runtime_id")?,
            status: row.try_get("status")?,
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
            conversation_id: row.try_get("conversation_id")?,
            agent_version: row.try_get("agent_version")?,
        })
    }
}

impl TryFrom<SessionRecord> for SessionRow {
    type Error = StoreError;

    fn try_from(r: SessionRecord) -> Result<Self, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("sessions row {}: {what}", r.id));
        let session_id = SessionId::parse(r.session_id.clone())
            .map_err(|e| corrupt(format!("session_id {:?}: {e}", r.session_id)))?;
        let status = r
            .status
            .parse::<SessionStatus>()
            .map_err(|e| corrupt(format!("status {:?}: {e}", r.status)))?;
        Ok(Self {
            id: r.id,
            session_id,
            agent_id: r.agent_id,
            runtime_id: r.runtime_id,
            status,
            pid: r.pid,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            exit_code: r.exit_code,
            signal: r.signal,
            last_seq: r.last_seq,
            acked_seq: r.acked_seq,
            num_turns: r.num_turns,
            total_cost_usd: r.total_cost_usd,
            result_seq: r.result_seq,
            model: r.model,
            result_text: r.result_text,
            error: r.error,
            cancel_requested_ms: r.cancel_requested_ms,
            conversation_id: r.conversation_id,
            agent_version: r.agent_version,
        })
    }
}

impl SessionRow {
    /// The wire shape of the public API.
    pub fn to_detail(&self) -> SessionDetail {
        // An agent id the seed routes stored without the checks of today shows as unknown.
        let agent_id = self
            .agent_id
            .as_deref()
            .and_then(|a| AgentId::parse(a).ok())
            .unwrap_or_else(unknown_agent);
        SessionDetail {
            session: Session {
                session_id: self.session_id.clone(),
                agent_id,
                status: self.status,
                pid: self.pid.and_then(|p| u32::try_from(p).ok()),
                created_at: self.created_at.clone(),
                started_at: self.started_at.clone(),
                finished_at: self.finished_at.clone(),
                exit_code: self.exit_code.and_then(|c| i32::try_from(c).ok()),
                signal: self.signal.clone(),
                last_seq: self.last_seq.and_then(|s| u64::try_from(s).ok()),
                num_turns: self.num_turns.and_then(|n| u64::try_from(n).ok()),
                total_cost_usd: self.total_cost_usd,
                error: self.error.clone(),
                conversation_id: self
                    .conversation_id
                    .as_deref()
                    .and_then(|c| SessionId::parse(c).ok()),
                agent_version: self.agent_version.and_then(|v| u32::try_from(v).ok()),
            },
            runtime_id: self.runtime_id.clone(),
            model: self.model.clone(),
            result_text: self.result_text.clone(),
        }
    }
}

fn unknown_agent() -> AgentId {
    AgentId::parse(projection::UNKNOWN_AGENT).expect("a valid agent id literal")
}

/// An `events` row as read, before its text columns are parsed.
#[derive(Debug)]
pub(super) struct EventRecord {
    session_id: String,
    seq: i64,
    ts: String,
    source: String,
    kind: String,
    data: String,
}

impl<'r, R> sqlx::FromRow<'r, R> for EventRecord
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            session_id: row.try_get("session_id")?,
            seq: row.try_get("seq")?,
            ts: row.try_get("ts")?,
            source: row.try_get("source")?,
            kind: row.try_get("type")?,
            data: row.try_get("data")?,
        })
    }
}

impl TryFrom<EventRecord> for Event {
    type Error = StoreError;

    fn try_from(r: EventRecord) -> Result<Self, StoreError> {
        let EventRecord {
            session_id,
            seq,
            ts,
            source,
            kind,
            data,
        } = r;
        let corrupt =
            |what: String| StoreError::Corrupt(format!("events row ({session_id:?}, {seq}): {what}"));
        let seq = u64::try_from(seq).map_err(|_| corrupt("negative seq".into()))?;
        let source = parse_source(&source).ok_or_else(|| corrupt(format!("source {source:?}")))?;
        let data = RawValue::from_string(data).map_err(|e| corrupt(format!("data: {e}")))?;
        let session_id = SessionId::parse(session_id.clone()).map_err(|e| corrupt(e.to_string()))?;
        Ok(Event {
            session_id,
            seq,
            ts,
            source,
            kind,
            data,
        })
    }
}

fn parse_source(source: &str) -> Option<EventSource> {
    match source {
        "agent" => Some(EventSource::Agent),
        "stderr" => Some(EventSource::Stderr),
        "supervisor" => Some(EventSource::Supervisor),
        _ => None,
    }
}
