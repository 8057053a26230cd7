//! Signing a sample request the way each provider signs its own (for `agentctl triggers test`, which
//! sends a body to a trigger's `/hooks/{id}` as the provider would): the mirror of `verify`, and tested
//! against it. Pure: the caller gives the time and the delivery's id.
//!
//! One secret signs (the first of a trigger's, or one the user passes); for SendGrid it is a P-256
//! private key whose public key the trigger holds, since SendGrid keeps its own private key to itself.

mod hmac;
mod sendgrid;

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::triggers::verify::Encoding;

/// How to sign: a trigger's `verify.scheme` with what the scheme needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// Nothing is signed.
    None,
    StandardWebhooks,
    Github,
    Stripe,
    Twilio,
    Mailgun,
    Sendgrid,
    HmacSha256 {
        header: &'a str,
        encoding: Encoding,
        prefix: Option<&'a str>,
    },
}

/// The request to sign.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The raw body as it will be sent (Twilio: a urlencoded form).
    pub body: &'a [u8],
    /// The full URL it will be sent to (Twilio signs it).
    pub url: &'a str,
    pub now: SystemTime,
    /// The delivery's id where the scheme carries one: `webhook-id`, `X-GitHub-Delivery`, Mailgun's
    /// `token`. Fresh per sample, or the receiver takes it for a redelivery.
    pub id: &'a str,
}

/// What to add to the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    /// Form fields to add to the body: Mailgun's `timestamp`, `token` and `signature`.
    pub fields: Vec<(String, String)>,
}

impl Signed {
    /// A urlencoded `body` with [`Signed::fields`] appended.
    pub fn form_body(&self, body: &[u8]) -> Vec<u8> {
        if self.fields.is_empty() {
            return body.to_vec();
        }
        let extra = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.fields)
            .finish();
        let mut out = body.to_vec();
        if !out.is_empty() {
            out.push(b'&');
        }
        out.extend_from_slice(extra.as_bytes());
        out
    }
}

/// The secret cannot sign with this scheme. Names what is wrong, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signing secret is not {expected}")]
pub struct SignError {
    pub expected: &'static str,
}

/// Signs `sample` with `secret` the way `scheme` says.
pub fn sign(scheme: &Scheme<'_>, secret: &str, sample: &Sample<'_>) -> Result<Signed, SignError> {
    let timestamp = unix_seconds(sample.now);
    match *scheme {
        Scheme::None => Ok(Signed::default()),
        Scheme::StandardWebhooks => hmac::standard_webhooks(secret, sample, &timestamp),
        Scheme::Github => Ok(hmac::github(secret, sample)),
        Scheme::Stripe => Ok(hmac::stripe(secret, sample, &timestamp)),
        Scheme::Twilio => Ok(hmac::twilio(secret, sample)),
        Scheme::Mailgun => Ok(hmac::mailgun(secret, sample, &timestamp)),
        Scheme::Sendgrid => sendgrid::sign(secret, sample, &timestamp),
        Scheme::HmacSha256 {
            header,
            encoding,
            prefix,
        } => Ok(hmac::plain(secret, sample, header, encoding, prefix)),
    }
}

fn unix_seconds(now: SystemTime) -> String {
    now.duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
        .to_string()
}
