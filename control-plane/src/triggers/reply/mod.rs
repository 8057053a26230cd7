//! Replies (DESIGN §10 "Replies"): a succeeded session's answer, sent back through the channel its trigger
//! was reached by. [`compose`] is pure: from the trigger's `reply`, the providers' base URLs, the answer and
//! the inbound event it answers, it makes the one HTTP request to send ([`Outgoing`]), or says what is
//! missing ([`Unsendable`]). [`send`] makes that request once and classifies the outcome, so the durable
//! worker that owns the attempts decides with [`SendError::retryable`], [`SendError::delay`] (the
//! [`backoff`], or the provider's `Retry-After`) and [`MAX_ATTEMPTS`] alone. Whether a mail was sent by a
//! machine and must not be answered (RFC 3834) is decided on the way in (`inbound`'s loop guard): no reply
//! is owed for it.
//!
//! One file per channel (`twilio.rs`, `mailgun.rs`, `sendgrid.rs`, `webhook.rs`); `email.rs` holds the
//! threading both mail providers share, `address.rs` the parsing of addresses, `token.rs` the signed
//! reply addresses that bring a reply by mail back to its conversation. The durable worker that owns the
//! attempts is `triggers::replier`.

mod address;
mod backoff;
mod email;
mod mailgun;
mod send;
mod sendgrid;
pub mod token;
mod twilio;
mod webhook;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use protocol::ReplyKind;
use serde_json::Value;

pub use backoff::{BASE as BACKOFF_BASE, MAX_ATTEMPTS, backoff};
pub use send::{SendError, Sent, send};

/// The providers' API base URLs. The defaults are the real ones; tests point them at local stand-ins
/// (`agentctl serve --twilio-api-url`, `--mailgun-api-url`, `--sendgrid-api-url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Providers {
    pub twilio: url::Url,
    pub mailgun: url::Url,
    pub sendgrid: url::Url,
}

impl Default for Providers {
    fn default() -> Self {
        let url = |text: &str| url::Url::parse(text).expect("the providers' own URLs parse");
        Self {
            twilio: url("https://api.twilio.com"),
            mailgun: url("https://api.mailgun.net"),
            sendgrid: url("https://api.sendgrid.com"),
        }
    }
}

/// A trigger's `reply`, its credentials already decrypted. `Debug` shows the credentials' names only.
#[derive(Clone)]
pub struct ReplyConfig {
    pub kind: ReplyKind,
    /// `webhook`: where the answer is posted.
    pub url: Option<String>,
    /// The sender: a phone number (Twilio) or an address (Mailgun, SendGrid).
    pub from: Option<String>,
    /// `accountSid`/`authToken` (Twilio), `apiKey` and an optional `domain` (Mailgun), `apiKey`
    /// (SendGrid), `secret` (webhook, `whsec_<base64>`).
    pub credentials: BTreeMap<String, String>,
}

impl fmt::Debug for ReplyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyConfig")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("from", &self.from)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What is answered, and to what.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub trigger_id: &'a str,
    pub delivery_id: &'a str,
    pub session_id: &'a str,
    pub conversation_id: &'a str,
    /// The session's result text.
    pub text: &'a str,
    /// The normalised inbound event the session answered: `{"email": {…}}`, `{"sms": {…}}`, or a
    /// webhook's `{"body", "headers", "query"}`.
    pub context: &'a Value,
    /// A reply token ([`token::mint`]) for the conversation: a mail reply then asks to be answered at
    /// `local+<token>@domain` of `reply.from`, which threads even when a mail client drops the headers.
    pub reply_token: Option<&'a str>,
}

/// One HTTP POST to make.
#[derive(Clone, PartialEq)]
pub struct Outgoing {
    pub url: url::Url,
    /// Authorization and the channel's own headers; the content type follows from `body`.
    pub headers: Vec<(String, String)>,
    pub body: OutgoingBody,
    /// The Message-ID given to an email reply, kept so a reply to it finds the conversation.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutgoingBody {
    /// `application/x-www-form-urlencoded`, in this order.
    Form(Vec<(String, String)>),
    Json(Value),
}

impl OutgoingBody {
    /// The bytes sent, and their content type. A signature is computed over these same bytes.
    pub fn encode(&self) -> (&'static str, Vec<u8>) {
        match self {
            Self::Form(fields) => {
                let text = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish();
                ("application/x-www-form-urlencoded", text.into_bytes())
            }
            Self::Json(value) => (
                "application/json",
                serde_json::to_vec(value).expect("a JSON value always serialises"),
            ),
        }
    }
}

/// Every header value but Authorization's is shown: none of the others carries a credential (the
/// webhook's signature is keyed, not the key).
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if name.eq_ignore_ascii_case("authorization") {
                    "[redacted]"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Outgoing")
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body", &self.body)
            .field("message_id", &self.message_id)
            .finish()
    }
}

/// Why an answer cannot be sent with this configuration or to this event. Retrying does not help; the
/// message names the field (`reply.credentials.apiKey`, `context sms.from`) and never a value of a
/// credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    #[error("missing {0}")]
    Missing(String),
    #[error("{what} is not {expected}")]
    Invalid { what: String, expected: &'static str },
}

/// The request that sends `answer` back the way `config` says, at time `now` (the webhook's signed
/// timestamp). An empty answer is not sent: the providers refuse an empty SMS or mail body, and an empty
/// event says nothing.
pub fn compose(
    config: &ReplyConfig,
    providers: &Providers,
    answer: &Answer<'_>,
    now: SystemTime,
) -> Result<Outgoing, Unsendable> {
    if answer.text.trim().is_empty() {
        return Err(Unsendable::Missing("the session's result text".to_owned()));
    }
    match config.kind {
        ReplyKind::Twilio => twilio::compose(config, &providers.twilio, answer),
        ReplyKind::Mailgun => mailgun::compose(config, &providers.mailgun, answer),
        ReplyKind::Sendgrid => sendgrid::compose(config, &providers.sendgrid, answer),
        ReplyKind::Webhook => webhook::compose(config, answer, now),
    }
}

/// A credential by name; absent or empty is missing.
fn credential<'a>(config: &'a ReplyConfig, name: &str) -> Result<&'a str, Unsendable> {
    config
        .credentials
        .get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Unsendable::Missing(format!("reply.credentials.{name}")))
}

/// A text field of the inbound event, `path` from the top; absent, not a string or empty is `None`.
fn field<'a>(context: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(context, |value, key| value.get(key))?
        .as_str()
        .filter(|text| !text.trim().is_empty())
}

/// Like [`field`], for one the answer cannot do without.
fn required<'a>(context: &'a Value, path: &[&str]) -> Result<&'a str, Unsendable> {
    field(context, path).ok_or_else(|| Unsendable::Missing(format!("context {}", path.join("."))))
}

/// `base` with `segments` appended to its path, each percent-encoded (an account id or a domain from
/// the configuration cannot change the path's shape).
fn endpoint(base: &url::Url, segments: &[&str]) -> Result<url::Url, Unsendable> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| Unsendable::Invalid {
            what: format!("provider URL {base}"),
            expected: "an http(s) base URL",
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// HTTP basic authorization.
fn basic(user: &str, password: &str) -> (String, String) {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("Authorization".to_owned(), format!("Basic {encoded}"))
}
