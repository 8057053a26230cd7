//! Standard Webhooks v1 (Svix's scheme under its own header names): `webhook-signature: v1,<base64>
//! [v1,<base64>…]`, HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64
//! after the secret's `whsec_`.

use std::time::{Duration, SystemTime};

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";

pub(super) fn verify(
    secrets: &[SigningSecret],
    request: &Inbound<'_>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, Refusal> {
    let id = mac::header(request, ID)?;
    let timestamp = mac::header(request, TIMESTAMP)?;
    let value = mac::header(request, SIGNATURE)?;
    mac::within_tolerance(&format!("header {TIMESTAMP}"), timestamp, now, tolerance)?;
    let signatures = signatures(value)?;
    let keys = keys(secrets)?;
    let parts = [id.as_bytes(), b".", timestamp.as_bytes(), b".", request.body];
    mac::any_matches(Algorithm::Sha256, &keys, &parts, &signatures)?;
    Ok(Verified {
        provider_id: Some(id.to_owned()),
    })
}

/// The `v1` signatures of the header. Other versions (`v1a`, the asymmetric form) are skipped, as the
/// spec asks; a header with no `v1` at all, or a `v1` that is not base64, is malformed.
fn signatures(value: &str) -> Result<Vec<Vec<u8>>, Refusal> {
    let what = format!("header {SIGNATURE}");
    let mut found = Vec::new();
    for entry in value.split(' ').filter(|entry| !entry.is_empty()) {
        let Some((version, signature)) = entry.split_once(',') else {
            return Err(Refusal::Malformed {
                what,
                expected: "a list of v1,<base64>",
            });
        };
        if version == "v1" {
            found.push(mac::base64(&what, signature)?);
        }
    }
    if found.is_empty() {
        return Err(Refusal::Malformed {
            what,
            expected: "a list of v1,<base64>",
        });
    }
    Ok(found)
}

/// The HMAC keys: the base64 after `whsec_` (the prefix is optional, as in the reference libraries).
fn keys(secrets: &[SigningSecret]) -> Result<Vec<Vec<u8>>, Refusal> {
    use base64::Engine as _;
    secrets
        .iter()
        .enumerate()
        .map(|(index, secret)| {
            let text = secret.expose();
            let text = text.strip_prefix("whsec_").unwrap_or(text);
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| Refusal::UnusableSecret {
                    index,
                    reason: "not whsec_ followed by base64",
                })
        })
        .collect()
}
