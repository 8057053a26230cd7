//! The HMAC schemes, each the mirror of its check in `verify`.

use ::hmac::{Hmac, Mac};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Encoding, Sample, SignError, Signed};

fn sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    parts.iter().for_each(|part| mac.update(part));
    mac.finalize().into_bytes().to_vec()
}

fn sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    parts.iter().for_each(|part| mac.update(part));
    mac.finalize().into_bytes().to_vec()
}

fn header(name: &str, value: String) -> (String, String) {
    (name.to_owned(), value)
}

/// `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{body}`, keyed with the base64 after `whsec_`.
pub(super) fn standard_webhooks(
    secret: &str,
    sample: &Sample<'_>,
    timestamp: &str,
) -> Result<Signed, SignError> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| SignError {
            expected: "whsec_ followed by base64",
        })?;
    let tag = sha256(
        &key,
        &[
            sample.id.as_bytes(),
            b".",
            timestamp.as_bytes(),
            b".",
            sample.body,
        ],
    );
    Ok(Signed {
        headers: vec![
            header("webhook-id", sample.id.to_owned()),
            header("webhook-timestamp", timestamp.to_owned()),
            header("webhook-signature", format!("v1,{}", STANDARD.encode(tag))),
        ],
        fields: Vec::new(),
    })
}

/// `X-Hub-Signature-256: sha256=<hex>` over the body, and the delivery id.
pub(super) fn github(secret: &str, sample: &Sample<'_>) -> Signed {
    let tag = sha256(secret.as_bytes(), &[sample.body]);
    Signed {
        headers: vec![
            header("X-Hub-Signature-256", format!("sha256={}", hex::encode(tag))),
            header("X-GitHub-Delivery", sample.id.to_owned()),
            header("X-GitHub-Event", "ping".to_owned()),
        ],
        fields: Vec::new(),
    }
}

/// `Stripe-Signature: t=…,v1=<hex>` over `{t}.{body}`, keyed with the secret as it is.
pub(super) fn stripe(secret: &str, sample: &Sample<'_>, timestamp: &str) -> Signed {
    let tag = sha256(secret.as_bytes(), &[timestamp.as_bytes(), b".", sample.body]);
    Signed {
        headers: vec![header(
            "Stripe-Signature",
            format!("t={timestamp},v1={}", hex::encode(tag)),
        )],
        fields: Vec::new(),
    }
}

/// `X-Twilio-Signature`: base64 HMAC-SHA1 over the URL and the form's parameters sorted by name, each
/// name then value, decoded.
pub(super) fn twilio(secret: &str, sample: &Sample<'_>) -> Signed {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(sample.body).into_owned().collect();
    params.sort();
    let mut signed = sample.url.as_bytes().to_vec();
    for (name, value) in &params {
        signed.extend_from_slice(name.as_bytes());
        signed.extend_from_slice(value.as_bytes());
    }
    let tag = sha1(secret.as_bytes(), &[&signed]);
    Signed {
        headers: vec![header("X-Twilio-Signature", STANDARD.encode(tag))],
        fields: Vec::new(),
    }
}

/// Form fields `timestamp`, `token` (the id) and `signature` = hex HMAC-SHA256 of the two.
pub(super) fn mailgun(secret: &str, sample: &Sample<'_>, timestamp: &str) -> Signed {
    let tag = sha256(secret.as_bytes(), &[timestamp.as_bytes(), sample.id.as_bytes()]);
    Signed {
        headers: Vec::new(),
        fields: vec![
            ("timestamp".to_owned(), timestamp.to_owned()),
            ("token".to_owned(), sample.id.to_owned()),
            ("signature".to_owned(), hex::encode(tag)),
        ],
    }
}

/// The HMAC-SHA256 of the body in the trigger's header, after its prefix.
pub(super) fn plain(
    secret: &str,
    sample: &Sample<'_>,
    name: &str,
    encoding: Encoding,
    prefix: Option<&str>,
) -> Signed {
    let tag = sha256(secret.as_bytes(), &[sample.body]);
    let text = match encoding {
        Encoding::Hex => hex::encode(tag),
        Encoding::Base64 => STANDARD.encode(tag),
    };
    Signed {
        headers: vec![header(name, format!("{}{text}", prefix.unwrap_or_default()))],
        fields: Vec::new(),
    }
}
