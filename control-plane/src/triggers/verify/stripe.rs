//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 over `{t}.{body}` keyed with
//! the `whsec_…` secret as it is (unlike Standard Webhooks, not base64-decoded). Only `v1` counts: `v0`
//! is a fake signature on test events. The event id is in the JSON body, read when the body is parsed.

use std::time::{Duration, SystemTime};

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

const SIGNATURE: &str = "stripe-signature";

pub(super) fn verify(
    secrets: &[SigningSecret],
    request: &Inbound<'_>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<Verified, Refusal> {
    let value = mac::header(request, SIGNATURE)?;
    let what = format!("header {SIGNATURE}");
    let malformed = || Refusal::Malformed {
        what: what.clone(),
        expected: "t=<unix>,v1=<hex>[,v1=<hex>…]",
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let (key, text) = item.trim().split_once('=').ok_or_else(malformed)?;
        match key {
            "t" if timestamp.is_none() => timestamp = Some(text),
            "t" => return Err(malformed()),
            "v1" => signatures.push(mac::hex(&what, text)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(malformed)?;
    if signatures.is_empty() {
        return Err(malformed());
    }
    mac::within_tolerance(&format!("{what} t"), timestamp, now, tolerance)?;
    let parts = [timestamp.as_bytes(), b".", request.body];
    mac::any_matches(Algorithm::Sha256, &mac::raw_keys(secrets), &parts, &signatures)?;
    Ok(Verified { provider_id: None })
}
