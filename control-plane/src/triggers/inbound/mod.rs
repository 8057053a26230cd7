//! Normalisation of an inbound trigger request (DESIGN §10 "Parsing"): the verified body of a webhook, a
//! provider's inbound mail or an SMS becomes one template context, the provider's id for deduplication, the
//! attachments to write into the session's workspace, the thread it belongs to and the RFC 3834 loop guard.
//!
//! Everything here is pure apart from `async` (multipart bodies are read with `multer` over the bytes we
//! already hold): no storage, no clock, no network. Malformed input is an [`Invalid`] that names the field
//! that was wrong and never repeats the body, so it can be answered and recorded as it is.

mod attachment;
mod email;
mod form;
mod headers;
mod loop_guard;
mod mail;
mod mailgun;
mod mime;
mod quote;
mod sendgrid;
mod sms;
mod thread;
mod webhook;

#[cfg(test)]
mod tests;

pub use thread::Thread;

/// The kind of trigger the request came in on (`protocol::TriggerKind` maps onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Email,
    Sms,
}

/// An inbound request after verification, as the provider sent it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The raw body, already verified.
    pub body: &'a [u8],
    /// The `Content-Type` header as sent.
    pub content_type: Option<&'a str>,
    pub headers: &'a axum::http::HeaderMap,
    /// The raw query string (`""` when there is none).
    pub query: &'a str,
}

/// Bounds on what a request may bring into a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_attachments: usize,
    pub max_attachment_bytes: usize,
    pub max_total_attachment_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attachments: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_total_attachment_bytes: 10 * 1024 * 1024,
        }
    }
}

/// What a request became.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    /// The template context (camelCase keys, absent values `null`): `{body, headers, query}` for a webhook
    /// (the request's headers), `{email, headers}` for a mail (the mail's own headers, not the provider's
    /// request's), `{sms}` for an SMS.
    pub context: serde_json::Value,
    /// The provider's own id of the message, for deduplication: the email's Message-Id (without angle
    /// brackets), the SMS's `MessageSid`, a Stripe event's `id`; `None` when the provider gives none.
    pub provider_id: Option<String>,
    pub attachments: Vec<Attachment>,
    pub thread: Thread,
    /// The message was sent by a machine (RFC 3834): it must get no automatic answer.
    pub auto_submitted: bool,
}

/// A file that came with a message, to be written into the session's workspace at `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// A safe relative path, `attachments/<name>`, unique within the message.
    pub path: String,
    /// The file name as the sender wrote it.
    pub filename: String,
    pub content_type: String,
    pub data: bytes::Bytes,
}

/// Why a request could not be normalised. It names the field and what was wrong with it, never the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Normalises a verified request of a trigger of `kind`.
pub async fn normalise(kind: Kind, request: &Request<'_>, limits: &Limits) -> Result<Normalised, Invalid> {
    match kind {
        Kind::Webhook => Ok(webhook::normalise(request)),
        Kind::Sms => sms::normalise(&form::Form::read(request, limits).await?, limits),
        Kind::Email => email::normalise(form::Form::read(request, limits).await?, limits),
    }
}
