//! SIGTERM and SIGINT: every group stopped, what ignores it killed after the grace period (or at once on a
//! second signal), escapees reached, last lines kept, exit 0; outside a namespace, never `kill(-1)`.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use super::*;
use crate::support::*;

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
    let mut health = Value::Null;
    let draining = eventually(DEADLINE, async || {
        let status;
        (status, health) = sup.get("/health").await;
        status == 503
    })
    .await;
    assert!(draining, "still healthy after SIGTERM: {health}");
    assert_eq!(health["status"], "shutting_down", "{health}");
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
async fn processes_that_escaped_with_setsid_get_sigterm_and_the_grace_period_at_shutdown() {
    let mut sup = Options::default().pid1().arg("--grace").arg("5s").start();
    // The escapee leaves the agent's session and group, while the agent goes on running. It takes a
    // moment to wind down after SIGTERM, well within the grace period. (An escapee of a session that
    // ended is killed with it: `isolation.rs`.)
    sup.run_cmd(
        "escape",
        r#"setsid sh -c 'trap "sleep 0.5; echo got TERM > escapee-got-term; exit 0" TERM; echo ready > escapee-ready; while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &
        until [ -e escapee-ready ]; do sleep 0.05; done; exec sleep 300"#,
    )
    .await;
    let dir = session_dir(&sup, "escape");
    wait_for_file(&dir.join("escapee-ready")).await;

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(5) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    // Its session's end kills whatever is left of its uid: the escapee must have had its chance first.
    let marker = std::fs::read_to_string(dir.join("escapee-got-term")).unwrap_or_else(|err| {
        panic!(
            "the escapee never acted on a SIGTERM before its session ended ({err}):\n{}",
            sup.stderr()
        )
    });
    assert_eq!(marker, "got TERM\n");
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
        eventually(DEADLINE, async || ppid_of(orphan) == Some(sup.pid)).await,
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
        eventually(DEADLINE, async || state_of(orphan).is_none()).await,
        "orphan {orphan} outlived its group"
    );
}
