//! What an agent or another runtime does to break delivery, and that it breaks only what it owns: an agent
//! line with a `type` the control plane refuses, a session id another runtime owns.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);
const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1}"#;

/// The NDJSON lines of an agent of the test's own: each `type` the control plane refuses, between good
/// lines.
fn hostile_lines() -> Vec<String> {
    let long = "t".repeat(200);
    let mut lines = Vec::new();
    for (i, kind) in [
        json!(""),
        json!(long),
        json!("bell\u{7}"),
        json!("new\nline"),
        json!("\u{9b}csi"),
    ]
    .iter()
    .enumerate()
    {
        lines.push(json!({"type": "assistant", "n": i}).to_string());
        lines.push(json!({"type": kind, "n": i}).to_string());
    }
    lines.push(RESULT.to_owned());
    lines
}

/// A shell command printing `lines` one per line.
fn printing(lines: &[String]) -> String {
    let file: String = lines.iter().map(|l| format!("{l}\n")).collect();
    format!("printf '%s' '{}'", file.replace('\'', r"'\''"))
}

fn dead_letters(sup: &Sup) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(sup.state_dir().join("dead-letter"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_lines_with_types_the_control_plane_refuses_lose_no_event_of_any_session() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    // The innocent session writes while the hostile one does, so their events share batches.
    let innocent = format!("seq 1 300; sleep 0.3; seq 301 600; echo '{RESULT}'");
    sup.run_cmd("s-innocent", &innocent).await;
    sup.run_cmd("s-hostile", &printing(&hostile_lines())).await;
    for id in ["s-innocent", "s-hostile"] {
        let session = sup.wait_finished(id, WAIT).await;
        assert_eq!(session["status"], "succeeded", "{session}");
    }
    for id in ["s-innocent", "s-hostile"] {
        let local = sup.events(id).await;
        let stored = cp.wait_delivered(&local, id).await;
        assert_eq!(stored, local, "the control plane has every event of {id}");
    }
    assert_eq!(
        dead_letters(&sup),
        Vec::<std::path::PathBuf>::new(),
        "nothing was dead-lettered"
    );

    // Each refused `type` became `invalid_type`, and the line with its own `type` is the event's data.
    let stored = cp.events("s-hostile").await;
    let agent: Vec<&Value> = stored.iter().filter(|e| e["source"] == "agent").collect();
    let kinds: Vec<&str> = agent.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "assistant",
            "invalid_type",
            "assistant",
            "invalid_type",
            "assistant",
            "invalid_type",
            "assistant",
            "invalid_type",
            "assistant",
            "invalid_type",
            "result"
        ]
    );
    let printed: Vec<Value> = hostile_lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let data: Vec<Value> = agent.iter().map(|e| e["data"].clone()).collect();
    assert_eq!(data, printed, "every line is kept as the agent printed it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_id_another_runtime_owns_blocks_only_that_session() {
    let cp = ControlPlane::start().await;
    // Runtime A stores its session first (as its supervisor would: one batch).
    let theirs: Vec<Value> = (0..3)
        .map(|seq| {
            json!({"sessionId": "s-theirs", "seq": seq, "ts": "2026-12-01T12:00:00.000Z", "source": "agent",
                   "type": "text", "data": {"text": format!("runtime A line {seq}")}})
        })
        .collect();
    let stored = reqwest::Client::new()
        .post(format!("{}/api/internal/v1/events", cp.url()))
        .bearer_auth(CP_KEY)
        .json(&json!({"runtimeId": "rt-a", "events": theirs}))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200, "{}", stored.text().await.unwrap());

    // Runtime B (the supervisor, `rt-test`) is asked to run a session under A's id, then sessions of its own.
    // The foreign one runs until the test lets it end, so its rejection is reported while its log is open.
    let sup = shipping_to(cp.addr).start();
    let foreign = format!("echo hijack; until [ -e go-on ]; do sleep 0.05; done; echo '{RESULT}'");
    sup.run_cmd("s-theirs", &foreign).await;
    for id in ["s-later-1", "s-later-2"] {
        sup.run_cmd(id, &format!("seq 1 100; echo '{RESULT}'")).await;
    }
    for id in ["s-later-1", "s-later-2"] {
        sup.wait_finished(id, WAIT).await;
        let local = sup.events(id).await;
        let stored = cp.wait_delivered(&local, id).await;
        assert_eq!(stored, local, "every event of {id} was delivered");
    }

    // The foreign session is reported rejected in B's own log, with the control plane's code and message.
    let mut rejected = Value::Null;
    let reported = eventually(WAIT, async || {
        let events = sup.events("s-theirs").await;
        rejected = events
            .into_iter()
            .find(|e| e["type"] == "delivery.rejected")
            .unwrap_or_default();
        !rejected.is_null()
    })
    .await;
    assert!(reported, "a delivery.rejected event in the session's local log");
    assert_eq!(rejected["source"], "supervisor");
    assert_eq!(rejected["data"]["code"], "runtime_conflict", "{rejected}");
    assert!(
        rejected["data"]["message"].as_str().unwrap().contains("rt-a"),
        "{rejected}"
    );
    std::fs::write(sup.workspace().join("sessions/s-theirs/go-on"), "").unwrap();
    let session = sup.wait_finished("s-theirs", WAIT).await;
    assert_eq!(session["status"], "succeeded", "{session}");
    // A later session still flows after the foreign one finished.
    sup.run_cmd("s-later-3", &format!("echo '{RESULT}'")).await;
    sup.wait_finished("s-later-3", WAIT).await;
    let local = sup.events("s-later-3").await;
    assert_eq!(cp.wait_delivered(&local, "s-later-3").await, local);

    // Runtime A's session is untouched, and nothing went to the dead-letter directory.
    let stored: Vec<Value> = cp.events("s-theirs").await;
    assert_eq!(stored, theirs, "runtime A's events are as A stored them");
    assert_eq!(cp.session("s-theirs").await["runtimeId"], "rt-a");
    assert_eq!(dead_letters(&sup), Vec::<std::path::PathBuf>::new());
}
