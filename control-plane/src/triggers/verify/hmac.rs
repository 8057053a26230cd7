//! Plain `hmac-sha256`: the HMAC of the raw body in a header the trigger names, hex or base64, after an
//! optional prefix (`sha256=`). For senders that follow no published scheme; there is no timestamp.

use axum::http::HeaderName;

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

/// How the signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

pub(super) fn verify(
    secrets: &[SigningSecret],
    request: &Inbound<'_>,
    header: &HeaderName,
    encoding: Encoding,
    prefix: Option<&str>,
) -> Result<Verified, Refusal> {
    let name = header.as_str();
    let what = format!("header {name}");
    let value = mac::header(request, name)?;
    let text = match prefix {
        None => value,
        Some(prefix) => value.strip_prefix(prefix).ok_or_else(|| Refusal::Malformed {
            what: what.clone(),
            expected: "the configured prefix followed by the signature",
        })?,
    };
    let signature = match encoding {
        Encoding::Hex => mac::hex(&what, text)?,
        Encoding::Base64 => mac::base64(&what, text)?,
    };
    mac::any_matches(
        Algorithm::Sha256,
        &mac::raw_keys(secrets),
        &[request.body],
        &[signature],
    )?;
    Ok(Verified { provider_id: None })
}
