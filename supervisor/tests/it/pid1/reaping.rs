//! PID 1 reaps everything: orphans by the hundred, every exit status exactly, a failed spawn, and it keeps
//! answering while it does.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

use super::*;
use crate::support::*;

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
