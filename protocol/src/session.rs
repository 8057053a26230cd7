use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AgentId, SessionId};

/// `queued → pending → running → succeeded | failed | cancelled | timed_out`, and `lost`. `queued`: an agent's
/// session waiting in the control plane for a runtime to claim it (DESIGN.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Queued,
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Lost,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 8] = [
        Self::Queued,
        Self::Pending,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
        Self::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Lost => "lost",
        }
    }

    /// A finished session never changes status again.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Pending | Self::Running)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionStatus {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status {value:?}: expected one of {}", names.join(", "))
            })
    }
}

/// A session as the supervisor reports it (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub session_id: SessionId,
    pub agent_id: AgentId,
    pub status: SessionStatus,
    pub pid: Option<u32>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub last_seq: Option<u64>,
    pub num_turns: Option<u64>,
    pub total_cost_usd: Option<f64>,
    pub error: Option<String>,
    /// The conversation of an agent's session (DESIGN.md §9); `null` for sessions of `POST /execute`.
    #[serde(default)]
    pub conversation_id: Option<SessionId>,
    /// The agent definition's version the session ran; `null` for sessions of `POST /execute`.
    #[serde(default)]
    pub agent_version: Option<u32>,
}

impl Session {
    /// A session admitted at `created_at` that has not started yet: everything else is still unknown.
    pub fn pending(session_id: SessionId, agent_id: AgentId, created_at: String) -> Self {
        Self {
            session_id,
            agent_id,
            status: SessionStatus::Pending,
            pid: None,
            created_at,
            started_at: None,
            finished_at: None,
            exit_code: None,
            signal: None,
            last_seq: None,
            num_turns: None,
            total_cost_usd: None,
            error: None,
            conversation_id: None,
            agent_version: None,
        }
    }
}

/// A session as the control plane reports it: the supervisor's fields plus what it learned from the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    pub runtime_id: Option<String>,
    pub model: Option<String>,
    pub result_text: Option<String>,
}
