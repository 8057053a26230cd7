//! Runtimes that live for a few jobs (issue 15): `--max-jobs N` claims at most N jobs, `--exit-when-idle DUR`
//! ends a runtime that held no session for that long (from start-up too). Either way the end is a final
//! drain: nothing more is claimed or admitted, the sessions run to their own end (no `--drain-timeout`), every
//! event is delivered (no `--delivery-deadline`), and the supervisor exits 0. A stop signal cuts it short
//! into the ordinary shutdown.
//!
//! Invariants:
//! - A claim never asks for more than the jobs left (`claim_room`), so the control plane never hands this
//!   runtime job N+1; a job claimed but not started (busy, draining) is left to its lease, never run later.
//! - The idle clock restarts whenever a session holds a slot or one started or failed to spawn since the
//!   last look, so a session shorter than the look's interval still counts as work.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::signals::StopSignals;
use crate::state::AppState;

/// How many jobs a claim may ask for: the free slots, and no more than `--max-jobs` leaves.
pub(crate) fn claim_room(free: usize, max_jobs: Option<u64>, claimed: u64) -> usize {
    match max_jobs {
        None => free,
        Some(max) => free.min(usize::try_from(max.saturating_sub(claimed)).unwrap_or(usize::MAX)),
    }
}

/// Whether `--max-jobs` is used up.
pub(crate) fn spent(max_jobs: Option<u64>, claimed: u64) -> bool {
    max_jobs.is_some_and(|max| claimed >= max)
}

/// What the idle watcher saw at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Look {
    /// Sessions holding a slot.
    pub(crate) holding: usize,
    /// Sessions started or refused at spawn so far (a counter: a change means work happened in between).
    pub(crate) activity: u64,
    pub(crate) at: Instant,
}

/// The idle watcher's decision: the new start of the idle period (`None`: busy), and whether it has lasted
/// `after`. `last` is the previous look and `idle_since` what this function answered then.
pub(crate) fn idle(
    last: Look,
    now: Look,
    idle_since: Option<Instant>,
    after: Duration,
) -> (Option<Instant>, bool) {
    if now.holding > 0 || now.activity != last.activity {
        return (None, false);
    }
    let since = idle_since.unwrap_or(now.at);
    (Some(since), now.at.duration_since(since) >= after)
}

fn look(state: &AppState) -> Look {
    let m = &state.metrics;
    Look {
        holding: state.sessions.running(),
        activity: m.sessions_started.load(Ordering::Relaxed) + m.spawn_failures.load(Ordering::Relaxed),
        at: Instant::now(),
    }
}

/// With `--exit-when-idle`: begins the final drain once no session was held for `after`. Returns at once
/// when the drain begins for another reason.
pub(crate) async fn watch_idle(state: Arc<AppState>, after: Duration) {
    let every = (after / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut last = look(&state);
    let mut idle_since = Some(last.at);
    loop {
        tokio::select! {
            () = state.drain.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = look(&state);
        let (since, over) = idle(last, now, idle_since, after);
        if over {
            tracing::info!(idle = ?after, "--exit-when-idle: no session for that long");
            crate::drain::begin_final(&state, "--exit-when-idle");
            return;
        }
        (last, idle_since) = (now, since);
    }
}

/// After a final drain began: returns once no session holds a slot and every event was delivered, or at a
/// stop signal (then the ordinary shutdown stops what is left).
pub(crate) async fn finish(state: &AppState, stop: &mut StopSignals) {
    let done = async {
        state
            .sessions
            .until(|table| (table.running() == 0).then_some(()))
            .await;
        // Nothing runs any more; no rush: deliver everything, however long the control plane is away.
        while state.sessions.undelivered_bytes() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        () = done => tracing::info!("every job finished and every event was delivered: exiting"),
        signal = stop.next() => tracing::info!(signal, "signal before the last job was delivered: shutting down now"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_asks_for_no_more_than_the_jobs_left() {
        // (free slots, --max-jobs, claimed so far) -> free in the claim
        let cases = [
            (8, None, 0, 8),
            (8, None, 1_000, 8),
            (8, Some(1), 0, 1),
            (8, Some(3), 2, 1),
            (2, Some(10), 3, 2),
            (8, Some(1), 1, 0),
            (8, Some(1), 5, 0),
            (0, Some(5), 0, 0),
        ];
        for (free, max, claimed, want) in cases {
            assert_eq!(claim_room(free, max, claimed), want, "{free} {max:?} {claimed}");
        }
        assert!(!spent(None, u64::MAX));
        assert!(!spent(Some(2), 1));
        assert!(spent(Some(2), 2));
        assert!(spent(Some(2), 3));
    }

    #[test]
    fn the_idle_clock_restarts_on_any_work_and_ends_after_the_whole_period() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let look = |holding, activity, ms| Look {
            holding,
            activity,
            at: at(ms),
        };
        let after = Duration::from_millis(1_000);
        // (last look, this look, idle since) -> (idle since, over)
        let cases = [
            // Idle from start-up, not long enough yet, then long enough.
            (look(0, 0, 0), look(0, 0, 500), Some(at(0)), (Some(at(0)), false)),
            (
                look(0, 0, 500),
                look(0, 0, 1_000),
                Some(at(0)),
                (Some(at(0)), true),
            ),
            // A session holds a slot: busy.
            (look(0, 0, 0), look(1, 1, 500), Some(at(0)), (None, false)),
            // A session started and ended between two looks: busy at this look, the clock restarts.
            (look(0, 3, 0), look(0, 4, 1_500), Some(at(0)), (None, false)),
            // The first idle look after work starts the clock at that look.
            (
                look(0, 4, 1_500),
                look(0, 4, 1_600),
                None,
                (Some(at(1_600)), false),
            ),
            (
                look(0, 4, 2_500),
                look(0, 4, 2_600),
                Some(at(1_600)),
                (Some(at(1_600)), true),
            ),
        ];
        for (i, (last, now, since, want)) in cases.into_iter().enumerate() {
            assert_eq!(idle(last, now, since, after), want, "case {i}");
        }
    }
}
