//! An answer to a webhook: a JSON `trigger.reply` event POSTed to `reply.url`, signed the Standard
//! Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` of HMAC-SHA256 over
//! `{id}.{timestamp}.{body}`, keyed with the base64 after the secret's `whsec_`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;

use super::{Answer, Outgoing, OutgoingBody, ReplyConfig, Unsendable, credential};

pub(super) fn compose(
    config: &ReplyConfig,
    answer: &Answer<'_>,
    now: SystemTime,
) -> Result<Outgoing, Unsendable> {
    let text = config
        .url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| Unsendable::Missing("reply.url".to_owned()))?;
    let url = url::Url::parse(text.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| Unsendable::Invalid {
            what: "reply.url".to_owned(),
            expected: "an http(s) URL",
        })?;
    let secret = credential(config, "secret")?;
    let key = STANDARD
        .decode(secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim()))
        .map_err(|_| Unsendable::Invalid {
            what: "reply.credentials.secret".to_owned(),
            expected: "whsec_ followed by base64",
        })?;
    let body = OutgoingBody::Json(json!({
        "type": "trigger.reply",
        "triggerId": answer.trigger_id,
        "deliveryId": answer.delivery_id,
        "sessionId": answer.session_id,
        "conversationId": answer.conversation_id,
        "text": answer.text,
    }));
    // One id per reply, the same on every attempt: the receiver deduplicates on it (the spec's advice).
    let id = format!("reply_{}", answer.session_id);
    let timestamp = now
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
        .to_string();
    let (_, bytes) = body.encode();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", &bytes] {
        mac.update(part);
    }
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    Ok(Outgoing {
        url,
        headers: vec![
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), timestamp),
            ("webhook-signature".to_owned(), signature),
        ],
        body,
        message_id: None,
    })
}
