//! The client's calls of agents, their queued sessions, conversations and runtimes (DESIGN.md §9).

use protocol::{
    Agent, AgentList, AgentVersions, Conversation, QueueSessionRequest, QueuedSession, RuntimeList,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Client;
use crate::cli::error::CliError;

impl Client {
    pub async fn agents(&self) -> Result<AgentList, CliError> {
        self.json(self.request(Method::GET, "/api/v1/agents")).await
    }

    /// The agent's current definition, or its version `version`.
    pub async fn agent(&self, id: &str, version: Option<u32>) -> Result<Agent, CliError> {
        let mut request = self.request(Method::GET, &format!("/api/v1/agents/{id}"));
        if let Some(v) = version {
            request = request.query(&[("version", v)]);
        }
        self.json(request).await
    }

    pub async fn agent_versions(&self, id: &str) -> Result<AgentVersions, CliError> {
        self.json(self.request(Method::GET, &format!("/api/v1/agents/{id}/versions")))
            .await
    }

    /// `PUT`s the definition as read from a file; whether it made a new agent (201), and the answer.
    pub async fn put_agent(&self, id: &str, definition: &Value) -> Result<(bool, Agent), CliError> {
        let response = self
            .send(
                self.request(Method::PUT, &format!("/api/v1/agents/{id}"))
                    .json(definition),
            )
            .await?;
        let created = response.status() == StatusCode::CREATED;
        let agent = response
            .json()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of {}: {e}", self.base)))?;
        Ok((created, agent))
    }

    pub async fn delete_agent(&self, id: &str) -> Result<(), CliError> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/agents/{id}")))
            .await
            .map(drop)
    }

    pub async fn queue_session(
        &self,
        agent: &str,
        request: &QueueSessionRequest,
    ) -> Result<QueuedSession, CliError> {
        self.json(
            self.request(Method::POST, &format!("/api/v1/agents/{agent}/sessions"))
                .json(request),
        )
        .await
    }

    pub async fn conversation(&self, id: &str) -> Result<Conversation, CliError> {
        self.json(self.request(Method::GET, &format!("/api/v1/conversations/{id}")))
            .await
    }

    pub async fn runtimes(&self) -> Result<RuntimeList, CliError> {
        self.json(self.request(Method::GET, "/api/v1/runtimes")).await
    }
}
