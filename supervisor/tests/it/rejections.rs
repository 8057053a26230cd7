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
