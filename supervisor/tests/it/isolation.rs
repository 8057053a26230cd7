//! Issue 10 finding 5: each running session has a uid of its own, so one session cannot read another's
//! environment, write its workspace or signal its processes; and every process of that uid, escapees
//! included, is gone once the session ended.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

/// The uid an agent printed as its first line (`uid=N`).
fn printed_uid(texts: &[String]) -> u32 {
    texts
        .iter()
        .find_map(|t| t.strip_prefix("uid="))
        .unwrap_or_else(|| panic!("no uid line in {texts:?}"))
        .parse()
        .unwrap()
}

/// Whether `pid` runs (a zombie waiting to be reaped runs nothing).
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|status| !status.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
}

async fn wait_running(sup: &Sup, id: &str) -> u32 {
    let mut pid = None;
    let started = eventually(WAIT, async || {
        let session = sup.session(id).await;
        pid = session["pid"].as_u64();
        session["status"] == "running" && !agent_texts(&sup.events(id).await).is_empty()
    })
    .await;
    assert!(started, "session {id} did not start");
    u32::try_from(pid.unwrap()).unwrap()
}

#[tokio::test]
async fn a_second_session_cannot_read_write_or_signal_the_first() {
    require_root();
    let sup = Options::default().start();
    let secret = "victim-secret-0123456789";
    sup.run_cmd_with(
        "victim",
        r#"echo "uid=$(id -u)"; echo private > mine.txt; exec sleep 300"#,
        json!({"env": {"VICTIM_SECRET": secret}}),
    )
    .await;
    let victim_pid = wait_running(&sup, "victim").await;
    let victim_dir = sup.workspace().join("sessions/victim");

    let probe = r#"echo "uid=$(id -u)"
        if tr '\0' '\n' < /proc/$VICTIM_PID/environ 2>/dev/null; then echo environ-readable; else echo environ-refused; fi
        if echo planted 2>/dev/null > "$VICTIM_DIR/planted"; then echo workspace-writable; else echo write-refused; fi
        if cat "$VICTIM_DIR/mine.txt" 2>/dev/null; then echo workspace-readable; else echo read-refused; fi
        if kill -9 "$VICTIM_PID" 2>/dev/null; then echo kill-allowed; else echo kill-refused; fi"#;
    sup.run_cmd_with(
        "attacker",
        probe,
        json!({"env": {"VICTIM_PID": victim_pid.to_string(), "VICTIM_DIR": victim_dir.display().to_string()}}),
    )
    .await;
    sup.wait_finished("attacker", WAIT).await;
    let events = sup.events("attacker").await;
    assert!(
        !events.iter().any(|e| e.to_string().contains(secret)),
        "the victim's secret reached the attacker's events"
    );
    let texts = agent_texts(&events);
    assert_eq!(
        texts[1..],
        ["environ-refused", "write-refused", "read-refused", "kill-refused"],
        "{texts:?}"
    );
    assert!(!victim_dir.join("planted").exists());

    let victim = sup.session("victim").await;
    assert_eq!(victim["status"], "running", "the victim survived: {victim}");
    let victim_uid = printed_uid(&agent_texts(&sup.events("victim").await));
    let attacker_uid = printed_uid(&texts);
    assert_ne!(victim_uid, attacker_uid, "two running sessions, two uids");
    for uid in [victim_uid, attacker_uid] {
        let first = sup.first_uid();
        assert!(
            (first..first + UIDS_PER_SUPERVISOR).contains(&uid),
            "uid {uid} is not of the supervisor's --uid-range"
        );
    }
    // The workspace and the home belong to the session's uid alone.
    for dir in [victim_dir.clone(), sup.workspace().join("homes/victim")] {
        let meta = std::fs::metadata(&dir).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (victim_uid, 0o700),
            "{}",
            dir.display()
        );
    }
    let (status, _) = sup.post("/sessions/victim/cancel", &json!({})).await;
    assert_eq!(status, 202);
    sup.wait_finished("victim", WAIT).await;
}

#[tokio::test]
async fn a_setsid_double_fork_escapee_is_gone_once_its_session_ended() {
    require_root();
    let sup = Options::default().start();
    // The inner shell leaves the agent's session and group, starts the escapee and exits: the escapee's
    // parent is gone (double fork), its pipes are closed, and no group kill reaches it.
    sup.run_cmd(
        "escape",
        r#"setsid sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo "escapee=$!"' </dev/null; exit 0"#,
    )
    .await;
    let session = sup.wait_finished("escape", WAIT).await;
    assert_eq!(session["exitCode"], 0, "{session}");
    let texts = agent_texts(&sup.events("escape").await);
    let pid: u32 = texts
        .iter()
        .find_map(|t| t.strip_prefix("escapee="))
        .unwrap_or_else(|| panic!("{texts:?}"))
        .parse()
        .unwrap();
    let running = is_running(pid);
    if running {
        sigkill(pid);
    }
    assert!(!running, "the escapee {pid} outlived its session");
}

#[tokio::test]
async fn a_uid_goes_back_to_the_pool_only_after_its_processes_are_gone() {
    require_root();
    let range = next_uid_range();
    let first: u32 = range.split('-').next().unwrap().parse().unwrap();
    let sup = Options::default()
        .arg("--uid-range")
        .arg(&format!("{first}-{}", first + 1))
        .arg("--max-sessions")
        .arg("2")
        .start();
    for id in ["a", "b"] {
        sup.run_cmd(id, r#"echo "uid=$(id -u)"; exec sleep 300"#).await;
        wait_running(&sup, id).await;
    }
    let uid_a = printed_uid(&agent_texts(&sup.events("a").await));
    let uid_b = printed_uid(&agent_texts(&sup.events("b").await));
    assert_eq!(
        std::collections::BTreeSet::from([uid_a, uid_b]),
        [first, first + 1].into(),
        "the two uids of the range, one each"
    );
    let (status, _) = sup.post("/sessions/a/cancel", &json!({})).await;
    assert_eq!(status, 202);
    sup.wait_finished("a", WAIT).await;
    sup.run_cmd("c", r#"echo "uid=$(id -u)""#).await;
    sup.wait_finished("c", WAIT).await;
    assert_eq!(
        printed_uid(&agent_texts(&sup.events("c").await)),
        uid_a,
        "the only free uid"
    );
}

#[test]
fn a_uid_range_smaller_than_max_sessions_is_refused_naming_both_flags() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let (status, stderr) = run_to_exit(
        &[
            "--state-dir",
            tmp.path().join("state").to_str().unwrap(),
            "--workspace",
            tmp.path().join("ws").to_str().unwrap(),
            "--runner",
            "/bin/true",
            "--uid-range",
            "20000-20003",
            "--max-sessions",
            "16",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--uid-range 20000-20003 holds 4 uids, fewer than --max-sessions 16"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_uid_handed_out_again_cannot_enter_what_its_last_session_left() {
    require_root();
    let range = next_uid_range();
    let first: u32 = range.split('-').next().unwrap().parse().unwrap();
    let sup = Options::default()
        .arg("--uid-range")
        .arg(&format!("{first}-{first}"))
        .arg("--max-sessions")
        .arg("1")
        .start();
    sup.run_cmd(
        "first",
        r#"echo "uid=$(id -u)"; echo left-behind > mine.txt; echo left-behind > "$HOME/mine.txt""#,
    )
    .await;
    sup.wait_finished("first", WAIT).await;
    let (dir, home) = (
        sup.workspace().join("sessions/first"),
        sup.workspace().join("homes/first"),
    );
    let probe = r#"echo "uid=$(id -u)"
        cat "$DIR/mine.txt" 2>/dev/null || echo workspace-refused
        cat "$HOME_DIR/mine.txt" 2>/dev/null || echo home-refused"#;
    sup.run_cmd_with(
        "second",
        probe,
        json!({"env": {"DIR": dir.display().to_string(), "HOME_DIR": home.display().to_string()}}),
    )
    .await;
    sup.wait_finished("second", WAIT).await;
    let texts = agent_texts(&sup.events("second").await);
    assert_eq!(
        texts,
        [
            format!("uid={first}"),
            "workspace-refused".into(),
            "home-refused".into()
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "left-behind\n",
        "the files stay for the operator"
    );
}
