//! The HTTP side of delivery: one request per batch or heartbeat, and what an answer's status means.

use std::io::Write;
use std::time::Duration;

use protocol::{Heartbeat, HeartbeatResponse, IngestResponse};

use super::destination::Destination;

/// Per attempt; the control plane answers within 10 s, so a slow commit is not retried while running.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What an answer's status says about the batch that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: stored.
    Accepted,
    /// A passing problem (408, 429, 5xx): send it again, after `Retry-After` when given.
    Retry,
    /// The destination is not set up to take it (wrong credentials, wrong URL, any other 4xx): an
    /// operator can fix that, so keep everything and retry, slowly.
    Misconfigured,
    /// 413: send it in smaller pieces.
    TooLarge,
    /// 400, 422: this batch is invalid and never will be accepted: dead-letter it.
    Rejected,
}

/// The verdict of an HTTP status on a batch.
///
/// Only 400 and 422 say that *this batch* is invalid; every other refusal (401, 403, 404, 405, 409, 410,
/// a redirect, …) says the destination is not the one it should be, and an operator can fix that: a
/// control-plane URL with a wrong path must not move every event to the dead-letter directory.
pub(crate) fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        413 => Verdict::TooLarge,
        400 | 422 => Verdict::Rejected,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Misconfigured,
    }
}

/// Why a batch was not delivered.
#[derive(Debug)]
pub(super) enum SendError {
    /// Try again later, after at least this long if the server said so.
    Retry { reason: String, after: Option<Duration> },
    /// The destination is misconfigured: try again, slowly.
    Misconfigured { status: u16, body: String },
    /// 413: send it in smaller pieces.
    TooLarge,
    /// It will never be accepted.
    Rejected { status: u16, body: String },
}

/// The client for one destination.
#[derive(Debug)]
pub(crate) struct Transport {
    dest: Destination,
    client: reqwest::Client,
}

impl Transport {
    pub(super) fn new(dest: Destination) -> Self {
        Self {
            dest,
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client with default TLS roots builds"),
        }
    }

    pub(crate) fn dest(&self) -> &Destination {
        &self.dest
    }

    /// A POST to `<destination>/<path>` with its key: every request to a destination is built here.
    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(self.dest.endpoint(path));
        match self.dest.key() {
            Some(key) => request.bearer_auth(key.expose()),
            None => request,
        }
    }

    /// Sends one batch body (gzipped on the way).
    pub(super) async fn send_batch(&self, body: &[u8]) -> Result<IngestResponse, SendError> {
        let request = self
            .post("api/internal/v1/events")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzip(body));
        let response = request.send().await.map_err(|e| SendError::Retry {
            reason: error_chain(&e),
            after: None,
        })?;
        let status = response.status();
        let retry_after = retry_after(&response);
        if classify(status.as_u16()) == Verdict::Accepted {
            let text = response.bytes().await.map_err(|e| SendError::Retry {
                reason: error_chain(&e),
                after: None,
            })?;
            return serde_json::from_slice(&text).map_err(|e| SendError::Retry {
                reason: format!("unreadable answer: {e}"),
                after: None,
            });
        }
        let body = response.text().await.unwrap_or_default();
        let code = status.as_u16();
        Err(match classify(code) {
            Verdict::Accepted => unreachable!("handled above"),
            Verdict::TooLarge => SendError::TooLarge,
            Verdict::Retry => SendError::Retry {
                reason: format!("{status}: {body}"),
                after: retry_after,
            },
            Verdict::Misconfigured => SendError::Misconfigured { status: code, body },
            Verdict::Rejected => SendError::Rejected { status: code, body },
        })
    }

    /// Sends one heartbeat; its answer may carry commands.
    pub(super) async fn heartbeat(&self, beat: &Heartbeat) -> Option<HeartbeatResponse> {
        let url = self.dest.display();
        match self.post("api/internal/v1/heartbeat").json(beat).send().await {
            Ok(response) if response.status().is_success() => response.json().await.ok(),
            Ok(response) => {
                tracing::warn!(url = %url, status = %response.status(), "heartbeat refused");
                None
            }
            Err(err) => {
                tracing::debug!(url = %url, error = %error_chain(&err), "heartbeat failed");
                None
            }
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `Retry-After` of an answer, in seconds (the only form a control plane sends).
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(statuses: &[u16], expect: Expect) {
        let verdicts: Vec<String> = statuses
            .iter()
            .map(|status| format!("{status} {:?}", classify(*status)))
            .collect();
        expect.assert_eq(&verdicts.join("\n"));
    }

    #[test]
    fn each_status_gets_a_verdict_on_the_batch() {
        check(
            &[
                200, 202, 301, 400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422, 429, 500, 503,
            ],
            expect![[r#"
                200 Accepted
                202 Accepted
                301 Misconfigured
                400 Rejected
                401 Misconfigured
                403 Misconfigured
                404 Misconfigured
                405 Misconfigured
                408 Retry
                409 Misconfigured
                410 Misconfigured
                413 TooLarge
                415 Misconfigured
                422 Rejected
                429 Retry
                500 Retry
                503 Retry"#]],
        );
    }
}
