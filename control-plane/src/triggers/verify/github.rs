//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. There is no timestamp, so a
//! captured delivery replays cleanly; the delivery id (`X-GitHub-Delivery`) is what deduplicates it.

use super::mac::{self, Algorithm};
use super::{Inbound, Refusal, SigningSecret, Verified};

const SIGNATURE: &str = "x-hub-signature-256";
const DELIVERY: &str = "x-github-delivery";

pub(super) fn verify(secrets: &[SigningSecret], request: &Inbound<'_>) -> Result<Verified, Refusal> {
    let value = mac::header(request, SIGNATURE)?;
    let hex = value.strip_prefix("sha256=").ok_or_else(|| Refusal::Malformed {
        what: format!("header {SIGNATURE}"),
        expected: "sha256=<hex>",
    })?;
    let signature = mac::hex(&format!("header {SIGNATURE}"), hex)?;
    mac::any_matches(
        Algorithm::Sha256,
        &mac::raw_keys(secrets),
        &[request.body],
        &[signature],
    )?;
    let provider_id = request
        .headers
        .get(DELIVERY)
        .and_then(|id| id.to_str().ok())
        .map(str::to_owned);
    Ok(Verified { provider_id })
}
