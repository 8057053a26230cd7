//! A conversation continued on other supervisors through `POST /execute` with `conversation` (DESIGN.md §9):
//! the real SDK runner restores the previous turn's CLI session files and resumes them, and the model's
//! requests (fake-anthropic's recording) hold the earlier turns, after the first supervisor and its
//! directories are gone.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);

fn scenarios() -> Value {
    conversation_scenarios("echo tool-output-ONE-$((6*7))")
}

async fn supervisor(model: &FakeModel) -> Sup {
    Options::default()
        .real_sdk()
        .model(model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start()
}

/// Runs one turn and answers its result text and the `conversation` its state lines make for the next turn.
async fn turn(sup: &Sup, id: &str, prompt: &str, conversation: Value) -> (Value, Value) {
    let body = json!({"agentId": "conv", "sessionId": id, "prompt": prompt,
        "options": {"model": "claude-sonnet-4-5"}, "conversation": conversation});
    let (status, answer) = sup.post("/execute", &body).await;
    assert_eq!(status, 202, "{answer}");
    let session = sup.wait_finished(id, WAIT).await;
    let events = sup.events(id).await;
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    let result = events
        .iter()
        .rev()
        .find(|e| e["type"] == "result")
        .expect("a result");
    (result["data"]["result"].clone(), assemble(&events))
}

/// Joins a turn's `conversation.state` events into the next job's `conversation`, as the control plane does.
fn assemble(events: &[Value]) -> Value {
    let pieces: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "conversation.state")
        .map(|e| &e["data"])
        .collect();
    assert!(!pieces.is_empty(), "no conversation.state events: {events:#?}");
    for (i, piece) in pieces.iter().enumerate() {
        assert_eq!(piece["seq"], i, "gap-free seq");
    }
    assert_eq!(pieces.last().unwrap()["last"], true, "the state is complete");
    let mut files: Vec<Value> = Vec::new();
    for piece in &pieces {
        let data = piece["data"].as_str().unwrap();
        match files.last_mut() {
            Some(file) if file["path"] == piece["path"] => {
                let joined = format!("{}{data}", file["content"].as_str().unwrap());
                file["content"] = joined.into();
            }
            _ => files.push(json!({"path": piece["path"], "content": data,
                "encoding": piece.get("encoding").cloned().unwrap_or("utf8".into())})),
        }
    }
    json!({"sdkSessionId": pieces[0]["sdkSessionId"], "configDir": pieces[0]["configDir"], "files": files})
}

/// Every text of the messages of the last main (not auxiliary) request the model received.
fn last_request_texts(model: &FakeModel) -> (Value, String) {
    let requests = model.requests();
    let last = requests
        .iter()
        .rev()
        .find(|r| r["fake"]["auxiliary"] == false)
        .expect("a main request");
    (last["fake"].clone(), last["body"]["messages"].to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_continues_on_other_supervisors_after_the_first_one_and_its_dirs_are_gone() {
    let model = FakeModel::scenarios(&scenarios()).await;

    let first = supervisor(&model).await;
    let (one, state) = turn(
        &first,
        "c-1",
        "scenario:conv Please remember the word PINEAPPLE-1.",
        Value::Null,
    )
    .await;
    assert!(
        one.as_str()
            .unwrap()
            .starts_with("ANSWER-ONE saw: tool-output-ONE-42"),
        "{one}"
    );
    let (state_dir, workspace) = (first.state_dir(), first.workspace());
    drop(first);
    assert!(
        !state_dir.exists() && !workspace.exists(),
        "the first runtime is gone with its dirs"
    );

    let second = supervisor(&model).await;
    let (two, state) = turn(
        &second,
        "c-2",
        "Second prompt: what word did I ask you to remember?",
        state,
    )
    .await;
    assert!(
        two.as_str()
            .unwrap()
            .starts_with("ANSWER-TWO saw: tool-output-TWO"),
        "{two}"
    );
    let (fake, messages) = last_request_texts(&model);
    assert_eq!(
        (fake["scenario"].clone(), fake["turn"].clone()),
        (json!("conv"), json!(3)),
        "{fake}"
    );
    for earlier in ["PINEAPPLE-1", "tool-output-ONE-42", "ANSWER-ONE saw"] {
        assert!(
            messages.contains(earlier),
            "turn 2's request lacks {earlier}: {messages}"
        );
    }

    let third = supervisor(&model).await;
    let (three, _) = turn(&third, "c-3", "Third prompt.", state).await;
    assert!(three.as_str().unwrap().starts_with("ANSWER-THREE"), "{three}");
    let (fake, messages) = last_request_texts(&model);
    assert_eq!(
        (fake["scenario"].clone(), fake["turn"].clone()),
        (json!("conv"), json!(4)),
        "{fake}"
    );
    for earlier in [
        "PINEAPPLE-1",
        "tool-output-ONE-42",
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
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_without_conversation_starts_fresh() {
    let model = FakeModel::scenarios(&scenarios()).await;
    let sup = supervisor(&model).await;
    let (session, _) = turn(&sup, "c-fresh", "Second prompt: what word?", Value::Null).await;
    assert_eq!(session, "NOT RESUMED", "{session}");
}
