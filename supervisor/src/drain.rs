//! The drain for scale-in (DESIGN.md §9): `POST /drain`, or SIGTERM when `--drain-timeout` is above 0.
//!
//! Draining stops claiming and admitting (`POST /execute` answers 503 `draining`, `/health` 503
//! `draining`, heartbeats say `draining`) and gives the running sessions up to `--drain-timeout` to
//! finish; then the shutdown of DESIGN.md §3 runs (it stops what is still running and delivers every
//! event) and the supervisor exits 0. A stop signal during the drain cuts it short: the shutdown starts.

use crate::signals::StopSignals;
use crate::state::AppState;

/// Begins the drain; a second call (another `POST /drain`, a signal) changes nothing.
pub(crate) fn begin(state: &AppState, why: &'static str) {
    if state.drain.is_cancelled() {
        return;
    }
    state.drain.cancel();
    tracing::info!(
        why,
        running = state.sessions.running(),
        drain_timeout = ?state.config.drain_timeout,
        "draining: no new sessions; running ones get the drain timeout to finish"
    );
}

/// Begins the drain that ends this runtime's life (`--max-jobs`, `--exit-when-idle`): no drain timeout,
/// every event delivered, then exit 0 (`lifetime::finish`).
pub(crate) fn begin_final(state: &AppState, why: &'static str) {
    if state.drain.is_cancelled() {
        return;
    }
    state.final_drain.store(true, std::sync::atomic::Ordering::SeqCst);
    begin(state, why);
}

/// Once the drain began: returns when no session holds a slot, when `--drain-timeout` has passed, or at
/// a stop signal, whichever comes first.
pub(crate) async fn wait(state: &AppState, stop: &mut StopSignals) {
    let timeout = state.config.drain_timeout;
    tokio::select! {
        () = state.sessions.until(|table| (table.running() == 0).then_some(())) => {
            tracing::info!("drained: every session finished");
        }
        () = tokio::time::sleep(timeout) => {
            tracing::info!(
                running = state.sessions.running(),
                ?timeout,
                "drain timeout: stopping the sessions still running"
            );
        }
        signal = stop.next() => tracing::info!(signal, "signal during the drain: shutting down now"),
    }
}
