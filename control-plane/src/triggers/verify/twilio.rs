//! Twilio: `X-Twilio-Signature` = base64 HMAC-SHA1 (auth token) over the URL as Twilio called it followed
//! by every POST parameter, sorted by name, name then value, URL-decoded. Twilio adds parameters without
//! notice, so whatever arrived is signed, not a known list. A JSON body is signed differently: the URL
//! carries `bodySHA256=<hex sha256 of the body>` and only the URL is signed.
//!
//! Twilio is not consistent about the port in the URL it signs, so, as its SDKs do, the URL is tried as
//! called and with the port toggled (an explicit one removed, or the scheme's default added).
//!
//! Not yet: Webhooks Rules' HMAC-SHA256 (`X-Twilio-Webhooks-Signature-Settings`).

use sha2::{Digest, Sha256};

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

const SIGNATURE: &str = "x-twilio-signature";
const BODY_SHA256: &str = "bodySHA256";

pub(super) fn verify(secrets: &[SigningSecret], request: &Inbound<'_>) -> Result<Verified, Refusal> {
    let value = mac::header(request, SIGNATURE)?;
    let signature = mac::base64(&format!("header {SIGNATURE}"), value)?;
    let keys = mac::raw_keys(secrets);
    let urls: Vec<String> = std::iter::once(request.url.to_owned())
        .chain(with_port_toggled(request.url))
        .collect();
    if let Some(body_digest) = body_digest(request.url) {
        signed_by_any(&keys, &urls, b"", &signature)?;
        // The URL is authentic now; the body is, when it hashes to what the URL says.
        let expected = mac::hex("URL parameter bodySHA256", &body_digest)?;
        if !mac::equal(&expected, &Sha256::digest(request.body)) {
            return Err(Refusal::NoMatch);
        }
        return Ok(Verified { provider_id: None });
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(request.body).into_owned().collect();
    params.sort();
    let mut signed_params = Vec::new();
    for (name, value) in &params {
        signed_params.extend_from_slice(name.as_bytes());
        signed_params.extend_from_slice(value.as_bytes());
    }
    signed_by_any(&keys, &urls, &signed_params, &signature)?;
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

/// Whether the signature is the HMAC-SHA1 of any form of the URL followed by `params`.
fn signed_by_any(keys: &[Vec<u8>], urls: &[String], params: &[u8], signature: &[u8]) -> Result<(), Refusal> {
    let mut result = Err(Refusal::NoMatch);
    for url in urls {
        result = mac::any_matches(
            Algorithm::Sha1,
            keys,
            &[url.as_bytes(), params],
            &[signature.to_vec()],
        );
        if result.is_ok() {
            break;
        }
    }
    result
}

/// The URL with an explicit port removed, or with the scheme's default port added; `None` for a scheme
/// without one. Text surgery rather than the `url` crate, which drops a default port when it parses.
fn with_port_toggled(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, host) = authority.split_at(host_start);
    // A port follows the last colon, unless that colon is inside an IPv6 literal's brackets.
    match host.rfind(':').filter(|&colon| !host[colon..].contains(']')) {
        Some(colon) => Some(format!("{scheme}://{userinfo}{}{path}", &host[..colon])),
        None => {
            let port = match scheme.to_ascii_lowercase().as_str() {
                "https" => 443,
                "http" => 80,
                _ => return None,
            };
            Some(format!("{scheme}://{authority}:{port}{path}"))
        }
    }
}
