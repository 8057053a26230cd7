//! The real Claude Agent SDK (`agent-runner/run.mjs` and its bundled CLI) through the supervisor, against
//! `fake-anthropic` on loopback.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);

/// A supervisor that runs the real runner as `nobody`, pointed at `fake-anthropic`'s built-in scenarios.
async fn sdk_supervisor() -> Sup {
    let model = FakeModel::builtin().await;
    Options::default()
        .real_sdk()
        .model(&model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start()
}

async fn execute(sup: &Sup, id: &str, prompt: &str, extra: Value) {
    let mut body = json!({"agentId": "sdk-test", "sessionId": id, "prompt": prompt, "options": {"model": "claude-sonnet-4-5"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, answer) = sup.post("/execute", &body).await;
    assert_eq!(status, 202, "{answer}");
}

/// Recognises one expected event.
type Matcher = Box<dyn Fn(&Value) -> bool>;

fn content_types(event: &Value) -> Vec<String> {
    event["data"]["message"]["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .map(|b| b["type"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_sdk_session_runs_a_tool_and_succeeds() {
    let sup = sdk_supervisor().await;
    execute(&sup, "s-sdk", "Where am I?", json!({})).await;
    let session = sup.wait_finished("s-sdk", WAIT).await;
    let events = sup.events("s-sdk").await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");
    // The conversation, in order (other SDK messages may come between, e.g. system status).
    let wanted: Vec<(&str, Matcher)> = vec![
        ("session.started", Box::new(|e| e["type"] == "session.started")),
        (
            "system init",
            Box::new(|e| e["type"] == "system" && e["data"]["subtype"] == "init"),
        ),
        (
            "assistant tool_use",
            Box::new(|e| e["type"] == "assistant" && content_types(e).contains(&"tool_use".to_owned())),
        ),
        (
            "user tool_result",
            Box::new(|e| {
                e["type"] == "user"
                    && e["data"]["message"]["content"]
                        .to_string()
                        .contains("hello from bash")
            }),
        ),
        (
            "assistant text",
            Box::new(|e| e["type"] == "assistant" && content_types(e) == ["text"]),
        ),
        (
            "result success",
            Box::new(|e| e["type"] == "result" && e["data"]["subtype"] == "success"),
        ),
        ("session.finished", Box::new(|e| e["type"] == "session.finished")),
    ];
    let mut at = 0;
    for (name, matches) in &wanted {
        let found = events[at..].iter().position(&**matches);
        let Some(offset) = found else {
            panic!("no {name} after event {at}: {events:#?}")
        };
        at += offset + 1;
    }
    // The tool really ran: the result holds the command's real output (`uname -s` of this machine).
    let tool_result = events.iter().find(|e| e["type"] == "user").unwrap().to_string();
    assert!(tool_result.contains("Linux"), "{tool_result}");
    let finished = &events.last().unwrap()["data"];
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["exitCode"], 0);
    assert_eq!(finished["numTurns"], 2);
    assert!(finished["totalCostUsd"].as_f64().unwrap() > 0.0, "{finished}");
    assert_eq!(session["numTurns"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn real_sdk_failures_end_in_the_right_status() {
    let sup = sdk_supervisor().await;
    execute(&sup, "s-401", "scenario:unauthorized hello", json!({})).await;
    execute(
        &sup,
        "s-turns",
        "Where am I?",
        json!({"options": {"model": "claude-sonnet-4-5", "maxTurns": 1}}),
    )
    .await;
    execute(&sup, "s-cancel", "scenario:sleep please wait", json!({})).await;
    execute(
        &sup,
        "s-timeout",
        "scenario:sleep please wait",
        json!({"timeoutSeconds": 4}),
    )
    .await;

    let unauthorized = sup.wait_finished("s-401", WAIT).await;
    assert_eq!(unauthorized["status"], "failed", "{unauthorized}");
    let error = unauthorized["error"].as_str().unwrap();
    assert!(
        error.contains("401") || error.to_lowercase().contains("api key"),
        "{error}"
    );

    let turns = sup.wait_finished("s-turns", WAIT).await;
    assert_eq!(turns["status"], "failed", "{turns}");
    assert!(
        turns["error"].as_str().unwrap().contains("error_max_turns"),
        "{turns}"
    );

    // Cancel once the agent is inside its long tool call.
    let mid_tool = async || log_contains(&sup.state_dir(), "s-cancel", "tool_use");
    assert!(
        eventually(WAIT, mid_tool).await,
        "the agent reached its tool call"
    );
    assert_eq!(sup.post("/sessions/s-cancel/cancel", &json!({})).await.0, 202);
    let cancelled = sup.wait_finished("s-cancel", WAIT).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    let timed_out = sup.wait_finished("s-timeout", WAIT).await;
    assert_eq!(timed_out["status"], "timed_out", "{timed_out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_dies_before_any_output_fails_with_its_stderr() {
    require_root();
    let sup = Options::default().runner("node /nonexistent/run.mjs").start();
    sup.run_cmd("s-dead", "unused").await;
    let session = sup.wait_finished("s-dead", WAIT).await;
    assert_eq!(session["status"], "failed");
    assert_eq!(session["exitCode"], 1);
    let error = session["error"].as_str().unwrap();
    assert!(error.contains("before printing any SDK message"), "{error}");
    let finished = sup.events("s-dead").await.pop().unwrap();
    assert!(
        finished["data"]["stderrTail"]
            .as_str()
            .unwrap()
            .contains("Cannot find module"),
        "{finished}"
    );
}
