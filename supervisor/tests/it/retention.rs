//! Issue 14 part 5, `--retain`: a finished session's local log and directories go once its destination
//! acknowledged every event and it is older than `--retain`; nothing unacknowledged ever goes. A runtime
//! that runs many short sessions does not fill its disk.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);
const RESULT: &str =
    r#"echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}'"#;

/// A tmpfs of `bytes` mounted on a directory, unmounted when dropped.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, bytes: u64) -> Self {
        require_root();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes},mode=755"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs on {}", path.display());
        Self {
            path: path.to_owned(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// How many retention sweeps the supervisor logged so far.
fn sweeps(sup: &Sup) -> usize {
    sup.stderr()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["message"] == "retention sweep")
        .count()
}

/// Waits until `n` more sweeps ran than had when called.
async fn wait_sweeps(sup: &Sup, n: usize) {
    let from = sweeps(sup);
    let passed = eventually(WAIT, async || sweeps(sup) >= from + n).await;
    assert!(passed, "{n} sweeps ran:\n{}", sup.stderr());
}

/// Bytes the sweeps logged as freed, summed.
fn bytes_freed(sup: &Sup) -> u64 {
    sup.stderr()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| v["bytes_freed"].as_u64())
        .sum()
}

/// Whether `GET /sessions/{id}` answers that the session was removed after delivery.
async fn removed(sup: &Sup, id: &str) -> bool {
    let (status, body) = sup.get(&format!("/sessions/{id}")).await;
    status == 404
        && body["error"]["code"] == "not_found"
        && body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("removed after delivery"))
}

/// Waits until the session finished, and checks it succeeded; a session already removed (it finished and
/// was delivered) counts, and its status is checked at the control plane.
async fn wait_done(sup: &Sup, id: &str) {
    let done = eventually(WAIT, async || {
        let (status, body) = sup.get(&format!("/sessions/{id}")).await;
        match status {
            200 if matches!(body["status"].as_str(), Some("pending" | "running")) => false,
            200 => {
                assert_eq!(body["status"], "succeeded", "{id}: {body}");
                true
            }
            404 => removed(sup, id).await,
            _ => panic!("GET /sessions/{id}: {status} {body}"),
        }
    })
    .await;
    assert!(done, "session {id} finished");
}

const TMPFS_BYTES: u64 = 4 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_running_many_short_sessions_never_fills_its_disk() {
    require_root();
    let sessions = if crate::faults::full() { 10_000 } else { 1_000 };
    let dir = tempfile::tempdir().unwrap();
    // Dropped after the supervisor (declared before it): unmounted once nothing uses it.
    let _tmpfs = Tmpfs::mount(dir.path(), TMPFS_BYTES);
    let cp = ControlPlane::start().await;
    let options = shipping_to(cp.addr)
        .arg("--retain")
        .arg("0s")
        .arg("--max-sessions")
        .arg("8")
        // Delivery falling behind on a loaded machine must not fill the disk either: the spool cap bounds
        // the unacknowledged logs (and so the sessions not yet removed) by design.
        .arg("--spool-max")
        .arg("512KiB");
    let sup = Sup::start_in(options, dir);
    // Each session leaves 16 KiB in its workspace and ~8 KiB of log.
    // A full disk fails it (`set -e`) and shows in the metric of failed log writes.
    let cmd = format!("set -e; head -c 16384 /dev/zero > blob; seq 1 40; {RESULT}");
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    // Four sessions at a time, each waited for before the next: a few in parallel, as a busy runtime.
    let worker = async || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= sessions {
                return;
            }
            let id = format!("s-{i}");
            sup.run_cmd(&id, &cmd).await;
            wait_done(&sup, &id).await;
        }
    };
    futures_util::future::join_all((0..4).map(|_| worker())).await;
    let ran = started.elapsed();
    assert_eq!(
        sup.metric("supervisor_log_write_errors_total").await,
        Some(0),
        "no write failed"
    );
    let all_removed = async || sup.metric("supervisor_sessions_removed_total").await == Some(sessions as u64);
    assert!(
        eventually(WAIT, all_removed).await,
        "every session was removed after delivery"
    );
    assert_eq!(sup.metric("supervisor_sessions_retained").await, Some(0));
    let freed = bytes_freed(&sup);
    eprintln!(
        "{sessions} sessions in {ran:?} ({:.0}/s); {freed} bytes written and freed on a {TMPFS_BYTES}-byte tmpfs",
        sessions as f64 / ran.as_secs_f64()
    );
    assert!(
        freed > 3 * TMPFS_BYTES,
        "the sessions wrote {freed} bytes, more than the tmpfs holds several times over"
    );
    // The control plane holds every event of every session, and every one succeeded.
    let expected = cp.events("s-0").await.len();
    assert!(expected > 40, "s-0 has its 40 lines and the supervisor's events");
    for i in 0..sessions {
        let id = format!("s-{i}");
        let session = cp.session(&id).await;
        assert_eq!(session["status"], "succeeded", "{id}: {session}");
        assert_eq!(
            cp.rows(&id).await,
            expected as i64,
            "{id}: every event at the control plane"
        );
    }
    assert!(
        std::fs::read_dir(sup.workspace().join("sessions"))
            .unwrap()
            .next()
            .is_none(),
        "no session directory is left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_unacknowledged_is_removed_and_everything_arrives_after_the_outage() {
    let addr = free_addr();
    let db = SqliteDb::new();
    let mut cp = ControlPlane::start_on(addr, &db.url()).await;
    let sup = shipping_to(addr).arg("--retain").arg("0s").start();
    cp.kill();
    let ids = ["s-out-1", "s-out-2", "s-out-3"];
    for id in ids {
        sup.run_cmd(id, &format!("seq 1 200; {RESULT}")).await;
    }
    let mut local = Vec::new();
    for id in ids {
        sup.wait_finished(id, WAIT).await;
        local.push(sup.events(id).await);
    }
    // Sweeps with a zero retention run every second: several pass while the control plane is down.
    wait_sweeps(&sup, 3).await;
    for (id, events) in ids.iter().zip(&local) {
        assert!(
            sup.state_dir()
                .join("sessions")
                .join(format!("{id}.log"))
                .exists(),
            "{id}: the log of an unacknowledged session stays"
        );
        assert!(
            sup.workspace().join("sessions").join(id).exists(),
            "{id}: so do its directories"
        );
        assert_eq!(
            &sup.events(id).await,
            events,
            "{id}: and the API still answers it"
        );
    }
    assert_eq!(sup.metric("supervisor_sessions_removed_total").await, Some(0));
    assert_eq!(sup.metric("supervisor_sessions_retained").await, Some(3));

    let cp = ControlPlane::start_on(addr, &db.url()).await;
    for (id, events) in ids.iter().zip(&local) {
        let stored = cp.wait_delivered(events, id).await;
        assert_eq!(&stored, events, "{id}: every event arrived");
    }
    let all_removed = async || sup.metric("supervisor_sessions_removed_total").await == Some(3);
    assert!(eventually(WAIT, all_removed).await, "removed once delivered");
    for id in ids {
        assert!(removed(&sup, id).await, "{id} answers removed after delivery");
        assert!(
            !sup.state_dir()
                .join("sessions")
                .join(format!("{id}.log"))
                .exists()
        );
        assert!(!sup.workspace().join("sessions").join(id).exists());
        assert!(!sup.workspace().join("homes").join(id).exists());
    }
    assert!(
        sup.workspace().join("sessions").exists(),
        "the shared workspace stays"
    );
    assert_eq!(sup.metric("supervisor_sessions_retained").await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_retention_off_nothing_is_removed() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).arg("--retain").arg("off").start();
    sup.run_cmd("s-keep", &format!("seq 1 50; {RESULT}")).await;
    sup.wait_finished("s-keep", WAIT).await;
    let local = sup.events("s-keep").await;
    cp.wait_delivered(&local, "s-keep").await;
    // Delivered and finished: `0s` would remove it now. A restart sweeps the recovered sessions.
    let sup = sup.kill_and_restart();
    assert!(
        eventually(WAIT, async || sweeps(&sup) >= 1).await,
        "{}",
        sup.stderr()
    );
    assert_eq!(sup.events("s-keep").await, local);
    assert!(sup.workspace().join("sessions").join("s-keep").exists());
    assert_eq!(sup.metric("supervisor_sessions_removed_total").await, Some(0));
    assert_eq!(sup.metric("supervisor_sessions_retained").await, Some(1));
}

#[test]
fn a_bad_retention_is_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let workspace = tmp.path().join("ws");
    for value in ["soon", "24", "1x"] {
        let (status, stderr) = run_to_exit(
            &[
                "--state-dir",
                state.to_str().unwrap(),
                "--workspace",
                workspace.to_str().unwrap(),
                "--runner",
                "/bin/true",
                "--retain",
                value,
            ],
            Duration::from_secs(20),
        );
        assert_eq!(status.code(), Some(2), "--retain {value}: {stderr}");
        assert!(stderr.contains("--retain"), "--retain {value}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_session_is_never_run_again_even_after_a_restart() {
    // No destination: a session is settled once written, and goes at once with `0s`.
    let sup = Options::default().arg("--retain").arg("0s").start();
    let body = json!({"agentId": "test", "sessionId": "s-once", "prompt": "p", "env": {"CMD": "echo once"}});
    let (status, answer) = sup.post("/execute", &body).await;
    assert_eq!(status, 202, "{answer}");
    assert!(
        eventually(WAIT, async || removed(&sup, "s-once").await).await,
        "{}",
        sup.stderr()
    );
    let (status, events) = sup.get("/sessions/s-once/events").await;
    assert_eq!(status, 404, "{events}");
    let check_conflict = async |sup: &Sup| {
        let (status, answer) = sup.post("/execute", &body).await;
        assert_eq!(status, 409, "{answer}");
        assert_eq!(answer["error"]["code"], "conflict", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("removed after delivery"), "{message}");
    };
    check_conflict(&sup).await;
    let sup = sup.kill_and_restart();
    assert!(removed(&sup, "s-once").await, "the ledger remembers it");
    check_conflict(&sup).await;
    assert_eq!(sup.metric("supervisor_sessions_started_total").await, Some(0));
}
