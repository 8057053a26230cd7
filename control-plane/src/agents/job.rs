//! A claimed session as the job a runtime runs: an `ExecuteRequest` with the version's context resolved.

use std::collections::BTreeMap;

use protocol::{Agent, AgentId, ExecuteRequest, QueueSessionRequest, SessionId};

/// The job of `session_id` (conversation `conversation_id`) of version `version` of `agent`.
///
/// The environment is the agent's `env`, then the session's `env`, then the agent's secrets: a secret
/// wins, so no caller who may queue a session can replace a credential the agent's owner set.
pub fn job(
    agent_id: &AgentId,
    agent: &Agent,
    version: u32,
    session_id: &SessionId,
    conversation_id: &SessionId,
    request: &QueueSessionRequest,
    secrets: BTreeMap<String, String>,
) -> ExecuteRequest {
    let mut env = agent.env.clone();
    env.extend(request.env.clone());
    env.extend(secrets);
    ExecuteRequest {
        agent_id: agent_id.clone(),
        session_id: Some(session_id.clone()),
        prompt: request.prompt.clone(),
        env,
        storage: None,
        options: agent.options(),
        skills: agent.skills.clone(),
        files: agent.files.clone(),
        timeout_seconds: agent.timeout_seconds,
        conversation_id: Some(conversation_id.clone()),
        agent_version: Some(version),
        conversation: None,
    }
}
