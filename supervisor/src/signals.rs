//! Signals and the shutdown sequence.
//!
//! Invariants:
//! - Handlers for every signal we care about are installed by `Signals::install` before the first
//!   child is spawned and before the port is bound: PID 1 ignores any signal without a handler, and a
//!   SIGCHLD that arrives before the reaper listens would otherwise wait for the next sweep.
//! - The first SIGTERM/SIGINT stops admissions and stops every session (SIGTERM to its group, SIGKILL
//!   after `--grace`); a second one skips to SIGKILL at once.
//! - Only as PID 1 do we signal `-1` (every process of our namespace, which reaches agents' descendants
//!   that escaped their group with `setsid`); as a subreaper outside a namespace that would hit the
//!   whole machine.

use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::runtime::Runtime;

/// The signal streams, created first thing.
#[derive(Debug)]
pub struct Signals {
    terminate: SignalStream,
    interrupt: SignalStream,
    child: SignalStream,
    /// Signals that would kill or stop a process with the default action, but must not kill PID 1
    /// (or a supervisor run by hand): caught and ignored.
    ignored: Vec<(SignalKind, SignalStream)>,
}

impl Signals {
    pub fn install() -> anyhow::Result<Self> {
        let ignored = [
            SignalKind::hangup(),
            SignalKind::user_defined1(),
            SignalKind::user_defined2(),
            SignalKind::from_raw(libc::SIGTTIN),
            SignalKind::from_raw(libc::SIGTTOU),
            SignalKind::from_raw(libc::SIGTSTP),
            SignalKind::pipe(),
        ]
        .into_iter()
        .map(|kind| signal(kind).map(|s| (kind, s)))
        .collect::<Result<_, _>>()
        .context("install signal handlers")?;
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("install SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("install SIGINT handler")?,
            child: signal(SignalKind::child()).context("install SIGCHLD handler")?,
            ignored,
        })
    }
}

pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Serves until a shutdown signal, then runs the shutdown sequence. Returns when everything is flushed.
pub async fn run(runtime: Arc<Runtime>, listener: TcpListener, signals: Signals) -> anyhow::Result<()> {
    let Signals {
        mut terminate,
        mut interrupt,
        child,
        ignored,
    } = signals;
    let reaper_stop = CancellationToken::new();
    let reaper = tokio::spawn(runtime.reaper.clone().run(child, reaper_stop.clone()));
    for (kind, mut stream) in ignored {
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                tracing::debug!(signal = kind.as_raw_value(), "ignored signal");
            }
        });
    }

    tokio::spawn(sync_logs(runtime.clone(), reaper_stop.clone()));

    let server_stop = CancellationToken::new();
    let app = crate::http::router(runtime.clone());
    // Small writes (answers, followed events) go out at once instead of waiting for the ACK of the last one.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
    });
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(server_stop.clone().cancelled_owned())
            .into_future(),
    );
    tracing::info!(runtime_id = %runtime.runtime_id, pid1 = is_pid1(), "supervisor ready");

    tokio::select! {
        _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
    }
    runtime.shutdown.cancel();
    if is_pid1() {
        broadcast(Signal::SIGTERM);
    }
    let grace = runtime.config.grace;
    let escalate = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::warn!(signal = "SIGTERM", "second signal: killing now"),
                _ = interrupt.recv() => tracing::warn!(signal = "SIGINT", "second signal: killing now"),
                () = tokio::time::sleep(grace) => {}
            }
            runtime.kill_now.cancel();
            if is_pid1() {
                broadcast(Signal::SIGKILL);
            }
        })
    };

    // Each session task stops its agent, reaps it, drains its pipes and writes `session.finished`.
    runtime.tasks.close();
    runtime.tasks.wait().await;
    if is_pid1() {
        // Processes that escaped their agent's group (setsid) got the SIGTERM broadcast too: give them
        // the rest of the grace period, because when PID 1 exits the kernel SIGKILLs them on the spot.
        let mut escalate = escalate;
        tokio::select! {
            () = until_alone() => escalate.abort(),
            _ = &mut escalate => {
                // Grace over (or a second signal): SIGKILL was broadcast; let the reaper collect them.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), until_alone()).await;
            }
        }
    } else {
        escalate.abort();
    }
    // Every log is complete; deliver what the control plane has not confirmed yet.
    runtime.shippers.drain(runtime.config.delivery_deadline).await;
    server_stop.cancel();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "http server"),
        Err(err) => tracing::error!(error = %err, "http server task"),
    }
    reaper_stop.cancel();
    let _ = reaper.await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Returns once PID 1 is the only process left in its namespace (every other one exited and was reaped).
async fn until_alone() {
    // kill(-1, 0) signals nothing; it fails with ESRCH when there is no process left to signal.
    while kill(Pid::from_raw(-1), None) != Err(nix::errno::Errno::ESRCH) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How often the logs of running sessions are flushed to stable storage. A crash of the supervisor loses
/// nothing (written records are in the page cache); this bounds what a power loss can take.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Fsyncs the logs of running sessions that grew since their last sync, outside the sessions' locks.
async fn sync_logs(runtime: Arc<Runtime>, stop: CancellationToken) {
    let mut synced: std::collections::HashMap<protocol::SessionId, u64> = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(SYNC_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let open: Vec<_> = runtime
            .sessions()
            .into_iter()
            .filter_map(|entry| {
                entry
                    .with_log(|log| log.writer().sync_target())
                    .map(|t| (entry.id.clone(), t))
            })
            .collect();
        // Finished sessions were synced by their task; forget them.
        synced.retain(|id, _| open.iter().any(|(open_id, _)| open_id == id));
        let targets: Vec<_> = open
            .into_iter()
            .filter(|(id, (_, len))| synced.get(id) != Some(len))
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .filter_map(|(id, (file, len))| match file.sync_data() {
                    Ok(()) => Some((id, len)),
                    Err(err) => {
                        tracing::error!(session_id = %id, error = %err, "sync event log");
                        None
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        synced.extend(done);
    }
}

/// `kill(-1, signal)`: every process in our PID namespace but ourselves. Only ever called as PID 1.
fn broadcast(signal: Signal) {
    debug_assert!(is_pid1());
    if let Err(err) = kill(Pid::from_raw(-1), signal)
        && err != nix::errno::Errno::ESRCH
    {
        tracing::warn!(signal = signal.as_str(), error = %err, "signal all processes");
    }
}
