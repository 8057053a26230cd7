//! Capped exponential backoff with full jitter: 500 ms doubling, capped at 5 s.
//!
//! The cap is below the usual 30 s (reference/delivery-and-ingest.md) on purpose: after an outage a fresh
//! event must reach the control plane within 10 s (issue 4's liveness bound), and full jitter already
//! spreads the retries of many supervisors.

use std::time::Duration;

const INITIAL: Duration = Duration::from_millis(500);
const CAP: Duration = Duration::from_secs(5);
/// The cap while the destination is misconfigured (404, 401, …): an operator has to act first, so asking
/// every few seconds would only fill its logs; half a minute still delivers soon after the fix.
pub(crate) const MISCONFIGURED_CAP: Duration = Duration::from_secs(30);
/// A server's `Retry-After` is honoured up to this long.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) struct Backoff {
    attempt: u32,
    cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::capped_at(CAP)
    }
}

impl Backoff {
    pub(crate) fn capped_at(cap: Duration) -> Self {
        Self { attempt: 0, cap }
    }

    /// The wait before the next attempt: uniform in `[0, min(cap, initial × 2^attempt)]`, or what the
    /// server asked for with `Retry-After` (up to a minute).
    pub(crate) fn next(&mut self, retry_after: Option<Duration>) -> Duration {
        let ceiling = INITIAL.saturating_mul(1u32 << self.attempt.min(16)).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        if let Some(wait) = retry_after {
            return wait.min(RETRY_AFTER_CAP);
        }
        // Full jitter spreads the retries of many supervisors after a shared outage.
        let fraction = (crate::random::u64() % 1_000_001) as f64 / 1_000_000.0;
        ceiling.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_honour_retry_after() {
        let mut backoff = Backoff::default();
        for attempt in 0..20u32 {
            let wait = backoff.next(None);
            assert!(
                wait <= INITIAL.saturating_mul(1 << attempt.min(16)).min(CAP),
                "attempt {attempt}: {wait:?}"
            );
        }
        assert_eq!(backoff.next(Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(
            backoff.next(Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(backoff.next(Some(Duration::from_secs(600))), RETRY_AFTER_CAP);
        // Each batch starts over.
        assert!(Backoff::default().next(None) <= INITIAL);
        let mut slow = Backoff::capped_at(MISCONFIGURED_CAP);
        for _ in 0..20 {
            assert!(slow.next(None) <= MISCONFIGURED_CAP);
        }
    }
}
