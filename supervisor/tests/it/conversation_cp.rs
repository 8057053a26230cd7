//! A conversation through the control plane (DESIGN §9) with the real SDK: the test claims each job over
//! plain HTTP as a runtime's pull loop would and hands it to a supervisor's `POST /execute`; the supervisor
//! ships the turn's events, `conversation.state` included, back to the control plane, whose next claim
//! carries the state. Turn 1's supervisor is gone with its directories before turn 2.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);
const SECRET: &str = "hunter2-value-5e3f";

fn scenarios() -> Value {
    let bash = |command: &str| json!({"name": "Bash", "input": {"command": command, "description": "tool"}});
    json!({"default": "fresh", "scenarios": {
        "fresh": {"turns": [{"text": "NOT RESUMED"}]},
        "conv": {"turns": [
            {"text": "Turn 1: running a tool.", "toolUse": bash("echo tool-output-ONE-$((6*7)) $MY_SECRET")},
            {"text": "ANSWER-ONE saw: {{tool_result}}"},
            {"text": "Turn 2: running a tool.", "toolUse": bash("echo tool-output-TWO")},
            {"text": "ANSWER-TWO saw: {{tool_result}}"},
            {"text": "ANSWER-THREE"}
        ]}
    }})
}

/// Every harness supervisor is runtime `rt-test` (its `--runtime-id`): a claim must name the runtime
/// whose events will follow.
const RUNTIME: &str = "rt-test";

async fn supervisor(cp: &ControlPlane, model: &FakeModel) -> Sup {
    shipping_to(cp.addr)
        .real_sdk()
        .model(model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start()
}

async fn public(cp: &ControlPlane, method: reqwest::Method, path: &str, body: &Value) -> Value {
    let response = cp.public(method, path).json(body).send().await.expect("send");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn claim(cp: &ControlPlane, runtime: &str) -> Vec<Value> {
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{}/api/internal/v1/claim", cp.addr))
        .bearer_auth(CP_KEY)
        .json(&json!({"runtimeId": runtime, "labels": {}, "free": 10, "waitSeconds": 0}))
        .send()
        .await
        .expect("claim")
        .json()
        .await
        .expect("a claim answer");
    answer["jobs"].as_array().expect("jobs").clone()
}

/// Claims the one job there is for `runtime`, runs it on `sup` and waits until the control plane has it
/// finished; answers the session as the control plane shows it.
async fn run_claimed(cp: &ControlPlane, sup: &Sup, runtime: &str, id: &str) -> Value {
    let jobs = claim(cp, runtime).await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["sessionId"], id);
    let (status, answer) = sup.post("/execute", &jobs[0]).await;
    assert_eq!(status, 202, "{answer}");
    let mut session = Value::Null;
    let finished = eventually(WAIT, async || {
        session = cp.session(id).await;
        session["finishedAt"].is_string()
    })
    .await;
    assert!(finished, "{id} did not finish: {session}\n{}", sup.stderr());
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    session
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_continues_through_the_control_plane_on_other_runtimes_in_order() {
    let model = FakeModel::scenarios(&scenarios()).await;
    let cp = ControlPlane::start().await;
    public(
        &cp,
        reqwest::Method::PUT,
        "/api/v1/agents/conv",
        &json!({"id": "conv", "model": "claude-sonnet-4-5", "secrets": {"MY_SECRET": SECRET}}),
    )
    .await;
    let queue =
        async |body: Value| public(&cp, reqwest::Method::POST, "/api/v1/agents/conv/sessions", &body).await;

    queue(json!({"prompt": "scenario:conv Please remember the word PINEAPPLE-1.", "sessionId": "t-1"})).await;
    let first = supervisor(&cp, &model).await;
    let one = run_claimed(&cp, &first, RUNTIME, "t-1").await;
    assert!(
        one["resultText"]
            .as_str()
            .unwrap()
            .starts_with("ANSWER-ONE saw: tool-output-ONE-42"),
        "{one}"
    );
    let (state_dir, workspace) = (first.state_dir(), first.workspace());
    drop(first);
    assert!(!state_dir.exists() && !workspace.exists());

    // Two follow-ups queued at once.
    queue(json!({"prompt": "Second prompt: what word?", "sessionId": "t-2", "conversationId": "t-1"})).await;
    queue(json!({"prompt": "Third prompt.", "sessionId": "t-3", "conversationId": "t-1"})).await;
    let second = supervisor(&cp, &model).await;
    let two = run_claimed(&cp, &second, RUNTIME, "t-2").await;
    assert!(
        two["resultText"]
            .as_str()
            .unwrap()
            .starts_with("ANSWER-TWO saw: tool-output-TWO"),
        "{two}"
    );
    let three = run_claimed(&cp, &second, RUNTIME, "t-3").await;
    assert!(
        three["resultText"].as_str().unwrap().starts_with("ANSWER-THREE"),
        "{three}"
    );
    assert!(
        two["finishedAt"].as_str() <= three["startedAt"].as_str(),
        "one after the other: {two} {three}"
    );

    // The model's last request holds the earlier turns; the secret only as the supervisor redacted it.
    let requests = model.requests();
    let last = requests
        .iter()
        .rev()
        .find(|r| r["fake"]["auxiliary"] == false)
        .expect("a request");
    assert_eq!(
        (last["fake"]["scenario"].clone(), last["fake"]["turn"].clone()),
        (json!("conv"), json!(4))
    );
    let messages = last["body"]["messages"].to_string();
    for earlier in [
        "PINEAPPLE-1",
        "tool-output-ONE-42 [redacted:MY_SECRET]",
        "ANSWER-ONE saw",
        "Second prompt",
        "tool-output-TWO",
        "ANSWER-TWO saw",
        "Third prompt.",
    ] {
        assert!(
            messages.contains(earlier),
            "turn 3's request lacks {earlier}: {messages}"
        );
    }

    // The event log holds markers only, and the state table no secret in clear.
    let store = control_plane::store::Store::connect_lazy(&cp.database_url)
        .await
        .expect("the database");
    for id in ["t-1", "t-2", "t-3"] {
        let events = cp.events(id).await;
        let markers: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "conversation.state")
            .collect();
        assert!(!markers.is_empty(), "{id}: {events:#?}");
        assert!(
            markers
                .iter()
                .all(|m| m["data"].get("data").is_none() && m["data"]["bytes"].is_u64())
        );
        assert!(!serde_json::to_string(&events).unwrap().contains(SECRET));
        let pieces = store.state_pieces(id).await.expect("pieces");
        assert_eq!(pieces.len(), markers.len(), "{id}");
        assert!(
            pieces
                .iter()
                .all(|p| p.sealed && !p.data.contains(SECRET) && !p.data.contains("PINEAPPLE"))
        );
    }
    store.close().await;
}
