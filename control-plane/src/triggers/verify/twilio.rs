//! Twilio: `X-Twilio-Signature` = base64 HMAC-SHA1 (auth token) over the URL as Twilio called it followed
//! by every POST parameter, sorted by name, name then value, URL-decoded. Twilio adds parameters without
//! notice, so whatever arrived is signed, not a known list. A JSON body is signed differently: the URL
//! carries `bodySHA256=<hex sha256 of the body>` and only the URL is signed.
//!
//! Not yet: Webhooks Rules' HMAC-SHA256 (`X-Twilio-Webhooks-Signature-Settings`), and the SDKs' retry
//! with and without an explicit `:443`/`:80` port.

use sha2::{Digest, Sha256};

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

const SIGNATURE: &str = "x-twilio-signature";
const BODY_SHA256: &str = "bodySHA256";

pub(super) fn verify(secrets: &[SigningSecret], request: &Inbound<'_>) -> Result<Verified, Refusal> {
    let value = mac::header(request, SIGNATURE)?;
    let signature = mac::base64(&format!("header {SIGNATURE}"), value)?;
    let keys = mac::raw_keys(secrets);
    if let Some(body_digest) = body_digest(request.url) {
        mac::any_matches(Algorithm::Sha1, &keys, &[request.url.as_bytes()], &[signature])?;
        // The URL is authentic now; the body is, when it hashes to what the URL says.
        let expected = mac::hex("URL parameter bodySHA256", &body_digest)?;
        if !mac::equal(&expected, &Sha256::digest(request.body)) {
            return Err(Refusal::NoMatch);
        }
        return Ok(Verified { provider_id: None });
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(request.body).into_owned().collect();
    params.sort();
    let mut signed = request.url.as_bytes().to_vec();
    for (name, value) in &params {
        signed.extend_from_slice(name.as_bytes());
        signed.extend_from_slice(value.as_bytes());
    }
    mac::any_matches(Algorithm::Sha1, &keys, &[&signed], &[signature])?;
    let provider_id = params
        .iter()
        .find(|(name, _)| name == "MessageSid")
        .map(|(_, value)| value.clone());
    Ok(Verified { provider_id })
}

/// The `bodySHA256` query parameter of the URL, if it has one.
fn body_digest(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == BODY_SHA256)
        .map(|(_, value)| value.into_owned())
}
