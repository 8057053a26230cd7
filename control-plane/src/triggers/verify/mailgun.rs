//! Mailgun: the fields `timestamp`, `token` and `signature` = hex HMAC-SHA256(signing key, timestamp +
//! token), no separator. Inbound routes send them as top-level form fields; [`verify`] reads them from
//! a urlencoded body, and [`verify_fields`] takes them from wherever they were found (multipart, which
//! is parsed elsewhere, later). The token is random per message and is the delivery's id.

use std::time::{Duration, SystemTime};

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

/// Mailgun's three signature fields, as received.
#[derive(Debug, Clone, Copy)]
pub struct MailgunFields<'a> {
    pub timestamp: &'a str,
    pub token: &'a str,
    pub signature: &'a str,
}

pub(super) fn verify(
    secrets: &[SigningSecret],
    request: &Inbound<'_>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, Refusal> {
    let field = |name: &str| {
        form_urlencoded::parse(request.body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| Refusal::Missing(format!("form field {name}")))
    };
    let (timestamp, token, signature) = (field("timestamp")?, field("token")?, field("signature")?);
    let fields = MailgunFields {
        timestamp: &timestamp,
        token: &token,
        signature: &signature,
    };
    verify_fields(secrets, fields, now, tolerance)
}

/// Checks Mailgun's signature fields at time `now`.
pub fn verify_fields(
    secrets: &[SigningSecret],
    fields: MailgunFields<'_>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, Refusal> {
    mac::within_tolerance("field timestamp", fields.timestamp, now, tolerance)?;
    let signature = mac::hex("field signature", fields.signature)?;
    let parts = [fields.timestamp.as_bytes(), fields.token.as_bytes()];
    mac::any_matches(Algorithm::Sha256, &mac::raw_keys(secrets), &parts, &[signature])?;
    Ok(Verified {
        provider_id: Some(fields.token.to_owned()),
    })
}
