//! Raw MIME (Mailgun's `body-mime`, SendGrid's "Send Raw" `email`) read with `mail-parser`, and the
//! address lists of header values.

use mail_parser::{MessageParser, MimeHeaders as _};

use super::Invalid;
use super::attachment::Incoming;
use super::headers::{self, HeaderList};
use super::mail::Email;

/// Reads a whole mail. Its recipients are the To and Cc addresses, and its return path is left to the
/// `Return-Path` header (the loop guard reads it), until the provider's envelope says better; `field`
/// names the form field it came in.
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
                Some(name) if !name.is_empty() => format!("{} <{address}>", display_name(name)),
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
    let mut attachments = Vec::new();
    for (index, part) in message.attachments().enumerate() {
        let filename = part.attachment_name().unwrap_or("").to_owned();
        // mail-parser decodes leniently, so a broken base64 body would become a silently corrupt file.
        if part
            .content_transfer_encoding()
            .is_some_and(|encoding| encoding.eq_ignore_ascii_case("base64"))
        {
            let raw = &message.raw_message()[part.raw_body_offset() as usize..part.raw_end_offset() as usize];
            if !is_base64(raw) {
                return Err(Invalid(format!(
                    "`{field}` attachment {} ({filename}) is not valid base64",
                    index + 1
                )));
            }
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(subtype) => format!("{}/{subtype}", ct.ctype()),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase();
        attachments.push(Incoming {
            filename,
            content_type,
            data: bytes::Bytes::copy_from_slice(part.contents()),
        });
    }
    let mut email = Email::from_headers(header_list, from, recipients);
    email.subject = message.subject().unwrap_or("").to_owned();
    email.text = text;
    email.html = html;
    email.attachments = attachments;
    Ok(email)
}

/// A display name as a header would write it: quoted when it holds a character RFC 5322 reserves, so
/// `Díaz, Carol` stays one name and the value can be sent back as an address.
fn display_name(name: &str) -> String {
    if name.contains([',', ';', ':', '<', '>', '@', '"', '(', ')', '[', ']', '\\']) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name.to_owned()
    }
}

/// Base64 as RFC 2045 writes it: lines of the alphabet, padding optional at the end, nothing else.
fn is_base64(raw: &[u8]) -> bool {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = raw.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    LENIENT_PADDING.decode(compact).is_ok()
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
