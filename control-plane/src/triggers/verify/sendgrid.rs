//! SendGrid's signed event webhook: `X-Twilio-Email-Event-Webhook-Signature` = base64 of a DER ECDSA
//! P-256 signature (SHA-256) over `{X-Twilio-Email-Event-Webhook-Timestamp}{body}`, checked with the
//! public key SendGrid shows (base64 DER, SubjectPublicKeyInfo). The keys are public, so there is nothing
//! to compare in constant time; a rotation is two keys, either of which may match. The event ids
//! (`sg_event_id`) are in the JSON body, read when the body is parsed.

use std::time::{Duration, SystemTime};

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;

use super::mac;
use super::{Inbound, Refusal, Verified};

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

pub(super) fn verify(
    public_keys: &[String],
    request: &Inbound<'_>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, Refusal> {
    let text = mac::header(request, SIGNATURE)?;
    let timestamp = mac::header(request, TIMESTAMP)?;
    mac::within_tolerance(&format!("header {TIMESTAMP}"), timestamp, now, tolerance)?;
    let what = format!("header {SIGNATURE}");
    let signature = Signature::from_der(&mac::base64(&what, text)?).map_err(|_| Refusal::Malformed {
        what,
        expected: "a base64 DER ECDSA signature",
    })?;
    let keys = keys(public_keys)?;
    let message = [timestamp.as_bytes(), request.body].concat();
    if keys.iter().any(|key| key.verify(&message, &signature).is_ok()) {
        return Ok(Verified { provider_id: None });
    }
    Err(Refusal::NoMatch)
}

fn keys(public_keys: &[String]) -> Result<Vec<VerifyingKey>, Refusal> {
    if public_keys.is_empty() {
        return Err(Refusal::NoSecret);
    }
    public_keys
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let unusable = || Refusal::UnusableSecret {
                index,
                reason: "not a base64 DER P-256 public key",
            };
            let der = mac::base64("public key", text).map_err(|_| unusable())?;
            VerifyingKey::from_public_key_der(&der).map_err(|_| unusable())
        })
        .collect()
}
