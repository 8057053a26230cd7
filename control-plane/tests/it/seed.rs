//! The seed-compatible routes cannot take what a runtime writes (issue 10, findings 4 and 10): their log
//! routes never take a seq of a session a runtime owns, a seed log posted first makes a runtime's events for
//! that session refused in the ingest answer (never silently dropped as duplicates), and their status route
//! neither writes a runtime's session nor rewrites a final status. Every test runs on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Ending, TestApp, TestDb, lines, spawn_app, transcript};

crate::on_both_backends!(
    the_seed_log_routes_refuse_a_session_a_runtime_owns,
    a_runtime_session_a_seed_log_wrote_first_is_refused_in_the_answer_not_dropped,
    the_seed_status_route_refuses_a_session_a_runtime_owns,
    a_final_seed_status_is_final,
);

fn seed_log(sid: &str, value: Value) -> Value {
    json!({"agentId": "seed-agent", "sessionId": sid, "key": "progress", "value": value})
}

async fn seqs(app: &TestApp, sid: &str) -> Vec<(u64, String)> {
    app.all_events(sid)
        .await
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().expect("seq"),
                e["type"].as_str().expect("type").to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn assert_refused(answer: &(StatusCode, Value), code: &str, words: &[&str]) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    for word in words {
        assert!(message.contains(word), "{message:?} does not name {word}");
    }
}

async fn the_seed_log_routes_refuse_a_session_a_runtime_owns(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, _) = app
        .ingest("rt-1", &transcript("s-1", "rt-1", "success", Ending::Running))
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = seqs(&app, "s-1").await;
    for path in ["/api/internal/logs", "/api/internal/logs/append"] {
        let answer = app.post_internal(path, &seed_log("s-1", json!("hi"))).await;
        assert_refused(&answer, "runtime_owned", &["s-1", "rt-1"]);
    }
    assert_eq!(seqs(&app, "s-1").await, before, "no seq was taken");
    // The runtime's next event takes the next seq, as it would have anyway.
    let next = before.len() as u64;
    let (_, body) = app.ingest("rt-1", &lines("s-1", next, 1)).await;
    assert_eq!(body["acked"]["s-1"], next, "{body}");
    app.stop().await;
}

async fn a_runtime_session_a_seed_log_wrote_first_is_refused_in_the_answer_not_dropped(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, body) = app
        .post_internal("/api/internal/logs", &seed_log("s-1", json!("cloned")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A runtime now runs a session with the same id: its `session.started` has seq 0, which the seed took.
    let events = transcript("s-1", "rt-1", "success", Ending::Succeeded);
    let mut batch = events.clone();
    batch.extend(lines("s-2", 0, 2));
    let (status, body) = app.ingest("rt-1", &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acked"], json!({"s-2": 1}), "{body}");
    assert_eq!(body["rejected"]["s-1"]["code"], "seed_session", "{body}");
    let message = body["rejected"]["s-1"]["message"].as_str().expect("message");
    assert!(message.contains("s-1"), "{message}");
    // The seed's log is as it was, and nothing of the runtime's session is mixed into it.
    assert_eq!(seqs(&app, "s-1").await, vec![(0, "log".to_owned())]);
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["runtimeId"], Value::Null, "{session}");
    // The seed goes on writing its session.
    let (status, body) = app
        .post_internal("/api/internal/logs/append", &seed_log("s-1", json!("built")))
        .await;
    assert_eq!(
        (status, body["seq"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    app.stop().await;
}

async fn the_seed_status_route_refuses_a_session_a_runtime_owns(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &transcript("s-1", "rt-1", "success", Ending::Succeeded))
        .await;
    app.ingest("rt-1", &transcript("s-2", "rt-1", "success", Ending::Running))
        .await;
    for (sid, status) in [("s-1", "running"), ("s-2", "succeeded"), ("s-2", "failed")] {
        let answer = app
            .post_internal(
                "/api/internal/sessions/status",
                &json!({"sessionId": sid, "status": status}),
            )
            .await;
        assert_refused(&answer, "runtime_owned", &[sid, "rt-1"]);
    }
    let (_, s1) = app.get("/api/v1/sessions/s-1").await;
    let (_, s2) = app.get("/api/v1/sessions/s-2").await;
    assert_eq!(
        (s1["status"].clone(), s2["status"].clone()),
        (json!("succeeded"), json!("running"))
    );
    app.stop().await;
}

async fn a_final_seed_status_is_final(db: TestDb) {
    let app = spawn_app(&db).await;
    let set = |status: &'static str| {
        let app = &app;
        async move {
            app.post_internal(
                "/api/internal/sessions/status",
                &json!({"sessionId": "s-seed", "status": status}),
            )
            .await
        }
    };
    for status in ["pending", "running", "running", "succeeded", "succeeded"] {
        let (code, body) = set(status).await;
        assert_eq!(code, StatusCode::OK, "{status}: {body}");
    }
    let (_, before) = app.get("/api/v1/sessions/s-seed").await;
    for status in ["running", "pending", "failed", "cancelled", "lost"] {
        assert_refused(
            &set(status).await,
            "invalid_transition",
            &["s-seed", "succeeded", status],
        );
    }
    let (_, after) = app.get("/api/v1/sessions/s-seed").await;
    assert_eq!(after, before, "the session row did not change");
    assert_eq!(after["status"], "succeeded");
    // A running session cannot go back to pending either.
    app.post_internal(
        "/api/internal/sessions/status",
        &json!({"sessionId": "s-2", "status": "running"}),
    )
    .await;
    let answer = app
        .post_internal(
            "/api/internal/sessions/status",
            &json!({"sessionId": "s-2", "status": "pending"}),
        )
        .await;
    assert_refused(&answer, "invalid_transition", &["s-2", "running", "pending"]);
    app.stop().await;
}
