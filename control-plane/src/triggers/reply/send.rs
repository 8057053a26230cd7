//! One attempt at sending an [`Outgoing`], and what its outcome means for the next one.

use std::time::Duration;

use super::Outgoing;

/// How long one attempt may take: Standard Webhooks advises 15–30 s, and the providers answer in far less.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a provider's answer an error keeps.
const ANSWER_BYTES: usize = 200;
/// The longest `Retry-After` obeyed: a provider asking for more is waited on in steps of this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub status: u16,
    /// The provider's id of the message where it gives one: Twilio's `sid`, Mailgun's `id`, SendGrid's
    /// `X-Message-Id` header.
    pub provider_id: Option<String>,
}

/// An attempt that did not deliver. `message` names the host and the status with at most 200 bytes of
/// the provider's answer, never a header we sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Whether another attempt may succeed: connection trouble, timeouts, 408, 429 and 5xx.
    pub retryable: bool,
    /// The provider's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    pub message: String,
}

impl SendError {
    /// The wait before the next attempt: the backoff, or the provider's `Retry-After` when it asks for
    /// longer (bounded, so a bad header cannot park a reply for good).
    pub fn delay(&self, base: Duration, attempt: u32, jitter: f64) -> Duration {
        let asked = self.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER);
        super::backoff(base, attempt, jitter).max(asked)
    }
}

/// What an HTTP status means for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Sent,
    Retry,
    /// Refused for good: our request is wrong (credentials, addresses), and sending it again changes nothing.
    Refused,
}

pub(super) fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Sent,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// Makes the request once.
pub async fn send(client: &reqwest::Client, outgoing: &Outgoing) -> Result<Sent, SendError> {
    let host = outgoing.url.host_str().unwrap_or("the provider").to_owned();
    let (content_type, body) = outgoing.body.encode();
    let mut request = client
        .post(outgoing.url.clone())
        .timeout(TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    for (name, value) in &outgoing.headers {
        let Ok(mut value) = reqwest::header::HeaderValue::from_str(value) else {
            // Named, not shown: the value may be a credential.
            return Err(SendError {
                retryable: false,
                retry_after: None,
                message: format!("header {name} of the reply is not a valid header value"),
            });
        };
        // Kept out of HTTP/2 header compression tables and out of reqwest's Debug output.
        value.set_sensitive(name.eq_ignore_ascii_case("authorization"));
        request = request.header(name.as_str(), value);
    }
    let response = request.send().await.map_err(|error| SendError {
        // A request that could not even be built will not build next time either.
        retryable: !error.is_builder(),
        retry_after: None,
        message: format!("send to {host}: {}", chain(&error.without_url())),
    })?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let header_id = response
        .headers()
        .get("x-message-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    // A lost answer body after a 2xx is still a sent message: retrying would send it twice.
    let answer = response.bytes().await.unwrap_or_default();
    match classify(status.as_u16()) {
        Verdict::Sent => Ok(Sent {
            status: status.as_u16(),
            provider_id: header_id.or_else(|| body_id(&answer)),
        }),
        verdict => Err(SendError {
            retryable: verdict == Verdict::Retry,
            retry_after,
            message: format!("{host} answered {status}: {}", excerpt(&answer)),
        }),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and ignored).
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The message id in a JSON answer: Twilio's `sid`, Mailgun's `id`.
fn body_id(answer: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    ["sid", "id"]
        .iter()
        .find_map(|key| value.get(key)?.as_str().map(str::to_owned))
}

/// At most [`ANSWER_BYTES`] of an answer, cut on a character boundary, on one line.
pub(super) fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let mut end = text.len().min(ANSWER_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut: String = text[..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut = cut.trim();
    if cut.is_empty() {
        "(no answer body)".to_owned()
    } else if end < text.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
