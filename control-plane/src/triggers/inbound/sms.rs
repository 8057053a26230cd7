//! Twilio's inbound SMS (a form post): `MessageSid`, `From`, `To`, `Body`, and `NumMedia` pairs of
//! `MediaUrl{N}`/`MediaContentType{N}`. Media stay URLs: Twilio serves them behind the account's credentials.

use serde_json::json;

use super::form::Form;
use super::{Invalid, Limits, Normalised, Thread};

pub(crate) fn normalise(form: &Form, limits: &Limits) -> Result<Normalised, Invalid> {
    let sid = form.required("MessageSid")?;
    let from = form.required("From")?;
    let to = form.required("To")?;
    let body = form.text("Body").unwrap_or_default();
    let count = match form.text("NumMedia") {
        None => 0,
        Some(count) => count
            .trim()
            .parse::<usize>()
            .map_err(|_| Invalid::new("NumMedia is not a number"))?,
    };
    if count > limits.max_attachments {
        return Err(Invalid(format!(
            "NumMedia is {count}, over the limit of {}",
            limits.max_attachments
        )));
    }
    let media = (0..count)
        .map(|n| {
            let url = form.required(&format!("MediaUrl{n}"))?;
            let content_type = form.text(&format!("MediaContentType{n}"));
            Ok(json!({ "url": url, "contentType": content_type }))
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    Ok(Normalised {
        context: json!({ "sms": { "from": from, "to": to, "body": body, "media": media } }),
        provider_id: Some(sid),
        attachments: Vec::new(),
        thread: Thread::Sms { from, to },
        auto_submitted: false,
    })
}
