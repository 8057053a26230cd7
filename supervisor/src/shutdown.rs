//! The shutdown sequence, from the first SIGTERM/SIGINT until everything is flushed.
//!
//! Invariants:
//! - The first signal stops admissions and stops every session (SIGTERM to its group, SIGKILL after
//!   `--grace`); a second one skips to SIGKILL at once.
//! - Only as PID 1 do we signal `-1` (every process of our namespace, which reaches agents' descendants
//!   that escaped their group with `setsid`); as a subreaper outside a namespace that would hit the
//!   whole machine.
//! - Every session task reaps, drains its pipes and writes `session.finished` before the shippers drain
//!   the backlog, so the last events of every session are delivered too.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::signals::{StopSignals, broadcast, is_pid1};
use crate::state::AppState;

/// Runs the shutdown sequence after the first stop signal; returns once every session finished and the
/// shippers delivered what they could within `--delivery-deadline`.
pub(crate) async fn shut_down(state: &AppState, mut stop: StopSignals) {
    // Shutting down drains too: nothing more is claimed, and heartbeats say so.
    state.drain.cancel();
    state.shutdown.cancel();
    if is_pid1() {
        broadcast(Signal::SIGTERM);
    }
    let grace = state.config.grace;
    let kill_now = state.kill_now.clone();
    let escalate = tokio::spawn(async move {
        tokio::select! {
            signal = stop.next() => tracing::warn!(signal, "second signal: killing now"),
            () = tokio::time::sleep(grace) => {}
        }
        kill_now.cancel();
        if is_pid1() {
            broadcast(Signal::SIGKILL);
        }
    });

    // Each session task stops its agent, reaps it, drains its pipes and writes `session.finished`.
    state.tasks.close();
    state.tasks.wait().await;
    if is_pid1() {
        // Processes that escaped their agent's group (setsid) got the SIGTERM broadcast too: give them
        // the rest of the grace period, because when PID 1 exits the kernel SIGKILLs them on the spot.
        let mut escalate = escalate;
        tokio::select! {
            () = until_alone() => escalate.abort(),
            _ = &mut escalate => {
                // Grace over (or a second signal): SIGKILL was broadcast; let the reaper collect them.
                let _ = tokio::time::timeout(Duration::from_secs(5), until_alone()).await;
            }
        }
    } else {
        escalate.abort();
    }
    // Every log is complete; deliver what the control plane has not confirmed yet.
    state.shippers.drain(state.config.delivery_deadline).await;
}

/// Returns once PID 1 is the only process left in its namespace (every other one exited and was reaped).
async fn until_alone() {
    // kill(-1, 0) signals nothing; it fails with ESRCH when there is no process left to signal.
    while kill(Pid::from_raw(-1), None) != Err(nix::errno::Errno::ESRCH) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
