//! A trigger's hook called as its provider would (`agentctl triggers test`, DESIGN.md §10).

use reqwest::StatusCode;

use super::{Client, error_chain};
use crate::cli::error::CliError;

/// The hook's answer, whatever its status: a refusal is what the test is for.
#[derive(Debug, Clone)]
pub struct HookAnswer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Client {
    /// `/hooks/{id}` of this control plane.
    pub fn hook_url(&self, id: &str) -> String {
        format!("{}/hooks/{id}", self.base)
    }

    /// POSTs `body` to `url` with the provider's headers, and no API token: the signature is the hook's
    /// credential, and `url` may be another host (a proxy in front of the server).
    pub async fn post_hook(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HookAnswer, CliError> {
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("connect to {url}: {}", error_chain(&e))))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .text()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of {url}: {e}")))?;
        Ok(HookAnswer {
            status,
            content_type,
            body,
        })
    }
}
