//! A conversation through the control plane (DESIGN §9) with the real SDK, as issue 11 asks for it: a real
//! `agentctl serve`, and supervisors that pull. Runtime `rt-a` claims and runs turn 1 and ships its events,
//! `conversation.state` included; then it is stopped and its state dir and workspace are deleted. Turns 2
//! and 3, queued at once, are claimed by runtime `rt-b` one after the other, each job carrying the state
//! the turn before left; fake-anthropic's recording shows what the model was sent.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);
const SECRET: &str = "hunter2-value-5e3f";

fn scenarios() -> Value {
    conversation_scenarios("echo tool-output-ONE-$((6*7)) $MY_SECRET")
}

/// A supervisor pulling from `cp` as runtime `runtime`, running the real SDK against `model`.
fn puller(cp: &ControlPlane, model: &FakeModel, runtime: &str) -> Sup {
    shipping_to(cp.addr)
        .runtime_id(runtime)
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

/// Waits until the control plane has `id` finished; answers the session as it shows it, which must have
/// succeeded on `runtime`.
async fn finished_on(cp: &ControlPlane, sup: &Sup, runtime: &str, id: &str) -> Value {
    let mut session = Value::Null;
    let finished = eventually(WAIT, async || {
        session = cp.session(id).await;
        session["finishedAt"].is_string()
    })
    .await;
    assert!(finished, "{id} did not finish: {session}\n{}", sup.stderr());
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    let started: Vec<Value> = cp
        .events(id)
        .await
        .into_iter()
        .filter(|e| e["type"] == "session.started")
        .map(|e| e["data"]["runtimeId"].clone())
        .collect();
    assert_eq!(started, [json!(runtime)], "{id} ran once, on {runtime}");
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
    let first = puller(&cp, &model, "rt-a");
    let one = finished_on(&cp, &first, "rt-a", "t-1").await;
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
    let second = puller(&cp, &model, "rt-b");
    let two = finished_on(&cp, &second, "rt-b", "t-2").await;
    assert!(
        two["resultText"]
            .as_str()
            .unwrap()
            .starts_with("ANSWER-TWO saw: tool-output-TWO"),
        "{two}"
    );
    let three = finished_on(&cp, &second, "rt-b", "t-3").await;
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
