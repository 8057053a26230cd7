//! One shape for inbound mail, whichever provider posted it: the provider is told by the fields
//! present (not by configuration), its reader fills an [`Email`] (`mail.rs`), and this file makes the context,
//! the thread and the loop guard from it.

use serde_json::{Value, json};

use super::attachment;
use super::form::Form;
use super::headers;
use super::mail::Email;
use super::{Invalid, Limits, Normalised, Thread, loop_guard, mailgun, mime, quote, sendgrid};

pub(crate) fn normalise(form: Form, limits: &Limits) -> Result<Normalised, Invalid> {
    let email = if mailgun::recognises(&form) {
        mailgun::read(form)?
    } else if sendgrid::recognises(&form) {
        sendgrid::read(form)?
    } else {
        return Err(Invalid::new(
            "not an inbound mail: expected Mailgun's fields (body-plain, body-mime or recipient) \
             or SendGrid's (envelope, headers or email)",
        ));
    };
    into_normalised(email, limits)
}

fn into_normalised(email: Email, limits: &Limits) -> Result<Normalised, Invalid> {
    let attachments = attachment::collect(email.attachments, limits)?;
    let first_id = |name: &str| {
        headers::find(&email.headers, name).and_then(|value| headers::message_ids(value).into_iter().next())
    };
    let message_id = first_id("Message-Id");
    let in_reply_to = first_id("In-Reply-To");
    let references = headers::find(&email.headers, "References")
        .map(headers::message_ids)
        .unwrap_or_default();
    let from_address = mime::addresses(&email.from)
        .into_iter()
        .next()
        .unwrap_or_else(|| headers::strip_brackets(&email.from).to_owned());
    let auto_submitted =
        loop_guard::auto_submitted(&email.headers, email.return_path.as_deref(), &from_address);
    let stripped_text = email
        .stripped_text
        .clone()
        .or_else(|| email.text.as_deref().map(quote::strip_quoted));
    let listed: Vec<Value> = attachments
        .iter()
        .map(|attachment| {
            json!({
                "filename": attachment.filename,
                "contentType": attachment.content_type,
                "size": attachment.data.len(),
                "path": attachment.path,
            })
        })
        .collect();
    let context = json!({
        "email": {
            "from": email.from,
            "to": email.recipients.join(", "),
            "subject": email.subject,
            "text": email.text,
            "strippedText": stripped_text,
            "html": email.html,
            "messageId": message_id,
            "inReplyTo": in_reply_to,
            "references": references,
            "attachments": listed,
        },
        "headers": headers::list_object(&email.headers),
    });
    let reply_tokens = email
        .recipients
        .iter()
        .filter_map(|address| reply_token(address))
        .collect();
    Ok(Normalised {
        context,
        provider_id: message_id.clone(),
        attachments,
        thread: Thread::Email {
            message_id,
            in_reply_to,
            references,
            reply_tokens,
            from: from_address,
            to: email.recipients,
            subject: email.subject,
        },
        auto_submitted,
    })
}

/// The `<token>` of `local+<token>@domain`: after the last `+`, so a sender address that has a `+` of
/// its own (`support+bot@…`, answered at `support+bot+<token>@…`) still yields the token.
pub(super) fn reply_token(address: &str) -> Option<String> {
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, token) = local.rsplit_once('+')?;
    (!token.is_empty()).then(|| token.to_owned())
}
