use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid};
use tokio::sync::oneshot;

use super::{ExitStatus, Reaper};

/// The unprivileged identity an agent runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunAs {
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
}

/// Everything needed to start one agent process.
#[derive(Debug, Clone)]
pub(crate) struct SpawnSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// The complete environment: nothing of the supervisor's own is inherited.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: PathBuf,
    pub(crate) run_as: Option<RunAs>,
}

/// A started agent: its pid (which is also its process group and session id) and its pipes.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    pub(crate) stdin: OwnedFd,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    pub(crate) exit: oneshot::Receiver<ExitStatus>,
}

impl SpawnSpec {
    /// Starts the process in its own session with a clean signal state and only fds 0, 1 and 2.
    ///
    /// Blocking (`fork`/`exec`): call from `spawn_blocking`.
    pub(crate) fn spawn(&self, reaper: &Reaper) -> io::Result<Spawned> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(
                self.env
                    .iter()
                    .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            )
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(run_as) = self.run_as {
            // std drops supplementary groups (setgroups(0)) when switching uid as root.
            command.uid(run_as.uid.as_raw()).gid(run_as.gid.as_raw());
        }
        // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
        // system calls (setsid, sigprocmask, sigaction, close_range); it allocates nothing.
        unsafe {
            command.pre_exec(child_setup);
        }
        let (mut child, exit) = reaper.spawn(&mut command)?;
        let pipes = [
            child.stdout.as_ref().map(|p| p.as_raw_fd()),
            child.stderr.as_ref().map(|p| p.as_raw_fd()),
        ];
        for fd in pipes.into_iter().flatten() {
            grow_pipe(fd);
        }
        let take = |fd: Option<OwnedFd>| fd.ok_or_else(|| io::Error::other("child pipe missing"));
        let spawned = Spawned {
            pid: child.id(),
            stdin: take(child.stdin.take().map(OwnedFd::from))?,
            stdout: take(child.stdout.take().map(OwnedFd::from))?,
            stderr: take(child.stderr.take().map(OwnedFd::from))?,
            exit,
        };
        // Dropping a std Child neither waits nor kills: the reaper owns its status.
        drop(child);
        Ok(spawned)
    }
}

/// A fast agent writes 64 KiB (the default pipe size) and then waits for every read of ours; a larger pipe
/// lets it run ahead while we parse, which halves the round trips at high output rates. Best effort: the
/// kernel caps the size at `/proc/sys/fs/pipe-max-size` for unprivileged processes.
const PIPE_SIZE: libc::c_int = 1 << 20;

fn grow_pipe(fd: std::os::fd::RawFd) {
    // SAFETY: F_SETPIPE_SZ on an fd we own; failure leaves the pipe as it was.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE);
    }
}

/// Runs in the child between fork and exec.
fn child_setup() -> io::Result<()> {
    // Its own session and process group, so the whole tree can be signalled as one and it has no
    // controlling terminal.
    nix::unistd::setsid()?;
    // The supervisor's signal state must not leak into the agent: empty mask, default dispositions
    // (Rust ignores SIGPIPE in its own process, and an ignored disposition survives exec).
    // SAFETY: raw system calls on valid, stack-allocated arguments; async-signal-safe.
    unsafe {
        // The raw calls, not libc's wrappers: glibc refuses to touch its internal signals (32, 33), and
        // an ignored disposition of any signal, real-time ones included, would survive exec.
        let empty_mask: u64 = 0;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty_mask,
            std::ptr::null_mut::<u64>(),
            8usize,
        );
        // The kernel's `struct sigaction` with SIG_DFL (0), no flags, no restorer and an empty mask is all
        // zeros, whatever the architecture's field order.
        let default_action = [0u64; 4];
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    default_action.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        // Every fd above 2 is closed on exec, whatever opened it without O_CLOEXEC. CLOEXEC rather than
        // close: std reports exec failures through a CLOEXEC pipe that must stay open until exec.
        // Best effort: kernels before 5.11 lack the flag, and our own fds are CLOEXEC anyway.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
    }
    Ok(())
}

/// Sends `signal` to the process group `pgid`; a group that is already gone is not an error.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let pgid = i32::try_from(pgid).map_err(|_| io::Error::other("pgid out of range"))?;
    // kill(-1) would signal every process we may signal: never let a computed pgid become it.
    if pgid <= 1 {
        return Err(io::Error::other(format!(
            "refusing to signal process group {pgid}"
        )));
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// `SIGTERM` for 15, or the number for signals without a name.
pub(crate) fn signal_name(signal: i32) -> String {
    Signal::try_from(signal)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("SIG{signal}"))
}
