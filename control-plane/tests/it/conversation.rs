//! Conversation state through the control plane (DESIGN §9, ARCHITECTURE.md "Conversations"): the
//! `conversation.state` lines a runner prints are kept out of the event log (a marker stays in their place),
//! stored sealed per session, and the claim of the conversation's next session carries the latest complete
//! state as the job's `conversation`. Driven with plain HTTP as a runtime would.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{SECRET, definition, put};
use crate::helpers::{TestApp, TestDb, ev, spawn_app, sup};
use crate::on_both_backends;

const SDK_ID: &str = "46a3fd50-0000-4000-8000-000000000000";

async fn claim(app: &TestApp, runtime: &str) -> Vec<Value> {
    let (status, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": runtime, "labels": {"pool": "default"}, "free": 10, "waitSeconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["jobs"].as_array().expect("jobs").clone()
}

async fn queue(app: &TestApp, body: Value) {
    let (status, answer) = app
        .post_public("/api/v1/agents/support-bot/sessions", &body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

/// A state line as agent-runner prints it.
fn piece(sid: &str, seq: u64, at: u64, path: &str, data: &str, last: bool) -> Value {
    let mut line = json!({"type": "conversation.state", "sdkSessionId": SDK_ID, "configDir": format!("/w/homes/{sid}/.claude"),
        "seq": at, "path": path, "data": data});
    if last {
        line["last"] = true.into();
    }
    ev(sid, seq, "conversation.state", line)
}

/// Runs a claimed session as its runtime would: started, the given state pieces, finished.
async fn run(app: &TestApp, runtime: &str, sid: &str, pieces: Vec<Value>) {
    let mut events = vec![sup(
        sid,
        0,
        "session.started",
        json!({"agentId": "support-bot", "pid": 7, "runtimeId": runtime, "runner": "x"}),
    )];
    let n = pieces.len() as u64;
    events.extend(pieces);
    events.push(sup(
        sid,
        n + 1,
        "session.finished",
        json!({"status": "succeeded", "exitCode": 0}),
    ));
    let (status, answer) = app.ingest(runtime, &events).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("rejected").is_none(), "{answer}");
}

fn transcript(sid: &str) -> String {
    format!("projects/-w-sessions-{sid}/{SDK_ID}.jsonl")
}

async fn a_follow_up_claim_carries_the_latest_complete_state_and_the_log_only_a_marker(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, answer) = put(&app, "support-bot", &definition()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    queue(&app, json!({"prompt": "one", "sessionId": "k-1"})).await;
    let jobs = claim(&app, "rt-a").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["conversation"], Value::Null, "a first turn starts fresh");
    // Turn 1's transcript, in two pieces, holding what a tool printed (the secret, as if unredacted).
    let first_half = format!("{{\"tool\":\"{SECRET}\"}}\n");
    run(
        &app,
        "rt-a",
        "k-1",
        vec![
            piece("k-1", 1, 0, &transcript("k-1"), &first_half, false),
            piece("k-1", 2, 1, &transcript("k-1"), "{\"answer\":\"ONE\"}\n", false),
            piece(
                "k-1",
                3,
                2,
                &format!("projects/-w-sessions-k-1/{SDK_ID}/tool-results/b.txt"),
                "big",
                true,
            ),
        ],
    )
    .await;

    // Two follow-ups queued at once: one at a time, in order.
    queue(
        &app,
        json!({"prompt": "two", "sessionId": "k-2", "conversationId": "k-1"}),
    )
    .await;
    queue(
        &app,
        json!({"prompt": "three", "sessionId": "k-3", "conversationId": "k-1"}),
    )
    .await;
    let jobs = claim(&app, "rt-b").await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["sessionId"], "k-2");
    let expected = json!({"sdkSessionId": SDK_ID, "configDir": "/w/homes/k-1/.claude", "files": [
        {"path": transcript("k-1"), "content": format!("{first_half}{{\"answer\":\"ONE\"}}\n"), "encoding": "utf8"},
        {"path": format!("projects/-w-sessions-k-1/{SDK_ID}/tool-results/b.txt"), "content": "big", "encoding": "utf8"}]});
    assert_eq!(jobs[0]["conversation"], expected);
    assert!(claim(&app, "rt-c").await.is_empty(), "k-3 waits for k-2");

    // Turn 2 is cut off: its state has no last piece, so turn 3 continues from turn 1's.
    run(
        &app,
        "rt-b",
        "k-2",
        vec![piece("k-2", 1, 0, &transcript("k-2"), "partial", false)],
    )
    .await;
    let jobs = claim(&app, "rt-c").await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["sessionId"], "k-3");
    assert_eq!(jobs[0]["conversation"], expected);
    let (_, k2) = app.get("/api/v1/sessions/k-2").await;
    let (_, k3) = app.get("/api/v1/sessions/k-3").await;
    assert_eq!(k3["status"], "pending");
    assert_eq!(k2["status"], "succeeded");

    // The event log keeps every seq, with markers instead of the content.
    let events = app.all_events("k-1").await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    assert_eq!(
        events[1]["data"],
        json!({"path": transcript("k-1"), "seq": 0, "last": false, "bytes": first_half.len()})
    );
    assert_eq!(events[3]["data"]["last"], true);
    let all = serde_json::to_string(&events).expect("json");
    assert!(!all.contains(SECRET) && !all.contains("answer"), "{all}");

    // The state table holds every piece, none in clear.
    let rows = db
        .fetch_strings("SELECT data FROM conversation_state ORDER BY session_id, seq")
        .await;
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| !r.contains(SECRET) && !r.contains("answer") && r != "big"),
        "{rows:?}"
    );
}

async fn a_follow_up_of_a_conversation_without_any_state_starts_fresh(db: TestDb) {
    let app = spawn_app(&db).await;
    put(&app, "support-bot", &definition()).await;
    queue(&app, json!({"prompt": "one", "sessionId": "f-1"})).await;
    claim(&app, "rt-a").await;
    run(&app, "rt-a", "f-1", Vec::new()).await;
    queue(
        &app,
        json!({"prompt": "two", "sessionId": "f-2", "conversationId": "f-1"}),
    )
    .await;
    let jobs = claim(&app, "rt-a").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["conversation"], Value::Null);
}

async fn a_follow_up_whose_state_is_over_the_bound_fails_with_the_reason(db: TestDb) {
    let app = spawn_app(&db).await;
    put(&app, "support-bot", &definition()).await;
    queue(&app, json!({"prompt": "one", "sessionId": "b-1"})).await;
    claim(&app, "rt-a").await;
    // 33 MiB of transcript in pieces of 256 KiB, sent in batches below the ingest body limit.
    let chunk = "x".repeat(256 * 1024);
    let n: u64 = 132;
    let started = sup(
        "b-1",
        0,
        "session.started",
        json!({"agentId": "support-bot", "pid": 7, "runtimeId": "rt-a", "runner": "x"}),
    );
    assert_eq!(app.ingest("rt-a", &[started]).await.0, StatusCode::OK);
    for batch in (0..n).collect::<Vec<_>>().chunks(24) {
        let events: Vec<Value> = batch
            .iter()
            .map(|&i| piece("b-1", i + 1, i, &transcript("b-1"), &chunk, i == n - 1))
            .collect();
        let (status, answer) = app.ingest("rt-a", &events).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let finished = sup(
        "b-1",
        n + 1,
        "session.finished",
        json!({"status": "succeeded", "exitCode": 0}),
    );
    assert_eq!(app.ingest("rt-a", &[finished]).await.0, StatusCode::OK);

    queue(
        &app,
        json!({"prompt": "two", "sessionId": "b-2", "conversationId": "b-1"}),
    )
    .await;
    assert!(
        claim(&app, "rt-b").await.is_empty(),
        "no job that could not carry its state"
    );
    let (_, b2) = app.get("/api/v1/sessions/b-2").await;
    assert_eq!(b2["status"], "failed", "{b2}");
    expect_test::expect!["the conversation cannot continue: the conversation state is 33816576 bytes, more than the 33554432 a job may carry"].assert_eq(b2["error"].as_str().expect("an error"));
}

on_both_backends!(
    a_follow_up_claim_carries_the_latest_complete_state_and_the_log_only_a_marker,
    a_follow_up_of_a_conversation_without_any_state_starts_fresh,
    a_follow_up_whose_state_is_over_the_bound_fails_with_the_reason,
);

#[test]
fn the_transcript_shows_a_saved_state_as_one_short_line() {
    use control_plane::cli::render::Style;
    use control_plane::cli::render::transcript::render;
    let marker = |seq: u64, last: bool| -> protocol::Event {
        let event = ev(
            "s-1",
            seq,
            "conversation.state",
            json!({"path": "p", "seq": seq, "last": last, "bytes": 9}),
        );
        serde_json::from_value(event).expect("an event")
    };
    let shown = render(
        &[marker(0, false), marker(1, false), marker(2, true)],
        Style { color: false },
        false,
    );
    expect_test::expect![[r#"
        ↺ conversation state saved (3 pieces)
    "#]]
    .assert_eq(&shown);
}
