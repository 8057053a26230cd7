//! PID 1 duties, black-box (reference/pid1.md §7–8): the real binary as PID 1 of a fresh PID namespace
//! (or as a plain subreaper), real agent processes run as `nobody`, and observations made from outside:
//! `/proc` of the host, exit statuses, session records, event logs on disk and files the agents wrote.

use std::collections::HashSet;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::*;

/// Generous: the machine is shared and loaded; these bound liveness, never speed.
const DEADLINE: Duration = Duration::from_secs(30);

fn pid1_sup() -> Options {
    Options::default().pid1().arg("--grace").arg("1s")
}

/// Polls the session's events until the agent printed `text` as a line of its own.
async fn wait_for_text(sup: &Sup, id: &str, text: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let texts = agent_texts(&sup.events(id).await);
        if texts.iter().any(|t| t == text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session {id} did not print {text:?}; it printed {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The data of the session's `session.finished` event, which must be its last event.
#[track_caller]
fn finished(events: &[Value]) -> &Value {
    let last = events.last().expect("a finished session has events");
    assert_eq!(
        last["type"], "session.finished",
        "the last event is session.finished: {events:#?}"
    );
    &last["data"]
}

/// A counter of `GET /metrics`.
async fn metric(sup: &Sup, name: &str) -> u64 {
    let (status, body) = sup.get("/metrics").await;
    assert_eq!(status, 200, "GET /metrics: {body}");
    let text = body.as_str().expect("metrics are text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .parse()
        .expect("a counter is an integer")
}

/// Waits until nothing at all is left below `pid`: every process exited and was reaped. An unreaped
/// zombie stays below its parent forever, so this fails on any zombie (the message counts them).
async fn assert_everything_reaped(pid: u32, timeout: Duration) {
    if !eventually(timeout, || descendants(pid).is_empty()).await {
        let left = descendants(pid);
        let zombies = left.iter().filter(|(_, state)| *state == 'Z').count();
        panic!(
            "{} processes below pid {pid} after {timeout:?}, {zombies} of them zombies: {left:?}",
            left.len()
        );
    }
}

fn session_dir(sup: &Sup, id: &str) -> PathBuf {
    sup.workspace().join("sessions").join(id)
}

async fn wait_for_file(path: &Path) {
    assert!(
        eventually(DEADLINE, || path.exists()).await,
        "{} was never written",
        path.display()
    );
}

/// `(pid, pgrp, session)` of a process, from `/proc/<pid>/stat`.
fn stat_ids(stat: &str) -> (u32, u32, u32) {
    let pid = stat.split_whitespace().next().expect("stat starts with the pid");
    let rest = &stat[stat.rfind(')').expect("stat has a comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    (
        pid.parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap(),
    )
}

fn ppid_of(pid: u32) -> Option<u32> {
    processes()
        .into_iter()
        .find(|(p, _, _)| *p == pid)
        .map(|(_, ppid, _)| ppid)
}

fn state_of(pid: u32) -> Option<char> {
    processes()
        .into_iter()
        .find(|(p, _, _)| *p == pid)
        .map(|(_, _, state)| state)
}

/// Outside a PID namespace nothing ends the agents of a supervisor that died, or was killed when its
/// test failed: on drop, this SIGKILLs every process working in the supervisor's workspace.
struct KillAgentsOnDrop(PathBuf);

impl Drop for KillAgentsOnDrop {
    fn drop(&mut self) {
        for (pid, _, _) in processes() {
            let in_workspace =
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&self.0));
            if in_workspace {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// A process started by the test itself, killed and waited for on drop.
struct Sentinel(std::process::Child);

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaps_hundreds_of_orphans_and_leaves_no_zombie() {
    let sup = pid1_sup().start();
    // Each `( … &)` subshell exits at once, so its sleep is orphaned immediately and adopted by PID 1;
    // `setsid` also takes it out of the agent's process group, so no group kill can hide a missing reap.
    sup.run_cmd(
        "orphans",
        "i=0; while [ $i -lt 300 ]; do (setsid sleep 0.3 </dev/null >/dev/null 2>&1 &); i=$((i+1)); done; exit 0",
    )
    .await;
    let session = sup.wait_finished("orphans", DEADLINE).await;
    assert_eq!(session["exitCode"], 0, "{session}");

    assert_everything_reaped(sup.pid, DEADLINE).await;
    let reaped = metric(&sup, "supervisor_orphans_reaped_total").await;
    assert!(
        reaped >= 300,
        "supervisor_orphans_reaped_total is {reaped}, fewer than the 300 orphans"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_every_exact_exit_code_in_a_burst_of_exits_during_an_orphan_storm() {
    let sup = pid1_sup().arg("--max-sessions").arg("64").start();
    sup.run_cmd(
        "storm",
        "i=0; while [ $i -lt 400 ]; do (sleep 0.$((i % 5)) &); i=$((i+1)); done; exit 7",
    )
    .await;
    let codes: Vec<u32> = (0..50).collect();
    let burst: Vec<(String, String)> = codes
        .iter()
        .map(|n| (format!("burst-{n}"), format!("sleep 0.0{}; exit {n}", n % 10)))
        .collect();
    futures_util::future::join_all(burst.iter().map(|(id, cmd)| sup.run_cmd(id, cmd))).await;

    let mut session_pids = HashSet::new();
    for n in &codes {
        let id = format!("burst-{n}");
        let session = sup.wait_finished(&id, DEADLINE).await;
        assert_eq!(session["exitCode"], *n, "{session}");
        assert_eq!(session["signal"], Value::Null, "{session}");
        let data = finished(&sup.events(&id).await).clone();
        assert_eq!(data["exitCode"], *n, "{data}");
        session_pids.insert(session["pid"].as_u64().expect("a started session has a pid"));
    }
    let storm = sup.wait_finished("storm", DEADLINE).await;
    assert_eq!(storm["exitCode"], 7, "{storm}");
    session_pids.insert(storm["pid"].as_u64().unwrap());
    assert_everything_reaped(sup.pid, DEADLINE).await;

    let stderr = sup.stderr();
    for bad in ["ECHILD", "No child process", "panicked", "waitpid failed"] {
        assert!(
            !stderr.contains(bad),
            "supervisor stderr mentions {bad:?}:\n{stderr}"
        );
    }
    // No agent's status was taken for an orphan's (pids are not reused in a namespace this young).
    let orphan_pids: Vec<u64> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["message"] == "reaped orphan")
        .map(|v| v["pid"].as_u64().expect("reaped orphan has a pid"))
        .collect();
    assert!(
        orphan_pids.len() >= 400,
        "only {} orphans logged as reaped",
        orphan_pids.len()
    );
    let misattributed: Vec<_> = orphan_pids
        .iter()
        .filter(|pid| session_pids.contains(pid))
        .collect();
    assert!(
        misattributed.is_empty(),
        "agents' pids reaped as orphans: {misattributed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_deaths_by_signal_as_the_signal_and_exit_codes_exactly() {
    let sup = pid1_sup().arg("--max-sessions").arg("64").start();
    let signals = ["TERM", "HUP", "KILL", "USR2", "SEGV"];
    for name in signals {
        sup.run_cmd(&format!("sig-{name}"), &format!("kill -{name} $$; sleep 5"))
            .await;
    }
    let codes = [0, 1, 2, 32, 64, 127, 143, 254, 255];
    for code in codes {
        sup.run_cmd(&format!("code-{code}"), &format!("exit {code}"))
            .await;
    }

    for name in signals {
        let id = format!("sig-{name}");
        let session = sup.wait_finished(&id, DEADLINE).await;
        assert_eq!(session["status"], "failed", "{session}");
        assert_eq!(session["signal"], format!("SIG{name}"), "{session}");
        assert_eq!(session["exitCode"], Value::Null, "{session}");
        let data = finished(&sup.events(&id).await).clone();
        assert_eq!(data["signal"], format!("SIG{name}"), "{data}");
        assert_eq!(data["exitCode"], Value::Null, "{data}");
    }
    // 143 is an exit code here, not a disguised SIGTERM.
    for code in codes {
        let id = format!("code-{code}");
        let session = sup.wait_finished(&id, DEADLINE).await;
        assert_eq!(session["exitCode"], code, "{session}");
        assert_eq!(session["signal"], Value::Null, "{session}");
        let data = finished(&sup.events(&id).await).clone();
        assert_eq!(data["exitCode"], code, "{data}");
        assert_eq!(data["signal"], Value::Null, "{data}");
    }
}

/// POSTs sessions to a supervisor whose runner cannot be executed; each must fail to spawn, cleanly.
async fn check_spawn_failure(sup: &Sup, program: &str) {
    // Three times with room for one session: a failed spawn must give its slot back.
    for attempt in 0..3 {
        let body =
            serde_json::json!({"agentId": "test", "sessionId": format!("bad-{attempt}"), "prompt": "hi"});
        let (status, answer) = sup.post("/execute", &body).await;
        assert_eq!(status, 500, "{answer}");
        assert_eq!(answer["error"]["code"], "spawn_failed", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(program),
            "the message names the runner {program}: {message}"
        );
    }
    let (status, health) = sup.get("/health").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["sessions"]["running"], 0, "{health}");
    assert_eq!(metric(sup, "supervisor_spawn_failures_total").await, 3);
    // The forked child that failed to exec was waited for, not left behind.
    assert_everything_reaped(sup.pid, DEADLINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_removed_after_start_is_a_spawn_error_and_the_supervisor_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let runner = dir.path().join("runner.sh");
    std::fs::write(&runner, "#!/bin/sh\necho should not run\n").unwrap();
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = runner.display().to_string();
    let sup = pid1_sup()
        .runner(&format!("{program} --flag"))
        .arg("--max-sessions")
        .arg("1")
        .start();
    std::fs::remove_file(&runner).unwrap();
    check_spawn_failure(&sup, &program).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_no_longer_executable_is_a_spawn_error_and_the_supervisor_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let runner = dir.path().join("runner.sh");
    std::fs::write(&runner, "#!/bin/sh\necho should not run\n").unwrap();
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = runner.display().to_string();
    let sup = pid1_sup().runner(&program).arg("--max-sessions").arg("1").start();
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o644)).unwrap();
    check_spawn_failure(&sup, &program).await;
}

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

/// Waits for a session that should exit 0 and returns its record and what it printed.
async fn output_of(sup: &Sup, id: &str) -> (Value, Vec<String>) {
    let session = sup.wait_finished(id, DEADLINE).await;
    assert_eq!(session["exitCode"], 0, "{session}");
    (session, agent_texts(&sup.events(id).await))
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
async fn the_agent_leads_its_own_session_and_group_as_nobody() {
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
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    assert_eq!(
        ids[1],
        format!("ids={uid} {gid} {gid}"),
        "nobody, without root's supplementary groups"
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_group_kills_what_ignores_it_keeps_the_last_lines_and_exits_0() {
    let mut sup = pid1_sup().start();
    // A group member that is not the leader records the SIGTERM it got.
    sup.run_cmd(
        "group",
        r#"sh -c 'trap "echo got TERM > member-got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done' & sleep 1000 & wait"#,
    )
    .await;
    // The whole group ignores SIGTERM (an ignored disposition is inherited by the sleeps).
    sup.run_cmd(
        "stubborn",
        r#"trap '' TERM; echo ready; while :; do sleep 0.1; done"#,
    )
    .await;
    sup.run_cmd(
        "last-words",
        r#"trap 'echo got TERM; printf "last words"; exit 0' TERM; echo ready; while :; do sleep 0.1; done"#,
    )
    .await;
    for id in ["group", "stubborn", "last-words"] {
        wait_for_text(&sup, id, "ready").await;
    }

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "unshare returns PID 1's status: {status:?}\n{}",
        sup.stderr()
    );

    let state = sup.state_dir();
    // (Their status is the business of `sessions_stopped_by_shutdown_are_cancelled_not_failed`.)
    let group = events_on_disk(&state, "group");
    let data = finished(&group);
    assert_eq!(
        (&data["exitCode"], &data["signal"]),
        (&Value::Null, &"SIGTERM".into()),
        "{data}"
    );
    let marker = std::fs::read_to_string(session_dir(&sup, "group").join("member-got-term")).unwrap();
    assert_eq!(marker, "got TERM\n");

    let stubborn = events_on_disk(&state, "stubborn");
    let data = finished(&stubborn);
    assert_eq!(
        (&data["status"], &data["signal"]),
        (&"cancelled".into(), &"SIGKILL".into()),
        "{data}"
    );

    let last_words = events_on_disk(&state, "last-words");
    assert_eq!(agent_texts(&last_words), ["ready", "got TERM", "last words"]);
    let data = finished(&last_words);
    assert_eq!(
        (&data["exitCode"], &data["signal"]),
        (&0.into(), &Value::Null),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_shuts_it_down_like_sigterm() {
    let mut sup = pid1_sup().start();
    sup.run_cmd("sleeper", "echo ready; exec sleep 1000").await;
    wait_for_text(&sup, "sleeper", "ready").await;
    sup.signal(Signal::SIGINT);
    let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    let events = events_on_disk(&sup.state_dir(), "sleeper");
    let data = finished(&events);
    assert_eq!(
        (&data["exitCode"], &data["signal"]),
        (&Value::Null, &"SIGTERM".into()),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stopped_by_shutdown_are_cancelled_not_failed() {
    // Many sessions in a few supervisors: the status must not depend on whether a session notices
    // the shutdown or its agent's death (from the shutdown's SIGTERM) first.
    let mut sups: Vec<Sup> = (0..3)
        .map(|_| pid1_sup().arg("--max-sessions").arg("64").start())
        .collect();
    let ids: Vec<String> = (0..60).map(|n| format!("stopped-{n}")).collect();
    for sup in &sups {
        futures_util::future::join_all(
            ids.iter()
                .map(|id| sup.run_cmd(id, "echo ready; exec sleep 1000")),
        )
        .await;
        futures_util::future::join_all(ids.iter().map(|id| wait_for_text(sup, id, "ready"))).await;
    }
    for sup in &sups {
        sup.signal(Signal::SIGTERM);
    }
    let mut wrong = Vec::new();
    for sup in &mut sups {
        let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
        assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
        for id in &ids {
            let data = finished(&events_on_disk(&sup.state_dir(), id)).clone();
            assert_eq!(data["signal"], "SIGTERM", "{id}: {data}");
            if data["status"] != "cancelled" {
                wrong.push((sup.pid, id, data));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} sessions stopped by the shutdown are not `cancelled`: {wrong:#?}",
        wrong.len(),
        sups.len() * ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_kills_at_once_instead_of_waiting_for_the_grace_period() {
    let mut sup = Options::default().pid1().arg("--grace").arg("60s").start();
    sup.run_cmd(
        "stubborn",
        r#"trap '' TERM; echo ready; while :; do sleep 0.1; done"#,
    )
    .await;
    wait_for_text(&sup, "stubborn", "ready").await;

    sup.signal(Signal::SIGTERM);
    // The first signal was taken: the supervisor is draining (and still answering).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, health) = sup.get("/health").await;
        if status == 503 {
            assert_eq!(health["status"], "shutting_down", "{health}");
            break;
        }
        assert!(Instant::now() < deadline, "still healthy after SIGTERM: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        sup.session("stubborn").await["status"],
        "running",
        "the agent ignores SIGTERM"
    );

    sup.signal(Signal::SIGTERM);
    // Far less than the 60 s grace: only the escalation can end it in time.
    let status = sup.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    let events = events_on_disk(&sup.state_dir(), "stubborn");
    let data = finished(&events);
    assert_eq!(
        (&data["status"], &data["signal"]),
        (&"cancelled".into(), &"SIGKILL".into()),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_that_escaped_with_setsid_get_sigterm_when_pid1_shuts_down() {
    let mut sup = Options::default().pid1().arg("--grace").arg("5s").start();
    // The escapee leaves the agent's session and group and outlives the agent, which waits until
    // it left (else the group kill after the agent's exit could catch it before its `setsid`). It
    // takes a moment to wind down, well within the grace period.
    sup.run_cmd(
        "escape",
        r#"setsid sh -c 'trap "sleep 0.5; echo got TERM > escapee-got-term; exit 0" TERM; echo ready > escapee-ready; while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &
        until [ -e escapee-ready ]; do sleep 0.05; done; exit 0"#,
    )
    .await;
    let session = sup.wait_finished("escape", DEADLINE).await;
    assert_eq!(session["exitCode"], 0, "{session}");
    let dir = session_dir(&sup, "escape");
    wait_for_file(&dir.join("escapee-ready")).await;
    assert!(
        !descendants(sup.pid).is_empty(),
        "the escapee is still running below PID 1"
    );

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(5) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    // PID 1's exit SIGKILLs whatever is left in the namespace: the escapee must have had its chance.
    let marker = std::fs::read_to_string(dir.join("escapee-got-term")).unwrap_or_else(|err| {
        panic!(
            "the escapee never acted on a SIGTERM before the namespace ended ({err}):\n{}",
            sup.stderr()
        )
    });
    assert_eq!(marker, "got TERM\n");
}

/// Sends the supervisor signals that would stop or kill a process with the default action, then
/// checks that it and its agents carry on.
async fn check_survives_unrelated_signals(mut sup: Sup) {
    sup.run_cmd("long", "echo ready; exec sleep 1000").await;
    wait_for_text(&sup, "long", "ready").await;
    for signal in [
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGTSTP,
    ] {
        sup.signal(signal);
    }
    // A stopped supervisor would not answer at all: bound the wait rather than hang.
    tokio::time::timeout(DEADLINE, still_serving(&sup))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the supervisor stopped answering; it is in state {:?}",
                state_of(sup.pid)
            )
        });
    let state = state_of(sup.pid).expect("the supervisor is alive");
    assert!(
        !matches!(state, 'T' | 't' | 'Z'),
        "the supervisor is in state {state}"
    );

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
}

/// Spawns and finishes a session, answers health, and still runs the long session.
async fn still_serving(sup: &Sup) {
    // A full session after the signals: it still spawns, reaps and logs.
    sup.run_cmd("after", "echo still here; exit 3").await;
    let after = sup.wait_finished("after", DEADLINE).await;
    assert_eq!(after["exitCode"], 3, "{after}");
    assert_eq!(agent_texts(&sup.events("after").await), ["still here"]);
    let (status, health) = sup.get("/health").await;
    assert_eq!((status, &health["status"]), (200, &"ok".into()), "{health}");
    assert_eq!(
        sup.session("long").await["status"],
        "running",
        "signals to the supervisor are not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_user_and_job_control_signals_do_not_stop_pid1() {
    check_survives_unrelated_signals(pid1_sup().start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_user_and_job_control_signals_do_not_stop_it_outside_a_namespace() {
    require_root();
    let sup = Options::default().arg("--grace").arg("1s").start();
    let _cleanup = KillAgentsOnDrop(sup.workspace());
    check_survives_unrelated_signals(sup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_namespace_it_adopts_orphans_and_never_signals_every_process() {
    require_root();
    // Started by the test, not by the supervisor: a `kill(-1)` from root would take it down.
    let mut sentinel = Sentinel(std::process::Command::new("sleep").arg("300").spawn().unwrap());
    let mut sup = Options::default().arg("--grace").arg("1s").start();
    let _cleanup = KillAgentsOnDrop(sup.workspace());
    sup.run_cmd(
        "adopt",
        r#"sh -c 'sleep 300 >/dev/null 2>&1 & echo orphan=$!'; sh -c 'trap "echo got TERM > member-got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done' & wait"#,
    )
    .await;
    wait_for_text(&sup, "adopt", "ready").await;
    let texts = agent_texts(&sup.events("adopt").await);
    let orphan: u32 = texts
        .iter()
        .find_map(|t| t.strip_prefix("orphan="))
        .unwrap_or_else(|| panic!("no orphan pid printed: {texts:?}"))
        .parse()
        .unwrap();
    // Its parent exited: a subreaper adopts it, else the machine's init would.
    assert!(
        eventually(DEADLINE, || ppid_of(orphan) == Some(sup.pid)).await,
        "orphan {orphan} has parent {:?}, not the supervisor {}",
        ppid_of(orphan),
        sup.pid
    );

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());

    let alive = sentinel.0.try_wait().unwrap().is_none();
    assert!(
        alive,
        "a process the supervisor did not start was killed by its shutdown"
    );
    // Without `kill(-1)`, SIGTERM still reached the agent's whole process group.
    let events = events_on_disk(&sup.state_dir(), "adopt");
    let data = finished(&events);
    assert_eq!(
        (&data["status"], &data["signal"]),
        (&"cancelled".into(), &"SIGTERM".into()),
        "{data}"
    );
    let marker = std::fs::read_to_string(session_dir(&sup, "adopt").join("member-got-term")).unwrap();
    assert_eq!(marker, "got TERM\n");
    assert!(
        eventually(DEADLINE, || state_of(orphan).is_none()).await,
        "orphan {orphan} outlived its group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_every_request_during_a_reap_storm() {
    let sup = pid1_sup().arg("--max-sessions").arg("64").start();
    let storm = "i=0; while [ $i -lt 150 ]; do (sleep 0.$((i % 3)) &); i=$((i+1)); done; exit 0";
    let ids: Vec<String> = (0..8).map(|n| format!("storm-{n}")).collect();
    let storms = futures_util::future::join_all(ids.iter().map(|id| sup.run_cmd(id, storm)));
    // Waves of concurrent requests, from the first spawn until every storm session has ended, so the
    // requests overlap the spawning and the reaping.
    let health = async {
        let mut statuses = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let wave = futures_util::stream::iter(0..200)
                .map(|_| async {
                    let request = sup.client.get(sup.url("/health")).timeout(DEADLINE).send();
                    match request.await {
                        Ok(response) => response.status().as_u16(),
                        Err(err) => panic!("GET /health failed during the storm: {err}"),
                    }
                })
                .buffer_unordered(200)
                .collect::<Vec<u16>>()
                .await;
            statuses.extend(wave);
            let (_, list) = sup.get("/sessions").await;
            let storms_done = list["sessions"].as_array().is_some_and(|sessions| {
                sessions.len() == ids.len()
                    && sessions
                        .iter()
                        .all(|s| !matches!(s["status"].as_str(), Some("pending" | "running")))
            });
            if storms_done && statuses.len() >= 600 {
                return statuses;
            }
            assert!(
                Instant::now() < deadline,
                "the storm sessions did not end: {list}"
            );
        }
    };
    let ((), statuses) = tokio::join!(
        async {
            storms.await;
        },
        health
    );
    let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} health requests failed: {failed:?}",
        failed.len(),
        statuses.len()
    );

    for id in &ids {
        let session = sup.wait_finished(id, DEADLINE).await;
        assert_eq!(session["exitCode"], 0, "{session}");
    }
    assert_everything_reaped(sup.pid, DEADLINE).await;
    let reaped = metric(&sup, "supervisor_orphans_reaped_total").await;
    assert!(reaped >= 8 * 150, "supervisor_orphans_reaped_total is {reaped}");
}
