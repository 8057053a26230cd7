//! Mail through SendGrid's v3 Mail Send API: `POST /v3/mail/send`, `Authorization: Bearer {apiKey}`, a
//! JSON body of `personalizations` (the recipients), `from`, `reply_to`, `subject`, `content` and
//! `headers` (SendGrid's "v3 Mail Send" reference).

use serde_json::{Map, Value, json};

use super::address::Mailbox;
use super::email::{self, Mail};
use super::{Answer, Outgoing, OutgoingBody, ReplyConfig, Unsendable, credential, endpoint};

pub(super) fn compose(
    config: &ReplyConfig,
    base: &url::Url,
    answer: &Answer<'_>,
) -> Result<Outgoing, Unsendable> {
    let key = credential(config, "apiKey")?;
    let mail = email::mail(config, answer)?;
    let url = endpoint(base, &["v3", "mail", "send"])?;
    Ok(Outgoing {
        url,
        headers: vec![("Authorization".to_owned(), format!("Bearer {key}"))],
        message_id: Some(mail.message_id.clone()),
        body: OutgoingBody::Json(body(&mail, answer.text)),
    })
}

fn body(mail: &Mail<'_>, text: &str) -> Value {
    let mut headers = Map::new();
    if let Some(id) = &mail.in_reply_to {
        headers.insert("In-Reply-To".to_owned(), json!(id));
    }
    if !mail.references.is_empty() {
        headers.insert("References".to_owned(), json!(mail.references));
    }
    headers.insert("Auto-Submitted".to_owned(), json!("auto-replied"));
    headers.insert("Message-ID".to_owned(), json!(mail.message_id));
    let mut body = json!({
        "personalizations": [{"to": [address(&mail.to)]}],
        "from": address(&mail.from),
        "subject": mail.subject,
        "content": [{"type": "text/plain", "value": text}],
        "headers": headers,
    });
    if let Some(reply_to) = &mail.reply_to {
        body["reply_to"] = json!({"email": reply_to});
    }
    body
}

/// SendGrid's email object: `{"email"}` with `"name"` when there is one.
fn address(mailbox: &Mailbox<'_>) -> Value {
    match mailbox.name {
        Some(name) => json!({"email": mailbox.address, "name": name}),
        None => json!({"email": mailbox.address}),
    }
}
