//! The client's calls of a trigger's deliveries and their replay (DESIGN.md §10).

use protocol::{DeliveryList, QueuedSession};
use reqwest::Method;

use super::Client;
use crate::cli::error::CliError;

impl Client {
    /// One page of a trigger's deliveries, newest first.
    pub async fn deliveries(
        &self,
        id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<DeliveryList, CliError> {
        let mut request = self
            .request(Method::GET, &format!("/api/v1/triggers/{id}/deliveries"))
            .query(&[("limit", limit.to_string())]);
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        self.json(request).await
    }

    pub async fn replay(&self, delivery_id: &str) -> Result<QueuedSession, CliError> {
        self.json(self.request(Method::POST, &format!("/api/v1/deliveries/{delivery_id}/replay")))
            .await
    }
}
