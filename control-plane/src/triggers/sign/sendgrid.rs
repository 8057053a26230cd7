//! SendGrid's signed event webhook: `X-Twilio-Email-Event-Webhook-Signature` = base64 of a DER ECDSA
//! P-256 (SHA-256) signature over `{timestamp}{body}`, beside `X-Twilio-Email-Event-Webhook-Timestamp`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey as _;

use super::{Sample, SignError, Signed};

const EXPECTED: &str = "a P-256 private key (PKCS#8 or SEC1, PEM or base64 DER)";

pub(super) fn sign(secret: &str, sample: &Sample<'_>, timestamp: &str) -> Result<Signed, SignError> {
    let key = private_key(secret).ok_or(SignError { expected: EXPECTED })?;
    let message = [timestamp.as_bytes(), sample.body].concat();
    let signature: Signature = key.sign(&message);
    Ok(Signed {
        headers: vec![
            (
                "X-Twilio-Email-Event-Webhook-Signature".to_owned(),
                STANDARD.encode(signature.to_der().as_bytes()),
            ),
            (
                "X-Twilio-Email-Event-Webhook-Timestamp".to_owned(),
                timestamp.to_owned(),
            ),
        ],
        fields: Vec::new(),
    })
}

/// The key from PEM (`PRIVATE KEY` or `EC PRIVATE KEY`: the armour dropped, the base64 inside is the
/// DER) or from the base64 of the DER itself, as `openssl` writes either.
fn private_key(text: &str) -> Option<SigningKey> {
    let base64: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(base64).ok()?;
    SigningKey::from_pkcs8_der(&der)
        .ok()
        .or_else(|| p256::SecretKey::from_sec1_der(&der).ok().map(SigningKey::from))
}
