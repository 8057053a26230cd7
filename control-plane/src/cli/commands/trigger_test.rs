//! `agentctl triggers test ID --body FILE`: sends a sample to a trigger's hook signed the way its provider
//! signs (`triggers::sign`), and prints what the hook answered (DESIGN.md §10). The secret comes from
//! `--secret-file` or AGENTCTL_TRIGGER_SECRET, never from the command line; for SendGrid it is a P-256
//! private key whose public key the trigger holds.
//!
//! The request is built by pure functions ([`content_type`], [`signed_body`]) with table tests.

use std::path::Path;
use std::time::SystemTime;

use protocol::{SignatureEncoding, Trigger, TriggerKind, TriggerVerify, VerifyScheme};
use serde_json::Value;

use crate::cli::args::TriggerTestArgs;
use crate::cli::client::{Client, HookAnswer};
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render::escape;
use crate::cli::terminal::out;
use crate::triggers::sign::{self, Encoding, Scheme, Signed};

/// Where the secret may come from besides `--secret-file`.
const SECRET_ENV: &str = "AGENTCTL_TRIGGER_SECRET";

pub(super) async fn test(client: &Client, args: &TriggerTestArgs) -> Result<Exit, CliError> {
    let id = protocol::TriggerId::parse(&args.id)
        .map_err(|e| CliError::Usage(format!("id: {e} (got {:?})", args.id)))?;
    let body = std::fs::read(&args.body)
        .map_err(|e| CliError::Usage(format!("--body {}: {e}", args.body.display())))?;
    let trigger = client.trigger(id.as_str()).await?;
    let scheme = scheme(&trigger.verify)?;
    let secret = match scheme {
        Scheme::None => String::new(),
        _ => secret(args.secret_file.as_deref())?,
    };
    let url = args
        .hook_url
        .clone()
        .unwrap_or_else(|| client.hook_url(id.as_str()));
    let content_type = content_type(args.content_type.as_deref(), &trigger, &body);
    let delivery = uuid::Uuid::new_v4().to_string();
    let sample = sign::Sample {
        body: &body,
        url: &url,
        now: SystemTime::now(),
        id: &delivery,
    };
    let signed = sign::sign(&scheme, &secret, &sample).map_err(|e| CliError::Usage(e.to_string()))?;
    let body = signed_body(&content_type, &body, &signed).map_err(CliError::Usage)?;
    let answer = client
        .post_hook(&url, &content_type, &signed.headers, body)
        .await?;
    out(&render(&answer))?;
    Ok(if answer.status.is_success() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

/// How the trigger's provider signs.
fn scheme(verify: &TriggerVerify) -> Result<Scheme<'_>, CliError> {
    Ok(match verify.scheme {
        VerifyScheme::None => Scheme::None,
        VerifyScheme::StandardWebhooks => Scheme::StandardWebhooks,
        VerifyScheme::Github => Scheme::Github,
        VerifyScheme::Stripe => Scheme::Stripe,
        VerifyScheme::Twilio => Scheme::Twilio,
        VerifyScheme::Mailgun => Scheme::Mailgun,
        VerifyScheme::Sendgrid => Scheme::Sendgrid,
        VerifyScheme::HmacSha256 => {
            let missing = |field: &str| {
                CliError::Other(anyhow::anyhow!(
                    "the trigger's verify has no {field}: it cannot be signed"
                ))
            };
            Scheme::HmacSha256 {
                header: verify.header.as_deref().ok_or_else(|| missing("header"))?,
                encoding: match verify.encoding.ok_or_else(|| missing("encoding"))? {
                    SignatureEncoding::Hex => Encoding::Hex,
                    SignatureEncoding::Base64 => Encoding::Base64,
                },
                prefix: verify.prefix.as_deref(),
            }
        }
    })
}

/// The signing secret from `--secret-file` (its text without surrounding blank space, so a PEM key keeps
/// its lines) or the environment. The messages name where it was looked for, never a value.
fn secret(file: Option<&Path>) -> Result<String, CliError> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("--secret-file {}: {e}", path.display())))?,
        None => std::env::var(SECRET_ENV).unwrap_or_default(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::Usage(format!(
            "no signing secret: give --secret-file FILE or set {SECRET_ENV} (never on the command line)"
        )));
    }
    Ok(text.to_owned())
}

/// The content type to send: `--content-type`, else multipart when the file is a multipart body (it
/// starts with its boundary), else the provider's: a form for SMS and mail, JSON for webhooks.
pub(crate) fn content_type(given: Option<&str>, trigger: &Trigger, body: &[u8]) -> String {
    if let Some(given) = given {
        return given.to_owned();
    }
    if let Some(boundary) = leading_boundary(body) {
        return format!("multipart/form-data; boundary={boundary}");
    }
    match trigger.kind {
        TriggerKind::Webhook => "application/json".to_owned(),
        _ => "application/x-www-form-urlencoded".to_owned(),
    }
}

/// `--<boundary>` on the first line of a multipart body.
fn leading_boundary(body: &[u8]) -> Option<&str> {
    let first = body.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?.trim_end_matches('\r');
    let boundary = first.strip_prefix("--")?;
    (!boundary.is_empty() && !boundary.contains(char::is_whitespace)).then_some(boundary)
}

/// The body with the signature's form fields (Mailgun's) added: appended to a urlencoded form, or as parts
/// before a multipart body's closing boundary. A scheme with fields cannot sign another kind of body.
pub(crate) fn signed_body(content_type: &str, body: &[u8], signed: &Signed) -> Result<Vec<u8>, String> {
    if signed.fields.is_empty() {
        return Ok(body.to_vec());
    }
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(signed.form_body(body));
    }
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!(
            "the signature goes into form fields: the body must be a form or multipart, not {essence}"
        ));
    }
    let boundary = content_type
        .split(';')
        .filter_map(|part| part.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .next()
        .ok_or("the multipart content type has no boundary")?;
    let closing = format!("--{boundary}--");
    let at = find_last(body, closing.as_bytes())
        .ok_or_else(|| format!("the multipart body has no closing {closing}"))?;
    let mut parts = Vec::new();
    for (name, value) in &signed.fields {
        parts.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    Ok([&body[..at], &parts, &body[at..]].concat())
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// The status, then the delivery and session of a JSON answer (or its error), else the body as it came.
fn render(answer: &HookAnswer) -> String {
    let mut text = format!("{}\n", answer.status);
    let json: Option<Value> = serde_json::from_str(&answer.body).ok();
    match json {
        Some(value) if value.get("error").is_some() => {
            let message = value["error"]["message"].as_str().unwrap_or_default();
            text.push_str(&format!("error:    {}\n", escape::line(message)));
        }
        Some(value) => {
            for (label, key) in [
                ("delivery", "deliveryId"),
                ("session", "sessionId"),
                ("status", "status"),
            ] {
                let shown = value[key].as_str().unwrap_or("-");
                text.push_str(&format!("{label}: {}{}\n", pad(label), escape::line(shown)));
            }
        }
        None if answer.body.trim().is_empty() => {}
        // Twilio's TwiML, or a body that is not the hook's: shown as it came, made safe for a terminal.
        None => text.push_str(&format!(
            "{}: {}\n",
            escape::line(&answer.content_type),
            escape::line(answer.body.trim())
        )),
    }
    text
}

fn pad(label: &str) -> &'static str {
    &"        "[..8usize.saturating_sub(label.len())]
}

#[cfg(test)]
mod tests;
