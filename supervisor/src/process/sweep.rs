//! Ending every process of one uid: how a session's uid is made free again, escapees included.
//!
//! A child forks, takes the uid (`setresuid`, which also drops every capability of root) and calls
//! `kill(-1, sig)`: for a non-root caller that is every process it may signal, which is exactly the
//! processes of that uid, whatever their session or process group (`setsid` and double forks included).
//! The supervisor then reads `/proc` until none is left, and forks again while some are.

use std::io;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Reaper;

/// How long one signalling child may take before it is killed (an agent of that uid can stop it).
const CHILD_DEADLINE: Duration = Duration::from_secs(1);
/// Between two looks at `/proc`.
const POLL: Duration = Duration::from_millis(10);

/// Why processes of a uid could not be ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SweepError {
    #[error("fork the signalling child: {0}")]
    Fork(#[source] io::Error),
    #[error("processes {0:?} still run after SIGKILL")]
    Survivors(Vec<u32>),
}

/// Sends `signal` to every process of `uid` once (from a child that took the uid).
pub(crate) async fn signal_uid(reaper: &Reaper, uid: u32, signal: Signal) -> Result<(), SweepError> {
    let reaper = reaper.clone();
    let signal = signal as libc::c_int;
    let (pid, exit) = tokio::task::spawn_blocking(move || reaper.fork(move || signal_as(uid, signal)))
        .await
        .expect("fork does not panic")
        .map_err(SweepError::Fork)?;
    let mut exit = exit;
    if tokio::time::timeout(CHILD_DEADLINE, &mut exit).await.is_err() {
        // Stopped by a process of that uid (it may signal the child): our own unreaped child, so its
        // pid cannot have been reused.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        let _ = exit.await;
    }
    Ok(())
}

/// SIGKILLs every process of `uid` until `/proc` shows none (zombies aside: they run nothing and are
/// reaped by us), or `deadline` passes.
pub(crate) async fn kill_uid(reaper: &Reaper, uid: u32, deadline: Duration) -> Result<(), SweepError> {
    let until = Instant::now() + deadline;
    loop {
        signal_uid(reaper, uid, Signal::SIGKILL).await?;
        let left = processes_of(uid);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(SweepError::Survivors(left));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Returns once no process of `uid` is left.
pub(crate) async fn until_gone(uid: u32) {
    while !processes_of(uid).is_empty() {
        tokio::time::sleep(POLL).await;
    }
}

/// Runs in the forked child: takes `uid` and signals every process of it. Async-signal-safe system
/// calls only (the child is a copy of a multi-threaded process).
fn signal_as(uid: u32, signal: libc::c_int) -> i32 {
    // SAFETY: raw system calls with integer arguments. The raw setresuid: glibc's wrapper would try to
    // change the ids of every thread, and this copy of the process has one.
    unsafe {
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
            return 2;
        }
        // ESRCH (no process of the uid left) is success too.
        libc::kill(-1, signal);
    }
    0
}

/// Pids of the live processes (zombies aside) that have `uid` as a real, effective, saved or filesystem uid.
pub(crate) fn processes_of(uid: u32) -> Vec<u32> {
    running_uids()
        .filter(|(_, uids)| uids.contains(&uid))
        .map(|(pid, _)| pid)
        .collect()
}

/// The uids of `range` that a live process has, each once.
pub(crate) fn uids_in_use(range: super::UidRange) -> Vec<u32> {
    let mut uids: Vec<u32> = running_uids()
        .flat_map(|(_, uids)| uids)
        .filter(|uid| range.contains(*uid))
        .collect();
    uids.sort_unstable();
    uids.dedup();
    uids
}

fn running_uids() -> impl Iterator<Item = (u32, [u32; 4])> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            Some((pid, live_uids(&status)?))
        })
}

/// The four uids of a `/proc/<pid>/status`, `None` for a zombie (or a dead process).
fn live_uids(status: &str) -> Option<[u32; 4]> {
    let mut uids = None;
    for line in status.lines() {
        if let Some(state) = line.strip_prefix("State:") {
            if matches!(state.trim_start().chars().next(), Some('Z' | 'X')) {
                return None;
            }
        } else if let Some(values) = line.strip_prefix("Uid:") {
            let mut numbers = values.split_whitespace().map(str::parse::<u32>);
            let mut next = || numbers.next().and_then(Result::ok);
            uids = Some([next()?, next()?, next()?, next()?]);
        }
    }
    uids
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::live_uids;

    #[track_caller]
    fn check(status: &str, expect: Expect) {
        expect.assert_eq(&format!("{:?}", live_uids(status)));
    }

    #[test]
    fn a_process_counts_for_each_of_its_uids_unless_it_is_a_zombie() {
        check(
            "Name:\tsleep\nState:\tS (sleeping)\nUid:\t20001\t20001\t20001\t20001\nGid:\t0\t0\t0\t0\n",
            expect![["Some([20001, 20001, 20001, 20001])"]],
        );
        check(
            "Name:\tping\nState:\tR (running)\nUid:\t20001\t0\t0\t0\n",
            expect![["Some([20001, 0, 0, 0])"]],
        );
        check(
            "Name:\tsh\nState:\tZ (zombie)\nUid:\t20001\t20001\t20001\t20001\n",
            expect![["None"]],
        );
        check("Name:\tsh\nState:\tS (sleeping)\nUid:\tx\n", expect![["None"]]);
    }
}
