//! Verification of an inbound trigger request (DESIGN §10 "Verification"): pure functions over the raw
//! body, the headers and the URL as the provider called it, run before anything is parsed for the prompt.
//!
//! Every scheme keeps to the same rules: several secrets may be configured (rotation) and any of them may
//! match; a signature is decoded first and compared with the expected one only when the lengths agree, in
//! constant time (`mac::equal`); a signed timestamp further than the tolerance from the server's clock, in
//! either direction, is refused. A [`Refusal`] names what was wrong and never holds a secret or the
//! expected signature, so it can be logged and recorded on the delivery as it is.
//!
//! SendGrid signs with ECDSA P-256 instead (`p256`), checked with public keys; the same rules apply
//! except the constant-time compare, which a public-key check has no use for.

mod github;
mod hmac;
mod mac;
mod mailgun;
mod sendgrid;
mod standard_webhooks;
mod stripe;
mod twilio;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName};

pub use hmac::Encoding;
pub use mailgun::{MailgunFields, verify_fields as verify_mailgun_fields};

/// How far a signed timestamp may be from the server's clock when the trigger does not say
/// (`toleranceSeconds`): the providers' own default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A trigger's signing secret (an HMAC key as the provider shows it). It never prints.
#[derive(Clone)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// A trigger's `verify`: the scheme with what it needs. `None` is a variant of its own, so an unverified
/// trigger is always a choice someone wrote down, never a missing value.
#[derive(Debug, Clone)]
pub enum Verify {
    /// No verification at all: only when the trigger chose `none`.
    None,
    /// Standard Webhooks v1 (also Svix's scheme): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks {
        secrets: Vec<SigningSecret>,
        tolerance: Duration,
    },
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body; no timestamp.
    Github { secrets: Vec<SigningSecret> },
    /// Stripe: `Stripe-Signature: t=…,v1=…` over `{t}.{body}`.
    Stripe {
        secrets: Vec<SigningSecret>,
        tolerance: Duration,
    },
    /// Twilio: `X-Twilio-Signature` over the URL and the sorted form parameters (the auth tokens).
    Twilio { secrets: Vec<SigningSecret> },
    /// Mailgun: the `timestamp`, `token` and `signature` fields of a form body (the webhook signing keys).
    Mailgun {
        secrets: Vec<SigningSecret>,
        tolerance: Duration,
    },
    /// SendGrid's signed event webhook: ECDSA P-256 over `{timestamp}{body}`, with the public keys
    /// SendGrid shows (base64 DER).
    Sendgrid {
        public_keys: Vec<String>,
        tolerance: Duration,
    },
    /// Plain HMAC-SHA256 of the body in a header of the trigger's choosing.
    HmacSha256 {
        secrets: Vec<SigningSecret>,
        header: HeaderName,
        encoding: Encoding,
        /// Text before the signature, like `sha256=`; required when set.
        prefix: Option<String>,
    },
}

/// An inbound request as the provider sent it, before anything is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub body: &'a [u8],
    /// Looked up by name, in any case.
    pub headers: &'a HeaderMap,
    /// The full URL the provider called, scheme, host and query included (Twilio signs it).
    pub url: &'a str,
}

/// A request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The provider's own id of the delivery, where the scheme carries one outside the body
    /// (`webhook-id`, `X-GitHub-Delivery`, Twilio's `MessageSid`, Mailgun's `token`). Stripe's event id
    /// is in the JSON body and is read when the body is parsed, not here.
    pub provider_id: Option<String>,
}

/// Why a request was refused. Safe to log and to store: it names what was wrong, never a secret, the
/// expected signature or the signature that was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no secret is configured for this trigger")]
    NoSecret,
    #[error("missing {0}")]
    Missing(String),
    #[error("{what} is not {expected}")]
    Malformed { what: String, expected: &'static str },
    #[error("timestamp {timestamp} is more than {tolerance_seconds} s away from the server's clock")]
    OutsideTolerance { timestamp: i64, tolerance_seconds: u64 },
    #[error("secret {index} of the trigger cannot be used: {reason}")]
    UnusableSecret { index: usize, reason: &'static str },
    #[error("no secret of the trigger matched the signature")]
    NoMatch,
}

/// Checks `request` against the trigger's `scheme` at time `now`.
pub fn verify(scheme: &Verify, request: &Inbound<'_>, now: SystemTime) -> Result<Verified, Refusal> {
    match scheme {
        Verify::None => Ok(Verified { provider_id: None }),
        Verify::StandardWebhooks { secrets, tolerance } => {
            standard_webhooks::verify(secrets, request, now, *tolerance)
        }
        Verify::Github { secrets } => github::verify(secrets, request),
        Verify::Stripe { secrets, tolerance } => stripe::verify(secrets, request, now, *tolerance),
        Verify::Twilio { secrets } => twilio::verify(secrets, request),
        Verify::Mailgun { secrets, tolerance } => mailgun::verify(secrets, request, now, *tolerance),
        Verify::Sendgrid {
            public_keys,
            tolerance,
        } => sendgrid::verify(public_keys, request, now, *tolerance),
        Verify::HmacSha256 {
            secrets,
            header,
            encoding,
            prefix,
        } => hmac::verify(secrets, request, header, *encoding, prefix.as_deref()),
    }
}
