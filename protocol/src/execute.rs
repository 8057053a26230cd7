use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AgentId, DatabaseSpec, Packages, SessionId};

/// Body of `POST /execute` (DESIGN.md §3).
///
/// Unknown fields are refused rather than ignored: a misspelt option (`maxturns`) must be a 400 that names
/// it, not an agent that silently runs without the limit its caller asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteRequest {
    pub agent_id: AgentId,
    #[serde(default)]
    pub session_id: Option<SessionId>,
    pub prompt: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub storage: Option<StorageSpec>,
    #[serde(default)]
    pub options: AgentOptions,
    #[serde(default)]
    pub skills: Vec<SkillSpec>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// The conversation this session continues (DESIGN.md §9); set by the control plane in a claimed job.
    #[serde(default)]
    pub conversation_id: Option<SessionId>,
    /// The agent definition's version this job was resolved from; set by the control plane in a claimed job.
    #[serde(default)]
    pub agent_version: Option<u32>,
    /// What the previous turn of the conversation left for the SDK to resume; set by the control plane in a
    /// claimed job, absent for a conversation's first turn.
    #[serde(default)]
    pub conversation: Option<ConversationState>,
    /// Database connections served to the agent as MCP servers (issue 15); each URL is redacted from the
    /// events like an `env` value. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseSpec>,
    /// Packages the runtime installs before the agent starts, from the lockfile (required with `npm`).
    /// Left out when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Packages>,
}

/// The bundled CLI's own session files of a conversation's latest turn (DESIGN.md §9, agent-runner/README.md).
///
/// The runner writes `files` under its config dir at the same relative paths, moves absolute paths into
/// `config_dir` (the previous turn's) to its own, and resumes `sdk_session_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversationState {
    pub sdk_session_id: String,
    pub config_dir: String,
    /// Paths relative to the config dir: `projects/<dir>/<id>.jsonl` and files below `projects/<dir>/<id>/`.
    pub files: Vec<FileSpec>,
}

/// Where this session's events go instead of the configured control plane (the seed's field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub api_url: String,
    #[serde(default)]
    pub api_key: Option<String>,
}

/// The options handed to the SDK's `query()`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentOptions {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub max_turns: Option<u32>,
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub disallowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub permission_mode: Option<String>,
    #[serde(default)]
    pub max_budget_usd: Option<f64>,
    /// Passed to the SDK as given: `{"name": {"command": …, "args": […]}}` and the other server kinds.
    #[serde(default)]
    pub mcp_servers: Option<BTreeMap<String, Value>>,
}

/// A skill written to `<session workspace>/.claude/skills/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillSpec {
    pub name: String,
    /// Relative path inside the skill's folder → UTF-8 content.
    pub files: BTreeMap<String, String>,
}

/// A file written under the session workspace before the agent starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub content: String,
    #[serde(default)]
    pub encoding: FileEncoding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileEncoding {
    #[default]
    Utf8,
    Base64,
}

/// 202 answer of `POST /execute` (200 with the same shape when an identical retry finds the session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteResponse {
    pub success: bool,
    pub agent_id: AgentId,
    pub session_id: SessionId,
    pub status: String,
}

/// The job spec the supervisor writes to the runner's stdin (one JSON document, then EOF).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunnerJob {
    pub session_id: SessionId,
    pub agent_id: AgentId,
    pub prompt: String,
    /// The session's working directory; the runner passes it to `query()` as `cwd`.
    pub cwd: String,
    pub options: AgentOptions,
    /// The conversation to resume, copied from the request; null for a first turn.
    #[serde(default)]
    pub conversation: Option<ConversationState>,
    /// The databases to serve as MCP servers, copied from the request. Left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseSpec>,
}
