//! How long to wait before the next attempt at a reply.

use std::time::Duration;

/// Attempts at one reply before it is given up as failed: with [`backoff`] from [`BASE`] at most about
/// 11 minutes of retries, enough to ride out a provider's short outage without answering an hour-old message.
pub const MAX_ATTEMPTS: u32 = 8;

/// The first step of the backoff (`agentctl serve --reply-backoff-base`, hidden, lowers it for tests).
pub const BASE: Duration = Duration::from_secs(5);
const CAP: Duration = Duration::from_secs(15 * 60);

/// The wait after `attempt` failed attempts (1 for the first failure; 0 waits nothing): `base` (normally
/// [`BASE`]) doubling per attempt up to 15 min, of which `jitter` (0..1, clamped; NaN counts as 0) scales
/// the upper half, so replies that failed together do not all come back at once and no wait is under half
/// its step.
pub fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    if attempt == 0 {
        return Duration::ZERO;
    }
    let step = base
        .checked_mul(1 << (attempt - 1).min(16))
        .map_or(CAP, |step| step.min(CAP));
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    step / 2 + (step / 2).mul_f64(jitter)
}
