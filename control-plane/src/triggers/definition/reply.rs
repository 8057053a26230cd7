//! A trigger's `reply`: which channel answers which kind, the credentials each takes, and the checks of its
//! sender and URL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use protocol::validate::RequestError;
use protocol::{ReplyKind, SecretField, TriggerKind, TriggerReply};

use super::MAX_SECRET;

/// Which reply channel a kind of trigger may answer on: the provider's own channel, or a webhook.
pub fn reply_fits(kind: TriggerKind, reply: ReplyKind) -> bool {
    match reply {
        ReplyKind::Twilio => kind == TriggerKind::Sms,
        ReplyKind::Mailgun | ReplyKind::Sendgrid => kind == TriggerKind::Email,
        ReplyKind::Webhook => true,
    }
}

/// The credentials a reply kind takes, every one required.
pub fn credentials_of(reply: ReplyKind) -> &'static [&'static str] {
    match reply {
        ReplyKind::Twilio => &["accountSid", "authToken"],
        ReplyKind::Mailgun | ReplyKind::Sendgrid => &["apiKey"],
        ReplyKind::Webhook => &["secret"],
    }
}

pub(super) fn check_reply(kind: TriggerKind, reply: &TriggerReply) -> Result<(), RequestError> {
    let name = reply_name(reply.kind);
    if !reply_fits(kind, reply.kind) {
        return Err(RequestError::new(
            "reply.kind",
            format!("{name} cannot answer {kind} triggers"),
        ));
    }
    match reply.kind {
        ReplyKind::Webhook => {
            let url = reply
                .url
                .as_deref()
                .ok_or_else(|| RequestError::new("reply.url", "a webhook reply needs the url to post to"))?;
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(RequestError::new(
                        "reply.url",
                        format!("{url:?} is not an http or https URL"),
                    ));
                }
            }
            if reply.from.is_some() {
                return Err(RequestError::new("reply.from", "a webhook reply has no sender"));
            }
        }
        ReplyKind::Twilio | ReplyKind::Mailgun | ReplyKind::Sendgrid => {
            if reply.url.is_some() {
                return Err(RequestError::new(
                    "reply.url",
                    format!("is for webhook replies, not {name}"),
                ));
            }
        }
    }
    match (reply.kind, reply.from.as_deref()) {
        (ReplyKind::Mailgun | ReplyKind::Sendgrid, None) => {
            return Err(RequestError::new(
                "reply.from",
                format!("{name} needs the address to send from"),
            ));
        }
        (ReplyKind::Mailgun | ReplyKind::Sendgrid, Some(from)) if !is_address(from) => {
            return Err(RequestError::new(
                "reply.from",
                format!("{from:?} is not an address (name@example.com or Name <name@example.com>)"),
            ));
        }
        (ReplyKind::Twilio, Some(from)) if !is_phone_number(from) => {
            return Err(RequestError::new(
                "reply.from",
                format!("{from:?} is not a phone number in E.164 (+15550001111)"),
            ));
        }
        _ => {}
    }
    let allowed = credentials_of(reply.kind);
    for (credential, field) in reply.credentials.iter().flatten() {
        let at = format!("reply.credentials.{credential}");
        if !allowed.contains(&credential.as_str()) {
            return Err(RequestError::new(
                at,
                format!("{name} takes {}", allowed.join(" and ")),
            ));
        }
        if let SecretField::Value(value) = field {
            if value.is_empty() || value.len() > MAX_SECRET {
                return Err(RequestError::new(at, format!("is 1 to {MAX_SECRET} bytes")));
            }
            if reply.kind == ReplyKind::Webhook
                && !value
                    .strip_prefix("whsec_")
                    .is_some_and(|k| STANDARD.decode(k).is_ok_and(|b| !b.is_empty()))
            {
                return Err(RequestError::new(
                    at,
                    "is not a Standard Webhooks key (whsec_ and base64)",
                ));
            }
        }
    }
    Ok(())
}

/// `name@domain` or `Name <name@domain>`: enough to refuse a typo, the provider checks the rest.
pub(super) fn is_address(text: &str) -> bool {
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        (None, None) => text,
        _ => return false,
    };
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(char::is_control)
        && !address.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

pub(super) fn is_phone_number(text: &str) -> bool {
    text.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn reply_name(kind: ReplyKind) -> &'static str {
    match kind {
        ReplyKind::Twilio => "twilio",
        ReplyKind::Mailgun => "mailgun",
        ReplyKind::Sendgrid => "sendgrid",
        ReplyKind::Webhook => "webhook",
    }
}
