//! Triggers (DESIGN.md §10): a definition that turns inbound requests (signed webhooks, email, SMS) into
//! sessions of one agent, and the deliveries it received.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AgentId, SecretField, SessionId, TriggerId};

/// `PUT/GET /api/v1/triggers/{id}`. `verify.secrets` and `reply.credentials` are write-only: an answer
/// holds `{"set": true, "updatedAt": …}` in place of each value, and a PUT may send that back to keep one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    #[serde(default)]
    pub id: Option<TriggerId>,
    pub agent_id: AgentId,
    pub kind: TriggerKind,
    pub verify: TriggerVerify,
    /// A minijinja template over the normalised event (`email`, `sms`, or `body`/`headers`/`query`).
    pub prompt: String,
    /// A template for the conversation key; absent: the email thread, the SMS pair, none for webhooks.
    #[serde(default)]
    pub conversation: Option<String>,
    #[serde(default)]
    pub reply: Option<TriggerReply>,
    #[serde(default)]
    pub debounce_seconds: u32,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Answers only: where the provider posts, `/hooks/{id}`.
    #[serde(default)]
    pub hook_path: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Webhook,
    Email,
    Sms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerVerify {
    pub scheme: VerifyScheme,
    /// Signing secrets, any of which may match (rotation); SendGrid's public keys. Write-only.
    #[serde(default)]
    pub secrets: Option<Vec<SecretField>>,
    /// `hmac-sha256` only: the header carrying the signature.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac-sha256` only.
    #[serde(default)]
    pub encoding: Option<SignatureEncoding>,
    /// `hmac-sha256` only: text before the signature, like `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Schemes with a signed timestamp; 300 when absent.
    #[serde(default)]
    pub tolerance_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyScheme {
    StandardWebhooks,
    Github,
    Stripe,
    HmacSha256,
    Twilio,
    Mailgun,
    Sendgrid,
    /// No verification: only when chosen, and flagged wherever the trigger is shown.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerReply {
    pub kind: ReplyKind,
    /// `webhook` only: where the answer is posted.
    #[serde(default)]
    pub url: Option<String>,
    /// The sender: a phone number (Twilio) or an address (Mailgun, SendGrid).
    #[serde(default)]
    pub from: Option<String>,
    /// Write-only: `accountSid`/`authToken` (Twilio), `apiKey` (Mailgun, SendGrid), `secret` (webhook).
    #[serde(default)]
    pub credentials: Option<BTreeMap<String, SecretField>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyKind {
    Twilio,
    Mailgun,
    Sendgrid,
    Webhook,
}

/// `GET /api/v1/triggers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerList {
    pub triggers: Vec<Trigger>,
}

/// `POST /api/v1/triggers/{id}/preview`: a sample request. `body` as a string is the raw body as the
/// provider would send it; any other JSON value is sent as its JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewRequest {
    pub body: Value,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The query string, without `?`.
    #[serde(default)]
    pub query: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResponse {
    pub prompt: String,
    pub conversation_key: Option<String>,
}

/// What became of an inbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// The signature did not verify (401); no body kept.
    Refused,
    /// Verified, but the body or its prompt could not be made (400); `error` says why.
    Invalid,
    /// The trigger is disabled; recorded, nothing started.
    Disabled,
    /// A redelivery of a provider id already received: recorded, nothing started.
    Duplicate,
    /// Held for `debounceSeconds`, to be joined with the rest of its burst into one session.
    Waiting,
    /// A session was queued for it (`sessionId`).
    Queued,
}

/// `GET /api/v1/triggers/{id}/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub delivery_id: String,
    pub received_at: String,
    pub provider_id: Option<String>,
    pub verified: bool,
    pub duplicate: bool,
    pub session_id: Option<SessionId>,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    /// The answer sent back for its session, when the trigger replies.
    pub reply: Option<DeliveryReply>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReply {
    pub status: ReplyStatus,
    pub attempts: u32,
    pub error: Option<String>,
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    /// The session has not finished, or the answer is being retried.
    Pending,
    Sent,
    /// Out of attempts, or refused by the provider; `error` says why.
    Failed,
    /// Nothing to send: the session did not succeed, or the message was automatic (RFC 3834).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    pub next_cursor: Option<String>,
}

impl std::fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Webhook => "webhook",
            Self::Email => "email",
            Self::Sms => "sms",
        })
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Refused => "refused",
            Self::Invalid => "invalid",
            Self::Disabled => "disabled",
            Self::Duplicate => "duplicate",
            Self::Waiting => "waiting",
            Self::Queued => "queued",
        })
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "refused" => Self::Refused,
            "invalid" => Self::Invalid,
            "disabled" => Self::Disabled,
            "duplicate" => Self::Duplicate,
            "waiting" => Self::Waiting,
            "queued" => Self::Queued,
            other => return Err(format!("unknown delivery status {other:?}")),
        })
    }
}

impl std::str::FromStr for ReplyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            other => return Err(format!("unknown reply status {other:?}")),
        })
    }
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}
