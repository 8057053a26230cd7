//! What every scheme shares: computing an HMAC, comparing signatures, reading headers, the timestamp
//! tolerance.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use super::{Inbound, Refusal, SigningSecret};

#[derive(Debug, Clone, Copy)]
pub(super) enum Algorithm {
    Sha1,
    Sha256,
}

/// The HMAC of the concatenated `parts` under `key`.
pub(super) fn tag(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha1 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
            parts.iter().for_each(|part| mac.update(part));
            mac.finalize().into_bytes().to_vec()
        }
        Algorithm::Sha256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
            parts.iter().for_each(|part| mac.update(part));
            mac.finalize().into_bytes().to_vec()
        }
    }
}

/// Whether a received signature is the expected one. The length is checked first: comparing only a
/// common prefix is how an empty signature (`v1,`) once passed a Standard Webhooks library. The length
/// of an HMAC is public, so leaving early on it leaks nothing; the bytes are compared in constant time.
pub(super) fn equal(expected: &[u8], received: &[u8]) -> bool {
    expected.len() == received.len() && bool::from(expected.ct_eq(received))
}

/// Whether any received signature is the HMAC of `parts` under any of the keys. Each key is tried
/// against every signature, since a provider rotating its secret sends one signature per secret.
pub(super) fn any_matches(
    algorithm: Algorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    received: &[Vec<u8>],
) -> Result<(), Refusal> {
    if keys.is_empty() {
        return Err(Refusal::NoSecret);
    }
    let matched = keys.iter().any(|key| {
        let expected = tag(algorithm, key, parts);
        received.iter().any(|signature| equal(&expected, signature))
    });
    if matched { Ok(()) } else { Err(Refusal::NoMatch) }
}

/// The secrets as HMAC keys, byte for byte (every scheme but Standard Webhooks).
pub(super) fn raw_keys(secrets: &[SigningSecret]) -> Vec<Vec<u8>> {
    secrets
        .iter()
        .map(|secret| secret.expose().as_bytes().to_vec())
        .collect()
}

/// A header's value as text; absent, or not visible ASCII, is a refusal naming the header.
pub(super) fn header<'a>(request: &Inbound<'a>, name: &str) -> Result<&'a str, Refusal> {
    let value = request
        .headers
        .get(name)
        .ok_or_else(|| Refusal::Missing(format!("header {name}")))?;
    value.to_str().map_err(|_| Refusal::Malformed {
        what: format!("header {name}"),
        expected: "visible ASCII",
    })
}

/// Refuses a signed Unix timestamp (seconds) further than `tolerance` from `now`, in either direction:
/// a stale one may be a replay, and one from the future would stay valid for longer than the tolerance.
pub(super) fn within_tolerance(
    what: &str,
    timestamp: &str,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), Refusal> {
    let seconds: i64 = timestamp.parse().map_err(|_| Refusal::Malformed {
        what: what.to_owned(),
        expected: "a Unix time in seconds",
    })?;
    let now_seconds = match now.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::from(since.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    };
    if (i128::from(seconds) - now_seconds).unsigned_abs() > u128::from(tolerance.as_secs()) {
        return Err(Refusal::OutsideTolerance {
            timestamp: seconds,
            tolerance_seconds: tolerance.as_secs(),
        });
    }
    Ok(())
}

/// Hex, either case.
pub(super) fn hex(what: &str, text: &str) -> Result<Vec<u8>, Refusal> {
    ::hex::decode(text).map_err(|_| Refusal::Malformed {
        what: what.to_owned(),
        expected: "hex",
    })
}

/// Standard base64 with padding, as the providers send it.
pub(super) fn base64(what: &str, text: &str) -> Result<Vec<u8>, Refusal> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Refusal::Malformed {
            what: what.to_owned(),
            expected: "base64",
        })
}
