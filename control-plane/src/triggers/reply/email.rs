//! What both mail providers' replies share: who the answer goes to, the subject, the threading headers
//! (RFC 5322 `In-Reply-To`/`References`) and the Message-ID we give it.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::address::{self, Mailbox};
use super::{Answer, ReplyConfig, Unsendable, field, required};

/// A mail reply, before a provider's encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mail<'a> {
    pub(super) from: Mailbox<'a>,
    pub(super) to: Mailbox<'a>,
    pub(super) subject: String,
    /// `<id>` of the mail answered, when it had one.
    pub(super) in_reply_to: Option<String>,
    /// Its references and its own id, oldest first, space-separated; empty when it had neither.
    pub(super) references: String,
    pub(super) message_id: String,
    /// The plus address, when the answer carries a reply token.
    pub(super) reply_to: Option<String>,
}

/// The reply to the mail in `answer.context`, from `reply.from`.
pub(super) fn mail<'a>(config: &'a ReplyConfig, answer: &Answer<'a>) -> Result<Mail<'a>, Unsendable> {
    let from_text = config
        .from
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| Unsendable::Missing("reply.from".to_owned()))?;
    let from = address::mailbox(from_text).ok_or_else(|| Unsendable::Invalid {
        what: "reply.from".to_owned(),
        expected: "a mail address",
    })?;
    // RFC 5322 §3.6.2: a reply goes to Reply-To when the mail named one (inbound keeps every header of
    // the mail under `headers`, by lower-case name).
    let (to_path, to_text) = match field(answer.context, &["headers", "reply-to"]) {
        Some(text) => ("context headers.reply-to", text),
        None => (
            "context email.from",
            required(answer.context, &["email", "from"])?,
        ),
    };
    let to = address::mailbox(to_text).ok_or_else(|| Unsendable::Invalid {
        what: to_path.to_owned(),
        expected: "a mail address",
    })?;
    let message_id = field(answer.context, &["email", "messageId"]).and_then(bracketed);
    let mut references: Vec<String> = answer
        .context
        .pointer("/email/references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(bracketed)
        .collect();
    if let Some(id) = &message_id
        && references.last() != Some(id)
    {
        references.push(id.clone());
    }
    Ok(Mail {
        from,
        to,
        subject: subject(field(answer.context, &["email", "subject"])),
        in_reply_to: message_id,
        references: references.join(" "),
        message_id: new_message_id(answer, from.domain),
        reply_to: answer.reply_token.map(|token| address::plus(&from, token)),
    })
}

/// `Re: <subject>`, once: a subject that already starts with `Re:` (any case) is kept as it is.
pub(super) fn subject(received: Option<&str>) -> String {
    let received = one_line(received.unwrap_or_default());
    let received = received.trim();
    if received.is_empty() {
        return "Re: (no subject)".to_owned();
    }
    let already = received
        .get(..3)
        .is_some_and(|start| start.eq_ignore_ascii_case("re:"));
    if already {
        received.to_owned()
    } else {
        format!("Re: {received}")
    }
}

/// A message id in angle brackets, whichever way the inbound side kept it; `None` for an empty one or
/// one with a space or a control character in it. The ids come from a stranger's mail and go into our
/// headers: a line break in one would let its sender add headers (a `Bcc:`) to the answer.
fn bracketed(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let clean = !id.is_empty()
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    clean.then(|| format!("<{id}>"))
}

/// Text for a header on one line: control characters (CR, LF among them) become spaces, for the same
/// reason as in [`bracketed`].
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The Message-ID of the reply: derived from the trigger, the delivery and the session rather than
/// drawn at random, so `compose` stays pure and every retry of one reply is recognisably the same mail
/// (a receiver that got a first attempt whose answer was lost drops the copy). 128 bits of SHA-256.
fn new_message_id(answer: &Answer<'_>, domain: &str) -> String {
    let mut hash = Sha256::new();
    for part in [answer.trigger_id, answer.delivery_id, answer.session_id] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    format!("<{}@{domain}>", hex::encode(&digest[..16]))
}
