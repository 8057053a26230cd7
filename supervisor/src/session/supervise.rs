//! The task that owns one agent process from spawn to `session.finished`: exit, cancel, timeout,
//! after-result grace and shutdown; then stop → drain → decide → `session.finished`.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use protocol::{OutputStream, SessionFinished, SessionStatus};
use tokio::io::AsyncWriteExt;
use tokio::sync::{oneshot, watch};

use super::entry::SessionEntry;
use super::outcome::{Decision, Ending, Facts, StopReason, decide};
use super::pump::{Output, pump};
use super::workspace::SessionDirs;
use crate::eventlog::now_ts;
use crate::process::{ExitStatus, Spawned, kill_uid, signal_name, signal_uid, until_gone};
use crate::state::AppState;

/// After the agent exits, how long its output pipes may stay open (held by a grandchild) before the
/// rest of its process group is killed.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// How long SIGKILLs to the session's uid may take to leave no process of it (one stuck in the kernel,
/// `D` state, can outlast it).
const SWEEP_DEADLINE: Duration = Duration::from_secs(10);

/// Owns one agent process from spawn to `session.finished`.
pub(super) async fn supervise(
    state: Arc<AppState>,
    entry: Arc<SessionEntry>,
    spawned: Spawned,
    job: Vec<u8>,
    timeout: Duration,
    started_at: Instant,
) {
    let pgid = spawned.pid;
    let mut exit = spawned.exit;
    tokio::spawn(write_job(spawned.stdin, job));
    let (result_tx, mut result_rx) = watch::channel(false);
    let output = Arc::new(Output {
        metrics: state.metrics.clone(),
        sessions: state.sessions.clone(),
        spool_max: state.config.spool_max,
        shutdown: state.shutdown.clone(),
        max_line: usize::try_from(state.config.max_line).unwrap_or(usize::MAX),
    });
    let mut stdout = tokio::spawn(pump(
        output.clone(),
        entry.clone(),
        spawned.stdout,
        OutputStream::Stdout,
        Some(result_tx),
    ));
    let mut stderr = tokio::spawn(pump(
        output,
        entry.clone(),
        spawned.stderr,
        OutputStream::Stderr,
        None,
    ));

    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let after_result = tokio::time::sleep(Duration::MAX);
    tokio::pin!(after_result);
    let mut result_seen = false;
    let ending = loop {
        // Biased: when the supervisor (as PID 1) signals every process at shutdown, the agent's exit
        // can be ready at the same time as the shutdown; the stop reason must win, or a stopped session
        // would be reported as failed.
        let reason = tokio::select! {
            biased;
            () = entry.cancel.cancelled() => StopReason::Cancelled,
            () = &mut deadline => StopReason::TimedOut,
            () = state.shutdown.cancelled() => StopReason::Shutdown,
            () = &mut after_result, if result_seen => StopReason::AfterResult,
            status = &mut exit => break Ending::Exited(status.ok()),
            changed = result_rx.changed(), if !result_seen => {
                if changed.is_ok() && *result_rx.borrow() {
                    result_seen = true;
                    after_result.as_mut().reset(tokio::time::Instant::now() + state.config.after_result_grace);
                }
                continue;
            }
        };
        break Ending::Stopped(reason, stop(&state, pgid, &mut exit).await);
    };

    // The agent is gone, but a grandchild may still hold its pipes: give the output a moment to end,
    // then kill whatever is left of the group so no orphan outlives its session.
    entry.drain.cancel();
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        (&mut stdout).await.ok();
        (&mut stderr).await.ok();
    })
    .await
    .is_ok();
    // Our own pgid is still live in the table; its number cannot be reused by another session while the
    // group is non-empty (the kernel keeps a pgid allocated while any member lives).
    state.sessions.signal_group(pgid, Signal::SIGKILL);
    if !drained
        && tokio::time::timeout(DRAIN_DEADLINE, async {
            (&mut stdout).await.ok();
            (&mut stderr).await.ok();
        })
        .await
        .is_err()
    {
        // An escaped process (own session) keeps the pipe open: stop reading it.
        stdout.abort();
        stderr.abort();
        tracing::warn!(session_id = %entry.id, "output still open after the agent exited; stopped reading it");
    }
    state.sessions.release_group(pgid);
    if let Some(uid) = entry.uid {
        retire_uid(&state, &entry, uid).await;
    }

    let decision = entry
        .with_log(|log| {
            let stderr_tail = log.stderr_tail();
            decide(&Facts {
                ending,
                result: log.last_result.as_ref(),
                sdk_messages: log.sdk_messages,
                last_stderr_line: stderr_tail.as_deref().and_then(|t| t.lines().last()),
                timeout,
                after_result_grace: state.config.after_result_grace,
            })
        })
        .unwrap_or_else(|| {
            decide(&Facts {
                ending,
                result: None,
                sdk_messages: 0,
                last_stderr_line: None,
                timeout,
                after_result_grace: state.config.after_result_grace,
            })
        });
    finish(&state, &entry, decision, ending, started_at);
}

/// Ends every process left of the session's uid (escapees of its group included), takes its directories
/// back, and gives the uid back.
/// At shutdown they first get SIGTERM and the rest of the grace period, as the agent did; a uid whose
/// processes survive SIGKILL is never handed out again.
pub(super) async fn retire_uid(state: &AppState, entry: &SessionEntry, uid: u32) {
    if state.shutdown.is_cancelled() && !state.kill_now.is_cancelled() {
        if let Err(err) = signal_uid(&state.reaper, uid, Signal::SIGTERM).await {
            tracing::warn!(session_id = %entry.id, uid, error = %err, "signal the session's uid");
        }
        tokio::select! {
            () = until_gone(uid) => {}
            () = state.kill_now.cancelled() => {}
        }
    }
    match kill_uid(&state.reaper, uid, SWEEP_DEADLINE).await {
        Ok(()) => {
            let dirs = SessionDirs::new(&state.config.workspace, entry.id.as_str());
            match dirs.seal() {
                Ok(()) => state.sessions.release_uid(&entry.id),
                Err(err) => {
                    tracing::error!(session_id = %entry.id, uid, error = %err, "take the session's directories back; the uid is not used again");
                }
            }
        }
        Err(err) => {
            tracing::error!(session_id = %entry.id, uid, error = %err, "processes of the session's uid survived; the uid is not used again");
        }
    }
}

/// Writes `session.finished`, closes the log and frees the session's slot.
pub(super) fn finish(
    state: &AppState,
    entry: &SessionEntry,
    decision: Decision,
    ending: Ending,
    started_at: Instant,
) {
    let Decision { status, error } = decision;
    let exit = match ending {
        Ending::Exited(exit) | Ending::Stopped(_, exit) => exit,
        Ending::Lost => None,
    };
    let ts = now_ts();
    let (exit_code, signal) = match exit {
        Some(ExitStatus::Exited(code)) => (Some(code), None),
        Some(ExitStatus::Signaled { signal, .. }) => (None, Some(signal_name(signal))),
        None => (None, None),
    };
    let mut log = entry.take_log();
    let (result, stderr_tail) = log
        .as_ref()
        .map(|log| (log.last_result.clone(), log.stderr_tail()))
        .unwrap_or_default();
    let finished = SessionFinished {
        status,
        exit_code,
        signal: signal.clone(),
        duration_ms: u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        num_turns: result.as_ref().and_then(|r| r.num_turns),
        total_cost_usd: result.as_ref().and_then(|r| r.total_cost_usd),
        error,
        stderr_tail: if status == SessionStatus::Succeeded {
            None
        } else {
            stderr_tail
        },
    };
    if let Some(log) = log.as_mut() {
        log.report_dropped_output(&ts);
        log.supervisor(&ts, "session.finished", &finished);
        if let Err(err) = log.writer().finish() {
            state.metrics.log_write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(session_id = %entry.id, error = %err, "finish event log");
        }
    }
    entry.update(|s| {
        s.status = status;
        s.finished_at = Some(ts);
        s.exit_code = exit_code;
        s.signal = signal;
        s.num_turns = finished.num_turns;
        s.total_cost_usd = finished.total_cost_usd;
        s.error = finished.error.clone();
    });
    drop(log);
    state.metrics.session_finished(status);
    state.sessions.finish(&entry.id);
    tracing::info!(session_id = %entry.id, status = %status, exit_code, signal = finished.signal, "session finished");
}

/// Stops the agent's process group: SIGTERM, then SIGKILL after `--grace` (or at once on a second
/// shutdown signal). Returns its exit status.
async fn stop(state: &AppState, pgid: u32, exit: &mut oneshot::Receiver<ExitStatus>) -> Option<ExitStatus> {
    if !state.kill_now.is_cancelled() {
        state.sessions.signal_group(pgid, Signal::SIGTERM);
        tokio::select! {
            status = &mut *exit => return status.ok(),
            () = tokio::time::sleep(state.config.grace) => {}
            () = state.kill_now.cancelled() => {}
        }
    }
    state.sessions.signal_group(pgid, Signal::SIGKILL);
    exit.await.ok()
}

/// Writes the job spec to the agent's stdin and closes it, so the agent reads the spec, then EOF.
async fn write_job(stdin: OwnedFd, job: Vec<u8>) {
    let result = async {
        let mut pipe = tokio::net::unix::pipe::Sender::from_owned_fd(stdin)?;
        pipe.write_all(&job).await?;
        pipe.write_all(b"\n").await
    }
    .await;
    if let Err(err) = result {
        // The agent exited or closed stdin without reading: its exit status tells the story.
        tracing::debug!(error = %err, "write job spec to agent stdin");
    }
}
