//! The client's calls of trigger definitions (DESIGN.md §10).

use protocol::{Trigger, TriggerList};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Client;
use crate::cli::error::CliError;

impl Client {
    pub async fn triggers(&self) -> Result<TriggerList, CliError> {
        self.json(self.request(Method::GET, "/api/v1/triggers")).await
    }

    pub async fn trigger(&self, id: &str) -> Result<Trigger, CliError> {
        self.json(self.request(Method::GET, &format!("/api/v1/triggers/{id}")))
            .await
    }

    /// `PUT`s the definition as read from a file; whether it made a new trigger (201), and the answer.
    pub async fn put_trigger(&self, id: &str, definition: &Value) -> Result<(bool, Trigger), CliError> {
        let response = self
            .send(
                self.request(Method::PUT, &format!("/api/v1/triggers/{id}"))
                    .json(definition),
            )
            .await?;
        let created = response.status() == StatusCode::CREATED;
        let trigger = response
            .json()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of {}: {e}", self.base)))?;
        Ok((created, trigger))
    }

    pub async fn delete_trigger(&self, id: &str) -> Result<(), CliError> {
        self.send(self.request(Method::DELETE, &format!("/api/v1/triggers/{id}")))
            .await
            .map(drop)
    }
}
