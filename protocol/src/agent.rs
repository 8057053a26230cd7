//! Agents kept in the control plane, their queued sessions and conversations (DESIGN.md §9).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    AgentDatabase, AgentId, AgentOptions, FileSpec, Packages, SessionDetail, SessionId, SessionStatus,
    SkillSpec,
};

/// An agent definition: the body of `PUT /api/v1/agents/{id}` and, with `version`, `createdAt` and
/// `updatedAt` filled in and every secret shown as [`SecretField::State`], its answers.
///
/// `version`, `createdAt` and `updatedAt` are read-only: accepted in a body (so what `GET` answered can be
/// edited and put back) and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Agent {
    /// Optional in a body (the path names the agent); when given, it must be the path's id.
    #[serde(default)]
    pub id: Option<AgentId>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub max_turns: Option<u32>,
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub disallowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub permission_mode: Option<String>,
    #[serde(default)]
    pub max_budget_usd: Option<f64>,
    #[serde(default)]
    pub mcp_servers: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub skills: Vec<SkillSpec>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// In a body: absent keeps every stored secret; given, it is the new set, where a value replaces a
    /// secret and `{"set": true}` keeps its stored value. In answers: always `{"set": true, "updatedAt"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<BTreeMap<String, SecretField>>,
    /// Database connections, each served to the agent as an MCP server (issue 15); each `url` is a secret
    /// like those of `secrets`. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<AgentDatabase>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub runtime_selector: BTreeMap<String, String>,
    /// Packages to install before the agent starts; answers carry the pinned lockfile. Left out when
    /// absent, so the stored form of a definition without packages is what it was before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Packages>,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Agent {
    /// The SDK options of the definition, as `POST /execute` carries them.
    pub fn options(&self) -> AgentOptions {
        AgentOptions {
            model: self.model.clone(),
            max_turns: self.max_turns,
            allowed_tools: self.allowed_tools.clone(),
            disallowed_tools: self.disallowed_tools.clone(),
            system_prompt: self.system_prompt.clone(),
            permission_mode: self.permission_mode.clone(),
            max_budget_usd: self.max_budget_usd,
            mcp_servers: self.mcp_servers.clone(),
        }
    }
}

/// One secret of an agent: a value (only ever in a request body), or what answers show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretField {
    /// A new value.
    Value(String),
    /// `{"set": true, "updatedAt": …}`: in answers; in a body, keep the stored value.
    State(SecretState),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretState {
    pub set: bool,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `GET /api/v1/agents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentList {
    pub agents: Vec<Agent>,
}

/// `GET /api/v1/agents/{id}/versions`: oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentVersions {
    pub agent_id: AgentId,
    /// When the agent was deleted; its versions stay readable.
    pub deleted_at: Option<String>,
    pub versions: Vec<AgentVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentVersion {
    pub version: u32,
    pub created_at: String,
}

/// `POST /api/v1/agents/{id}/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueSessionRequest {
    pub prompt: String,
    #[serde(default)]
    pub session_id: Option<SessionId>,
    /// An existing conversation of this agent to continue; a new one (id = the session id) when absent.
    #[serde(default)]
    pub conversation_id: Option<SessionId>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files for this session's workspace, beside the agent's own (ARCHITECTURE.md "Changes to DESIGN"):
    /// how a trigger hands a mail's attachments to its session. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
}

/// Answer of `POST /api/v1/agents/{id}/sessions`: 202 when queued, 200 for an identical retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedSession {
    pub session_id: SessionId,
    pub conversation_id: SessionId,
    pub agent_version: u32,
    pub status: SessionStatus,
}

/// `GET /api/v1/conversations/{id}`: its sessions oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub conversation_id: SessionId,
    pub agent_id: AgentId,
    pub sessions: Vec<SessionDetail>,
}
