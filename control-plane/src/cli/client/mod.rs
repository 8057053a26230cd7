//! The CLI's HTTP client of the public API, with its SSE reader; `agents`: the routes of agents,
//! conversations and runtimes (DESIGN.md §9).

use std::time::Duration;

use futures_util::StreamExt;
use protocol::{CancelResponse, ErrorBody, Event, EventPage, SessionDetail, SessionList};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::cli::endpoint;
use crate::cli::error::CliError;
use crate::cli::render::escape;

mod agents;
mod deliveries;
mod hooks;
mod triggers;

pub use hooks::HookAnswer;

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// One message of the follow stream.
#[derive(Debug)]
pub enum Followed {
    Event(Box<Event>),
    End,
}

impl Client {
    /// A client of the control plane at `base` (`--url`); a URL that cannot be one is a usage error.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CliError> {
        let base = endpoint::base("--url", base).map_err(CliError::Usage)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CliError::Other(anyhow::anyhow!("build http client: {e}")))?;
        Ok(Self { http, base, token })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("connect to {}: {}", self.base, error_chain(&e))))?;
        if response.status().is_success() {
            return Ok(response);
        }
        if response.status() == StatusCode::NOT_FOUND {
            let path = response.url().path().to_owned();
            let text = response.text().await.unwrap_or_default();
            return Err(match not_found(&text) {
                NotFound::Session(message) => CliError::NotFound(message),
                NotFound::WrongServer(answer) => CliError::Other(anyhow::anyhow!(
                    "{} is not an Agent Studio control plane: {path} answered 404 ({answer})",
                    self.base
                )),
            });
        }
        Err(error_from(response).await)
    }

    async fn json<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, CliError> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of {}: {e}", self.base)))
    }

    pub async fn sessions(
        &self,
        status: Option<&str>,
        agent: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SessionList, CliError> {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        if let Some(s) = status {
            query.push(("status", s.to_owned()));
        }
        if let Some(a) = agent {
            query.push(("agentId", a.to_owned()));
        }
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        self.json(
            self.request(reqwest::Method::GET, "/api/v1/sessions")
                .query(&query),
        )
        .await
    }

    pub async fn session(&self, id: &str) -> Result<SessionDetail, CliError> {
        self.json(self.request(reqwest::Method::GET, &format!("/api/v1/sessions/{id}")))
            .await
    }

    pub async fn events(&self, id: &str, after: Option<u64>, limit: u32) -> Result<EventPage, CliError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.json(
            self.request(reqwest::Method::GET, &format!("/api/v1/sessions/{id}/events"))
                .query(&query),
        )
        .await
    }

    pub async fn cancel(&self, id: &str) -> Result<(bool, CancelResponse), CliError> {
        let response = self
            .send(self.request(reqwest::Method::POST, &format!("/api/v1/sessions/{id}/cancel")))
            .await?;
        let queued = response.status() == StatusCode::ACCEPTED;
        let body = response
            .json()
            .await
            .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of {}: {e}", self.base)))?;
        Ok((queued, body))
    }

    /// Follows the session's events after `after`, calling `on` for each; returns when the stream ends.
    /// `Ok(None)` means the connection dropped before `end`: resume after the last seq seen.
    pub async fn follow(
        &self,
        id: &str,
        after: Option<u64>,
        mut on: impl FnMut(Followed) -> Result<(), CliError>,
    ) -> Result<Option<SessionDetail>, CliError> {
        let mut request = self
            .request(reqwest::Method::GET, &format!("/api/v1/sessions/{id}/events"))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(a) = after {
            request = request.header("Last-Event-ID", a.to_string());
        }
        let response = self.send(request).await?;
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut kind = String::new();
        let mut data = String::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else {
                return Ok(None);
            };
            buffer.extend_from_slice(&chunk);
            while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=newline).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    if !data.is_empty() {
                        if kind == "end" {
                            let detail: SessionDetail = serde_json::from_str(&data)
                                .map_err(|e| CliError::Other(anyhow::anyhow!("read end of stream: {e}")))?;
                            on(Followed::End)?;
                            return Ok(Some(detail));
                        }
                        let event: Event = serde_json::from_str(&data)
                            .map_err(|e| CliError::Other(anyhow::anyhow!("read event: {e}")))?;
                        on(Followed::Event(Box::new(event)))?;
                    }
                    kind.clear();
                    data.clear();
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim_start().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
        }
        Ok(None)
    }
}

/// What a control plane's 404 says.
#[derive(Debug, PartialEq, Eq)]
enum NotFound {
    /// The API's own answer: the session (or id prefix) is unknown; the server's message.
    Session(String),
    /// Anything else (an HTML page, a foreign JSON body, `no such route` from a supervisor or a server without
    /// this route): the URL points at some other server; the start of what it said.
    WrongServer(String),
}

/// Reads a 404's body: only the public API's error body with code `not_found` is a missing session.
fn not_found(body: &str) -> NotFound {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) if b.error.code == "not_found" && b.error.message != "no such route" => {
            NotFound::Session(escape::line(&b.error.message).into_owned())
        }
        _ => NotFound::WrongServer(snippet(body)),
    }
}

/// The start of a server's answer, on one line (whitespace runs become one space) and harmless to a terminal.
fn snippet(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut kept: String = text.chars().take(100).collect();
    if kept.len() < text.len() {
        kept.push('…');
    }
    escape::line(&kept).into_owned()
}

/// The error of a non-2xx answer, with the server's message.
pub async fn error_from(response: reqwest::Response) -> CliError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|b| escape::line(&b.error.message).into_owned())
        .unwrap_or_else(|_| snippet(&text));
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => CliError::Auth(message),
        StatusCode::NOT_FOUND => CliError::NotFound(message),
        _ => CliError::Other(anyhow::anyhow!("server answered {status}: {message}")),
    }
}

pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(body: &str, expect: Expect) {
        let shown = match not_found(body) {
            NotFound::Session(message) => format!("session: {message}"),
            NotFound::WrongServer(answer) => format!("wrong server: {answer}"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn only_the_apis_not_found_body_means_a_missing_session() {
        check(
            r#"{"error":{"code":"not_found","message":"session s-1 not found"}}"#,
            expect!["session: session s-1 not found"],
        );
        check(
            r#"{"error":{"code":"not_found","message":"no such route"}}"#,
            expect![[r#"wrong server: {"error":{"code":"not_found","message":"no such route"}}"#]],
        );
        check(
            r#"{"error":{"code":"gone","message":"session s-1 not found"}}"#,
            expect![[r#"wrong server: {"error":{"code":"gone","message":"session s-1 not found"}}"#]],
        );
        check(
            r#"{"message":"Not Found"}"#,
            expect![[r#"wrong server: {"message":"Not Found"}"#]],
        );
        check(
            "<html>\n<body>Not Found</body>\n</html>\n",
            expect!["wrong server: <html> <body>Not Found</body> </html>"],
        );
        check(
            &"x".repeat(150),
            expect![
                "wrong server: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"
            ],
        );
        check("", expect!["wrong server: "]);
    }
}
