//! What an agent starts with: no blocked or ignored signal, no leaked fd, its own session and group as a
//! uid of its own (with `nobody`'s group), none of the supervisor's environment, its job spec on stdin.

use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sys::signal::Signal;
use serde_json::Value;

use super::*;
use crate::support::*;

/// Starts the supervisor the way a careless parent would: `SIGALRM` blocked, `SIGVTALRM` and a
/// real-time signal ignored, and an fd without close-on-exec open. All of these are inherited through
/// `fork` and `exec`, so an agent with a clean state got it from the supervisor, not by luck.
/// Returns the leaked fd's number.
fn start_with_dirty_inheritance(options: Options) -> (Sup, i32) {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, pthread_sigmask, signal};
    // Dispositions are process-wide: one dirty start at a time, so each restores what it found.
    static DIRTY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = DIRTY.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let realtime = libc::SIGRTMIN() + 2;

    let mut blocked = SigSet::empty();
    blocked.add(Signal::SIGALRM);
    let mut old_mask = SigSet::empty();
    // Only this thread's mask: the test thread is the one that spawns the supervisor.
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut old_mask)).unwrap();
    // SAFETY: SIG_IGN installs no handler; nothing in the test binary uses these signals, and the
    // previous dispositions are put back right after the spawn.
    let old_handler = unsafe { signal(Signal::SIGVTALRM, SigHandler::SigIgn) }.unwrap();
    // SAFETY: as above; both structs are plain data, zeroed is a valid empty `sigaction`.
    let mut old_realtime: libc::sigaction = unsafe { std::mem::zeroed() };
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        assert_eq!(libc::sigaction(realtime, &ignore, &mut old_realtime), 0);
    }
    let devnull = std::fs::File::open("/dev/null").unwrap();
    // `dup` does not copy FD_CLOEXEC: this fd survives exec.
    let leaked = nix::unistd::dup(&devnull).unwrap();
    let fd = leaked.as_raw_fd();

    let sup = options.start();

    drop(leaked);
    // SAFETY: as above.
    unsafe {
        signal(Signal::SIGVTALRM, old_handler).unwrap();
        assert_eq!(libc::sigaction(realtime, &old_realtime, std::ptr::null_mut()), 0);
    }
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None).unwrap();

    // The dirt reached the supervisor (through `unshare`, which passes it on).
    let status = std::fs::read_to_string(format!("/proc/{}/status", sup.pid)).unwrap();
    assert!(
        signal_set(&status, "SigBlk").contains(&libc::SIGALRM),
        "SIGALRM not blocked:\n{status}"
    );
    let ignored = signal_set(&status, "SigIgn");
    assert!(
        ignored.contains(&libc::SIGVTALRM) && ignored.contains(&realtime),
        "not ignored:\n{status}"
    );
    assert!(
        Path::new(&format!("/proc/{}/fd/{fd}", sup.pid)).exists(),
        "fd {fd} was not inherited"
    );
    (sup, fd)
}

/// The signal numbers in a `Sig…` mask line of `/proc/<pid>/status`.
fn signal_set(status: &str, field: &str) -> Vec<i32> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .trim();
    let bits = u64::from_str_radix(hex, 16).unwrap();
    (1..=64)
        .filter(|signal| bits & (1 << (signal - 1)) != 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_starts_with_no_blocked_and_no_ignored_signals() {
    let (sup, _) = start_with_dirty_inheritance(pid1_sup());
    // The runner process itself, as the supervisor exec'd it: `exec` keeps the mask and what is ignored.
    sup.run_cmd("signals", "exec cat /proc/self/status").await;
    let (_, status) = output_of(&sup, "signals").await;
    let status = status.join("\n");
    let blocked = signal_set(&status, "SigBlk");
    let ignored = signal_set(&status, "SigIgn");
    assert_eq!(
        (blocked, ignored),
        (vec![], vec![]),
        "blocked and ignored signals of the agent:\n{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_inherits_no_fd_beyond_stdin_stdout_and_stderr() {
    let (sup, leaked_fd) = start_with_dirty_inheritance(pid1_sup());
    // `ls` is another process listing the shell's fds, so its own directory fd is not among them.
    sup.run_cmd("fds", r#"printf 'fds='; ls -m /proc/$$/fd"#).await;
    let (_, fds) = output_of(&sup, "fds").await;
    assert_eq!(
        fds,
        ["fds=0, 1, 2"],
        "the test leaked fd {leaked_fd} into the supervisor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_leads_its_own_session_and_group_as_a_uid_of_its_own() {
    let sup = pid1_sup().start();
    sup.run_cmd(
        "ids",
        r#"printf 'stat='; cat /proc/$$/stat; echo "ids=$(id -u) $(id -g) $(id -G)""#,
    )
    .await;
    let (session, ids) = output_of(&sup, "ids").await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let (pid, pgrp, sid) = stat_ids(ids[0].strip_prefix("stat=").unwrap());
    assert_eq!(session["pid"], pid, "the shell is the session's process: {ids:?}");
    assert_eq!(
        (pgrp, sid),
        (pid, pid),
        "the agent leads its own process group and session: {ids:?}"
    );
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody exists");
    let (uid, gid) = (sup.first_uid(), nobody.gid.as_raw());
    assert_eq!(
        ids[1],
        format!("ids={uid} {gid} {gid}"),
        "the first uid of the range with nobody's group, without root's supplementary groups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sees_none_of_the_supervisors_environment() {
    let sup = pid1_sup().env("SUPERVISOR_SECRET_TEST", "do-not-leak-me").start();
    sup.run_cmd("env", "env").await;
    let (_, env) = output_of(&sup, "env").await;
    let names: HashSet<&str> = env.iter().map(|line| line.split('=').next().unwrap()).collect();
    for name in ["CMD", "HOME", "PATH", "LANG"] {
        assert!(
            names.contains(name),
            "{name} is in the agent's environment: {env:?}"
        );
    }
    // The base, the request's env, and what a shell exports itself (PWD); the supervisor's own
    // variables (RUST_LOG, LOG_FORMAT and the secret) are not there.
    let allowed: HashSet<&str> = ["CMD", "HOME", "PATH", "LANG", "PWD"].into();
    assert!(
        names.is_subset(&allowed),
        "the agent sees variables it was not given: {env:?}"
    );
    assert!(!env.iter().any(|line| line.contains("do-not-leak-me")), "{env:?}");
    let home = sup.workspace().join("homes").join("env");
    assert!(
        env.contains(&format!("HOME={}", home.display())),
        "a private HOME: {env:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reads_its_job_spec_on_stdin_then_end_of_file() {
    let sup = pid1_sup().start();
    // `eof` is printed only once `cat` saw the end of its input.
    sup.run_cmd("stdin", "printf 'stdin='; cat; echo eof").await;
    let (_, stdin) = output_of(&sup, "stdin").await;
    assert_eq!(stdin.len(), 2, "{stdin:?}");
    let job: Value =
        serde_json::from_str(stdin[0].strip_prefix("stdin=").unwrap()).expect("the job spec is JSON");
    assert_eq!(job["sessionId"], "stdin", "{job}");
    assert_eq!(job["prompt"], "run the command", "{job}");
    assert_eq!(
        job["cwd"],
        session_dir(&sup, "stdin").display().to_string(),
        "{job}"
    );
    assert_eq!(stdin[1], "eof");
}
