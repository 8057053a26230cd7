//! The signal streams, created first thing.
//!
//! Invariant: handlers for every signal we care about are installed by `Signals::install` before the first
//! child is spawned and before the port is bound: PID 1 ignores any signal without a handler, and a
//! SIGCHLD that arrives before the reaper listens would otherwise wait for the next sweep.

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};

/// Every signal stream of the supervisor.
#[derive(Debug)]
pub(crate) struct Signals {
    stop: StopSignals,
    /// SIGCHLD, for the reaper.
    child: SignalStream,
    /// Signals that would kill or stop a process with the default action, but must not kill PID 1
    /// (or a supervisor run by hand): caught and ignored.
    ignored: Vec<(SignalKind, SignalStream)>,
}

/// SIGTERM and SIGINT: the first starts the shutdown, the second skips to SIGKILL.
#[derive(Debug)]
pub(crate) struct StopSignals {
    terminate: SignalStream,
    interrupt: SignalStream,
}

impl Signals {
    pub(crate) fn install() -> anyhow::Result<Self> {
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
            stop: StopSignals {
                terminate: signal(SignalKind::terminate()).context("install SIGTERM handler")?,
                interrupt: signal(SignalKind::interrupt()).context("install SIGINT handler")?,
            },
            child: signal(SignalKind::child()).context("install SIGCHLD handler")?,
            ignored,
        })
    }

    /// Drains the ignored signals' streams for as long as the process runs; answers the streams that
    /// matter.
    pub(crate) fn ignore_the_rest(self) -> (StopSignals, SignalStream) {
        for (kind, mut stream) in self.ignored {
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    tracing::debug!(signal = kind.as_raw_value(), "ignored signal");
                }
            });
        }
        (self.stop, self.child)
    }
}

impl StopSignals {
    /// The next SIGTERM or SIGINT; answers its name.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

pub(crate) fn is_pid1() -> bool {
    std::process::id() == 1
}

/// `kill(-1, signal)`: every process in our PID namespace but ourselves. Only ever called as PID 1: as a
/// subreaper outside a namespace it would hit the whole machine.
pub(crate) fn broadcast(signal: Signal) {
    debug_assert!(is_pid1());
    if let Err(err) = kill(Pid::from_raw(-1), signal)
        && err != nix::errno::Errno::ESRCH
    {
        tracing::warn!(signal = signal.as_str(), error = %err, "signal all processes");
    }
}
