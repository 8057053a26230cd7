//! Raw MIME (Mailgun's `body-mime`, SendGrid's "Send Raw" `email`) read with `mail-parser`, and the
//! address lists of header values.

use mail_parser::{MessageParser, MimeHeaders as _};

use super::Invalid;
use super::attachment::Incoming;
use super::email::Email;
use super::headers::{self, HeaderList};

/// Reads a whole mail. Its recipients are the To and Cc addresses and its return path the
/// `Return-Path` header, until the provider's envelope says better; `field` names the form field it came in.
pub(crate) fn read(raw: &[u8], field: &str) -> Result<Email, Invalid> {
    let message = MessageParser::default()
        .parse(raw)
        .filter(|message| !message.headers().is_empty())
        .ok_or_else(|| Invalid(format!("`{field}` is not a MIME message")))?;
    let header_list: HeaderList = message
        .headers_raw()
        .map(|(name, value)| (name.to_owned(), headers::unfold(value)))
        .collect();
    // Decoded (RFC 2047), as the providers' own `from` fields are: the template shows a name, not `=?UTF-8?…`.
    let from = message
        .from()
        .and_then(|list| list.first())
        .and_then(|addr| {
            let address = addr.address()?;
            Some(match addr.name() {
                Some(name) if !name.is_empty() => format!("{name} <{address}>"),
                _ => address.to_owned(),
            })
        })
        .ok_or_else(|| Invalid(format!("`{field}` has no From header with an address")))?;
    let recipients = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|list| list.iter())
        .filter_map(|addr| addr.address())
        .map(str::to_owned)
        .collect();
    let text = message
        .text_part(0)
        .filter(|part| !part.is_text_html())
        .and_then(|part| part.text_contents())
        .map(str::to_owned);
    let html = message
        .html_part(0)
        .filter(|part| part.is_text_html())
        .and_then(|part| part.text_contents())
        .map(str::to_owned);
    let attachments = message
        .attachments()
        .map(|part| Incoming {
            filename: part.attachment_name().unwrap_or("").to_owned(),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(subtype) => format!("{}/{subtype}", ct.ctype()),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase(),
            data: bytes::Bytes::copy_from_slice(part.contents()),
        })
        .collect();
    let mut email = Email::from_headers(header_list, from, recipients);
    email.subject = message.subject().unwrap_or("").to_owned();
    email.text = text;
    email.html = html;
    email.attachments = attachments;
    Ok(email)
}

/// The addresses of a header value such as `"Doe, Jane" <jane@example.com>, bob@example.com`, without
/// display names; a value that is not an address list gives none.
pub(crate) fn addresses(value: &str) -> Vec<String> {
    let raw = format!("To: {value}\r\n\r\n");
    let Some(message) = MessageParser::default().parse(raw.as_bytes()) else {
        return Vec::new();
    };
    message
        .to()
        .into_iter()
        .flat_map(|list| list.iter())
        .filter_map(|addr| addr.address())
        .map(str::to_owned)
        .collect()
}
