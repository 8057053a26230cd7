use std::collections::HashMap;
use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::Signal;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How a process ended. Kept raw: a death by SIGTERM is not conflated with `exit 143`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Exited(i32),
    Signaled { signal: i32, core_dumped: bool },
}

/// The sole owner of `waitpid` in this process.
///
/// Registered children get their status through a oneshot channel; everything else that is reaped
/// (orphans adopted because we are PID 1 or a subreaper) is counted and logged.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reaper {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    waiting: Mutex<HashMap<i32, oneshot::Sender<ExitStatus>>>,
    orphans_reaped: AtomicU64,
}

/// A safety net under SIGCHLD: deliveries coalesce and a handler can miss an edge, so the reaper also
/// sweeps on a timer (tini does the same, once per second).
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

impl Reaper {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spawns `command` and registers its pid before any reaping can happen.
    ///
    /// The registry lock is held across `Command::spawn`: a child that exits at once stays a zombie until
    /// it is registered, and when `exec` fails, std's own `waitpid` on the failed child cannot race with
    /// `reap_all` (which would make std panic). Call it from a blocking context: `fork` can take a while.
    pub(crate) fn spawn(&self, command: &mut Command) -> io::Result<(Child, oneshot::Receiver<ExitStatus>)> {
        let mut waiting = self.lock();
        let child = command.spawn()?;
        let (tx, rx) = oneshot::channel();
        let pid = i32::try_from(child.id()).expect("pids fit in i32");
        waiting.insert(pid, tx);
        Ok((child, rx))
    }

    /// Forks a child that runs `child` and exits with the code it returns, registered like `spawn`;
    /// returns its pid and its exit status.
    ///
    /// `child` runs in a copy of a multi-threaded process: it may make async-signal-safe system calls
    /// only (no allocation, no locks). Call it from a blocking context.
    pub(crate) fn fork(
        &self,
        child: impl FnOnce() -> i32,
    ) -> io::Result<(i32, oneshot::Receiver<ExitStatus>)> {
        let mut waiting = self.lock();
        // SAFETY: the child runs only `child`, async-signal-safe by this function's contract, and leaves
        // with `_exit`, never returning into the copied runtime (nor touching the lock held here).
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            nix::unistd::ForkResult::Child => {
                let code = child();
                // SAFETY: ends the child without running the parent's atexit handlers or destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let (tx, rx) = oneshot::channel();
                waiting.insert(child.as_raw(), tx);
                Ok((child.as_raw(), rx))
            }
        }
    }

    pub(crate) fn orphans_reaped(&self) -> u64 {
        self.inner.orphans_reaped.load(Ordering::Relaxed)
    }

    /// Collects every exit status that is ready, without blocking.
    pub(crate) fn reap_all(&self) {
        let mut waiting = self.lock();
        loop {
            let status = match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
            ) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ExitStatus::Exited(code)),
                Ok(WaitStatus::Signaled(pid, signal, core_dumped)) => (
                    pid,
                    ExitStatus::Signaled {
                        signal: signal as i32,
                        core_dumped,
                    },
                ),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(err) => {
                    tracing::error!(error = %err, "waitpid failed");
                    return;
                }
            };
            let (pid, status) = status;
            match waiting.remove(&pid.as_raw()) {
                // The session may have given up waiting (its task ended); the status is then unneeded.
                Some(tx) => drop(tx.send(status)),
                None => {
                    self.inner.orphans_reaped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(pid = pid.as_raw(), ?status, "reaped orphan");
                }
            }
        }
    }

    /// Reaps on every SIGCHLD and on a timer until `stop` is cancelled.
    ///
    /// `sigchld` must have been created before the first child was spawned, or an early exit could be
    /// missed until the next sweep.
    pub(crate) async fn run(self, mut sigchld: Signal, stop: CancellationToken) {
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = sigchld.recv() => {}
                _ = sweep.tick() => {}
            }
            self.reap_all();
        }
        self.reap_all();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, oneshot::Sender<ExitStatus>>> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts and removes),
        // so a poisoned lock is still usable, and reaping must go on regardless.
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
