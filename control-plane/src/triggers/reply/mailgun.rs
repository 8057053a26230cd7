//! Mail through Mailgun's send API: `POST /v3/{domain}/messages`, basic auth `api:{apiKey}`, a form whose
//! `h:`-prefixed fields become the message's headers.

use super::email::{self, Mail};
use super::{Answer, Outgoing, OutgoingBody, ReplyConfig, Unsendable, basic, credential, endpoint};

pub(super) fn compose(
    config: &ReplyConfig,
    base: &url::Url,
    answer: &Answer<'_>,
) -> Result<Outgoing, Unsendable> {
    let key = credential(config, "apiKey")?;
    let mail = email::mail(config, answer)?;
    // The sending domain is the one of the sender unless the account sends through another.
    let domain = config
        .credentials
        .get("domain")
        .map(String::as_str)
        .filter(|domain| !domain.is_empty())
        .unwrap_or(mail.from.domain);
    let url = endpoint(base, &["v3", domain, "messages"])?;
    Ok(Outgoing {
        url,
        headers: vec![basic("api", key)],
        message_id: Some(mail.message_id.clone()),
        body: OutgoingBody::Form(fields(config, &mail, answer.text)),
    })
}

fn fields(config: &ReplyConfig, mail: &Mail<'_>, text: &str) -> Vec<(String, String)> {
    let from = config.from.as_deref().unwrap_or(mail.from.address).trim();
    let mut fields = vec![
        ("from", from.to_owned()),
        ("to", mail.to.address.to_owned()),
        ("subject", mail.subject.clone()),
        ("text", text.to_owned()),
    ];
    if let Some(id) = &mail.in_reply_to {
        fields.push(("h:In-Reply-To", id.clone()));
    }
    if !mail.references.is_empty() {
        fields.push(("h:References", mail.references.clone()));
    }
    fields.push(("h:Auto-Submitted", "auto-replied".to_owned()));
    fields.push(("h:Message-Id", mail.message_id.clone()));
    if let Some(reply_to) = &mail.reply_to {
        fields.push(("h:Reply-To", reply_to.clone()));
    }
    fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}
