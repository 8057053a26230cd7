use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{SessionId, SessionStatus};

/// One numbered entry of a session's log (DESIGN.md §2).
///
/// `data` is kept as raw JSON: the supervisor writes the agent's line into it without re-encoding, and the
/// control plane stores it as it came. Whoever needs a field parses `data` on demand.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    pub session_id: SessionId,
    pub seq: u64,
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-25T12:00:00.123Z`.
    pub ts: String,
    pub source: EventSource,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Box<RawValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// One stdout line of the agent.
    Agent,
    /// The agent's stderr, possibly several lines grouped.
    Stderr,
    /// The supervisor's own lifecycle events.
    Supervisor,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Stderr => "stderr",
            Self::Supervisor => "supervisor",
        }
    }
}

/// Which of the agent's output streams an `output.truncated` event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Data of `session.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStarted {
    pub agent_id: String,
    pub pid: u32,
    pub runtime_id: String,
    pub runner: String,
}

/// Data of `session.finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionFinished {
    pub status: SessionStatus,
    pub exit_code: Option<i32>,
    /// The name of the signal that ended the process (`SIGKILL`), when one did.
    pub signal: Option<String>,
    pub duration_ms: u64,
    pub num_turns: Option<u64>,
    pub total_cost_usd: Option<f64>,
    pub error: Option<String>,
    pub stderr_tail: Option<String>,
}

/// Data of `output.truncated`: a line longer than `--max-line`, or output past `--max-output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputTruncated {
    pub stream: OutputStream,
    pub dropped_bytes: u64,
}

/// The longest event `type` the control plane stores, in bytes of UTF-8.
pub const MAX_EVENT_TYPE_BYTES: usize = 128;

/// The `type` the supervisor gives an agent line whose own `type` breaks [`event_type_problem`]'s rule; the
/// line itself, with its original `type`, stays the event's `data`.
pub const INVALID_EVENT_TYPE: &str = "invalid_type";

/// Why `kind` cannot be an event's `type`, or `None` when it can: one rule for both sides, so the
/// supervisor never logs an event that the control plane refuses.
pub fn event_type_problem(kind: &str) -> Option<&'static str> {
    if kind.is_empty() {
        Some("must not be empty")
    } else if kind.len() > MAX_EVENT_TYPE_BYTES {
        Some("must be at most 128 bytes")
    } else if kind.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}
