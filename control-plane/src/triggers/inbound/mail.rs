//! [`Email`]: one mail as any provider's reader fills it (`mailgun.rs`, `sendgrid.rs`, `mime.rs`), which
//! `email.rs` turns into the template context. A file of its own so the readers and `email.rs` do not import
//! each other.

use super::attachment::Incoming;
use super::headers::HeaderList;

/// A mail as a provider's fields describe it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Email {
    /// The From header as sent.
    pub(crate) from: String,
    /// The recipients' addresses (the envelope's where the provider gives it).
    pub(crate) recipients: Vec<String>,
    pub(crate) subject: String,
    pub(crate) text: Option<String>,
    /// The provider's reply without quotes; computed from `text` when it has none.
    pub(crate) stripped_text: Option<String>,
    pub(crate) html: Option<String>,
    /// The mail's headers in order, which hold its ids and the loop guard's fields.
    pub(crate) headers: HeaderList,
    /// The envelope sender (SMTP `MAIL FROM`); `None` when the provider does not say.
    pub(crate) return_path: Option<String>,
    pub(crate) attachments: Vec<Incoming>,
}

impl Email {
    pub(crate) fn from_headers(headers: HeaderList, from: String, recipients: Vec<String>) -> Self {
        Self {
            from,
            recipients,
            headers,
            ..Self::default()
        }
    }
}
