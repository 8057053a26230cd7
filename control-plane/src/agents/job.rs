//! A claimed session as the job a runtime runs: an `ExecuteRequest` with the version's context resolved.

use std::collections::BTreeMap;

use protocol::{Agent, AgentId, ExecuteRequest, QueueSessionRequest, SessionId};

/// The job of `session_id` (conversation `conversation_id`) of version `version` of `agent`.
///
/// The files are the agent's, then the session's own (a trigger's attachments); a path given twice is
/// refused by the runtime's checks. The environment is the agent's `env`, then the session's `env`, then the agent's secrets: a secret
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
    let mut files = agent.files.clone();
    files.extend(request.files.iter().cloned());
    ExecuteRequest {
        agent_id: agent_id.clone(),
        session_id: Some(session_id.clone()),
        prompt: request.prompt.clone(),
        env,
        storage: None,
        options: agent.options(),
        skills: agent.skills.clone(),
        files,
        timeout_seconds: agent.timeout_seconds,
        conversation_id: Some(conversation_id.clone()),
        agent_version: Some(version),
        conversation: None,
        // The claim fills them in from the sealed URLs (`super::databases::resolve`).
        databases: Vec::new(),
        packages: agent.packages.clone(),
    }
}
