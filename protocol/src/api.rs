use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Event, Session, SessionDetail, SessionId, SessionStatus};

/// `{"error": {"code", "message"}}`: every error answer of both HTTP APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// snake_case, stable: clients branch on it.
    pub code: String,
    /// For people: says what was wrong and names the field.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// `GET /health` of the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`; `draining` once it stopped claiming and admitting (DESIGN.md §9); `shutting_down` at shutdown.
    pub status: String,
    pub version: String,
    pub runtime_id: String,
    pub uptime_seconds: u64,
    pub sessions: HealthSessions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSessions {
    pub running: usize,
    pub max: usize,
}

/// `GET /sessions` of the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionsResponse {
    pub sessions: Vec<Session>,
}

/// `POST /sessions/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelResponse {
    pub session_id: SessionId,
    /// `cancelling`, or the final status when the session had already finished.
    pub status: String,
}

/// `POST /api/internal/v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventBatch {
    pub runtime_id: String,
    pub events: Vec<Event>,
}

/// Answer to an event batch: per session, the highest seq stored with no gap below it; the sessions whose
/// events were refused (another runtime owns the session, or an event of it is invalid), none of them
/// stored while the rest of the batch was; commands for the runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestResponse {
    pub acked: BTreeMap<SessionId, u64>,
    /// Absent when nothing was refused, so an answer reads as it did before this field existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejected: BTreeMap<SessionId, ErrorDetail>,
    pub commands: Vec<Command>,
}

/// `POST /api/internal/v1/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Heartbeat {
    pub runtime_id: String,
    pub version: String,
    pub sessions: Vec<SessionId>,
    /// The runtime's `--label k=v` flags (DESIGN.md §9).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--max-sessions`.
    #[serde(default)]
    pub capacity: Option<usize>,
    /// `active`, or `draining` once the runtime stopped claiming and admitting.
    #[serde(default)]
    pub state: RuntimeState,
}

/// What a runtime is doing, as `GET /api/v1/runtimes` lists it. A runtime reports `active` or `draining`;
/// the control plane says `lost` for one whose heartbeats stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeState {
    #[default]
    Active,
    Draining,
    Lost,
}

/// `POST /api/internal/v1/claim` (DESIGN.md §9): a runtime asks for at most `free` jobs that match its labels,
/// waiting up to `wait_seconds` (at most 30) for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimRequest {
    pub runtime_id: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub free: u32,
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

/// Answer to a claim: each job an `ExecuteRequest` with the agent's context resolved and `sessionId` set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResponse {
    pub jobs: Vec<crate::ExecuteRequest>,
}

/// One entry of `GET /api/v1/runtimes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeInfo {
    pub runtime_id: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub capacity: Option<usize>,
    pub running: usize,
    pub state: RuntimeState,
    pub last_heartbeat_at: String,
}

/// `GET /api/v1/runtimes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeList {
    pub runtimes: Vec<RuntimeInfo>,
}

/// Answer to a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub commands: Vec<Command>,
}

/// Something the control plane asks a runtime to do, delivered in the answer of its next request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    #[serde(rename_all = "camelCase")]
    Cancel { session_id: SessionId },
}

/// Seed compatibility: `POST /api/internal/logs` and `/api/internal/logs/append`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyLogEntry {
    pub agent_id: String,
    pub session_id: SessionId,
    pub key: String,
    pub value: Value,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// Seed compatibility: `POST /api/internal/sessions/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacySessionStatus {
    pub session_id: SessionId,
    pub status: SessionStatus,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `GET /api/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    pub sessions: Vec<SessionDetail>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/sessions/{id}/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `after` to get the next page; the last seq of this page, or the `after` that was asked for.
    pub next_after: Option<u64>,
}
