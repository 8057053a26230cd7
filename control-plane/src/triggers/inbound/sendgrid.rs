//! SendGrid's Inbound Parse: a multipart form with the raw header block (`headers`), the bodies, the
//! SMTP `envelope` and `attachment1..N` described by `attachment-info`; or, with "Send Raw", the whole
//! mail as `email`.

use std::collections::HashMap;

use mail_parser::decoders::charsets::map::charset_decoder;
use serde::Deserialize;
use serde_json::Value;

use super::attachment::Incoming;
use super::form::Form;
use super::mail::Email;
use super::{Invalid, headers, mime};

/// The SMTP envelope: "exact addresses, safe to use without further parsing".
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    to: Vec<String>,
    from: Option<String>,
}

pub(crate) fn recognises(form: &Form) -> bool {
    ["envelope", "headers", "email"].iter().any(|name| form.has(name))
}

pub(crate) fn read(form: Form) -> Result<Email, Invalid> {
    let envelope = form
        .text("envelope")
        .map(|raw| {
            serde_json::from_str::<Envelope>(&raw)
                .map_err(|_| Invalid::new("envelope is not a JSON object with `to` and `from`"))
        })
        .transpose()?;
    let mut email = match form.field("email") {
        Some(raw) => mime::read(&raw.data, "email")?,
        None => parsed(&form)?,
    };
    if let Some(envelope) = envelope {
        if !envelope.to.is_empty() {
            email.recipients = envelope.to;
        }
        email.return_path = envelope.from;
    }
    if email.recipients.is_empty() {
        return Err(Invalid::new(
            "no recipient: neither `envelope` nor `to` holds an address",
        ));
    }
    Ok(email)
}

/// The parsed-fields variant.
fn parsed(form: &Form) -> Result<Email, Invalid> {
    let charsets = Charsets::read(form)?;
    let from = charsets
        .text(form, "from")
        .ok_or_else(|| Invalid::new("missing field `from`"))?;
    let header_list = headers::parse_block(&form.text("headers").unwrap_or_default());
    let recipients = charsets
        .text(form, "to")
        .map(|to| mime::addresses(&to))
        .unwrap_or_default();
    let mut email = Email::from_headers(header_list, from, recipients);
    email.subject = charsets.text(form, "subject").unwrap_or_default();
    email.text = charsets.text(form, "text");
    email.html = charsets.text(form, "html");
    email.attachments = attachments(form)?;
    Ok(email)
}

/// `attachment1..N`, as many as `attachments` says, named and typed by `attachment-info` where it has them.
fn attachments(form: &Form) -> Result<Vec<Incoming>, Invalid> {
    let count = match form.text("attachments") {
        Some(count) => count
            .trim()
            .parse::<usize>()
            .map_err(|_| Invalid::new("attachments is not a number"))?,
        None => 0,
    };
    let info = match form.text("attachment-info") {
        Some(raw) => match serde_json::from_str::<Value>(&raw) {
            Ok(info @ Value::Object(_)) => info,
            _ => return Err(Invalid::new("attachment-info is not a JSON object")),
        },
        None => Value::Null,
    };
    (1..=count)
        .map(|n| {
            let name = format!("attachment{n}");
            let field = form
                .field(&name)
                .ok_or_else(|| Invalid(format!("attachments is {count} but `{name}` is missing")))?;
            let described = |key: &str| {
                info.get(&name)
                    .and_then(|entry| entry.get(key))
                    .and_then(Value::as_str)
            };
            Ok(Incoming {
                filename: described("filename")
                    .map(str::to_owned)
                    .or_else(|| field.filename.clone())
                    .unwrap_or_default(),
                content_type: described("type")
                    .map(str::to_owned)
                    .or_else(|| field.content_type.clone())
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                data: field.data.clone(),
            })
        })
        .collect()
}

/// SendGrid passes `from`, `to`, `subject`, `text` and `html` through in the mail's own charsets and
/// names them in `charsets` (`{"text": "iso-8859-1", …}`).
struct Charsets(HashMap<String, String>);

impl Charsets {
    fn read(form: &Form) -> Result<Self, Invalid> {
        match form.text("charsets") {
            None => Ok(Self(HashMap::new())),
            Some(raw) => serde_json::from_str(&raw)
                .map(Self)
                .map_err(|_| Invalid::new("charsets is not a JSON object")),
        }
    }

    /// A field decoded by its charset; UTF-8 (lossy) when none is named or the charset is unknown.
    fn text(&self, form: &Form, name: &str) -> Option<String> {
        let field = form.field(name)?;
        let decoder = self
            .0
            .get(name)
            .and_then(|charset| charset_decoder(charset.as_bytes()));
        Some(match decoder {
            Some(decode) => decode(&field.data),
            None => String::from_utf8_lossy(&field.data).into_owned(),
        })
    }
}
