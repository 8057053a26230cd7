//! A supervisor killed -9 and started again on its state directory: the sessions it was running end
//! `lost`, with their seqs continued, and the finished ones are kept as they were.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(20);
const SUCCESS: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.0123,"result":"all done"}"#;

#[tokio::test]
async fn after_a_crash_running_sessions_are_lost_and_seqs_continue() {
    let sup = Options::default().start();
    sup.run_cmd("s-done", &format!("echo '{SUCCESS}'")).await;
    sup.wait_finished("s-done", WAIT).await;
    sup.run_cmd("s-running", "echo before-crash; exec sleep 100")
        .await;
    let log = sup.state_dir().join("sessions/s-running.log");
    let printed = async || log_contains(&sup.state_dir(), "s-running", "before-crash");
    assert!(
        eventually(WAIT, printed).await,
        "the agent's line reached the log"
    );
    // A torn write at the end of the log, as a crash mid-write leaves it.
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut file, b"{\"sessionId\":\"s-running\",\"seq\":9").unwrap();
    drop(file);

    let sup = sup.kill_and_restart();
    let lost = sup.session("s-running").await;
    assert_eq!(lost["status"], "lost", "{lost}");
    let events = sup.events("s-running").await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..events.len() as u64).collect::<Vec<_>>(),
        "seqs continue with no gap or reuse"
    );
    assert_eq!(events.last().unwrap()["type"], "session.finished");
    assert_eq!(events.last().unwrap()["data"]["status"], "lost");
    assert_eq!(agent_texts(&events), ["before-crash"]);
    // The finished session is still there, unchanged; its id cannot be started again.
    let done = sup.session("s-done").await;
    assert_eq!(
        (done["status"].clone(), done["numTurns"].clone()),
        (json!("succeeded"), json!(2))
    );
    let retry = json!({"agentId": "test", "sessionId": "s-done", "prompt": "run the command", "env": {"CMD": format!("echo '{SUCCESS}'")}});
    assert_eq!(sup.post("/execute", &retry).await.0, 409);
    let (_, list) = sup.get("/sessions").await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s-running", "s-done"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_session_running_when_the_supervisor_is_killed_ends_lost() {
    // A killed PID 1 sees none of its agents die (the kernel kills them after it), so the supervisor that
    // comes back must find every one of these sessions unfinished and end it `lost`; none may have been
    // finished as `failed` by the dying supervisor reaping an agent killed before it.
    let sup = Options::default().arg("--max-sessions").arg("64").start();
    let ids: Vec<String> = (0..40).map(|n| format!("cut-{n}")).collect();
    // Each agent leads a group of a few processes, as a real runner does.
    let agent = "for i in $(seq 16); do sleep 1000 & done; echo ready; wait";
    futures_util::future::join_all(ids.iter().map(|id| sup.run_cmd(id, agent))).await;
    for id in &ids {
        let ready = async || log_contains(&sup.state_dir(), id, r#""ready""#);
        assert!(eventually(WAIT, ready).await, "{id} started its processes");
    }
    let sup = sup.kill_and_restart();
    let mut not_lost = Vec::new();
    for id in &ids {
        let session = sup.session(id).await;
        if session["status"] != "lost" {
            not_lost.push(session);
        }
    }
    assert!(
        not_lost.is_empty(),
        "{} of {} sessions cut by the kill did not end lost: {not_lost:#?}",
        not_lost.len(),
        ids.len()
    );
}
