//! Requests as the providers post them to `POST /hooks/{id}`: a Mailgun inbound form, a SendGrid Inbound
//! Parse multipart, a Twilio SMS form. Every signature is computed here, from the providers' documented
//! schemes, never with the control plane's own code.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;

/// A mail as the tests write it; the providers' encodings are made from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mail<'a> {
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) text: &'a str,
    pub(crate) message_id: &'a str,
    pub(crate) in_reply_to: Option<&'a str>,
    /// Extra headers (`Auto-Submitted`, …).
    pub(crate) headers: Vec<(&'a str, &'a str)>,
}

impl Mail<'_> {
    /// The mail's header lines, in the order a mail client writes them.
    fn header_lines(&self) -> Vec<(String, String)> {
        let mut lines = vec![
            ("From".to_owned(), self.from.to_owned()),
            ("To".to_owned(), self.to.to_owned()),
            ("Subject".to_owned(), self.subject.to_owned()),
            ("Message-Id".to_owned(), format!("<{}>", self.message_id)),
        ];
        if let Some(parent) = self.in_reply_to {
            lines.push(("In-Reply-To".to_owned(), format!("<{parent}>")));
            lines.push(("References".to_owned(), format!("<{parent}>")));
        }
        for (name, value) in &self.headers {
            lines.push(((*name).to_owned(), (*value).to_owned()));
        }
        lines
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_secs() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .to_string()
}

/// Mailgun's signature fields for now: `timestamp`, `token` and the hex HMAC-SHA256 of both with the
/// signing key.
pub(crate) fn mailgun_signature(signing_key: &str, token: &str) -> [(String, String); 3] {
    let timestamp = now_secs();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_key.as_bytes()).expect("any key");
    mac.update(format!("{timestamp}{token}").as_bytes());
    [
        ("timestamp".to_owned(), timestamp),
        ("token".to_owned(), token.to_owned()),
        ("signature".to_owned(), hex(&mac.finalize().into_bytes())),
    ]
}

/// A Mailgun inbound route's urlencoded post of `mail`, signed with `signing_key`; `token` is Mailgun's
/// random per-message value (the delivery's id).
pub(crate) fn mailgun_form(mail: &Mail<'_>, signing_key: &str, token: &str) -> String {
    let headers: Vec<[String; 2]> = mail
        .header_lines()
        .into_iter()
        .map(|(name, value)| [name, value])
        .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("recipient", mail.to)
        .append_pair("sender", mail.from)
        .append_pair("from", mail.from)
        .append_pair("subject", mail.subject)
        .append_pair("body-plain", mail.text)
        .append_pair("message-headers", &json!(headers).to_string());
    for (name, value) in mailgun_signature(signing_key, token) {
        form.append_pair(&name, &value);
    }
    form.finish()
}

/// The boundary of [`sendgrid_multipart`].
pub(crate) const SENDGRID_BOUNDARY: &str = "xYzZYsendgrid";

/// SendGrid Inbound Parse's multipart post of `mail` with one text attachment, plus `extra` top-level
/// fields (SendGrid signs nothing itself).
pub(crate) fn sendgrid_multipart(
    mail: &Mail<'_>,
    attachment: (&str, &str),
    extra: &[(String, String)],
) -> String {
    let headers: String = mail
        .header_lines()
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    let (filename, content) = attachment;
    let info = json!({"attachment1": {"filename": filename, "name": filename, "type": "text/plain"}});
    let envelope = json!({"to": [mail.to], "from": mail.from});
    let mut fields: Vec<(String, String)> = vec![
        ("headers".into(), headers),
        ("from".into(), mail.from.into()),
        ("to".into(), mail.to.into()),
        ("subject".into(), mail.subject.into()),
        ("text".into(), mail.text.into()),
        ("envelope".into(), envelope.to_string()),
        ("attachments".into(), "1".into()),
        ("attachment-info".into(), info.to_string()),
    ];
    fields.extend(extra.iter().cloned());
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{SENDGRID_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{SENDGRID_BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachment1\"; \
         filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n{content}\r\n--{SENDGRID_BOUNDARY}--\r\n"
    ));
    body
}

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, of the URL followed by
/// every POST parameter's name and value, sorted by name.
pub(crate) fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
