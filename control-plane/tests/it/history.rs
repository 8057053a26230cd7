//! Ingest does not let a runtime rewrite history (issue 10, finding 10): an event after `session.finished`
//! leaves the final status as it is, times far from the server's clock are clamped (the agent's own kept in
//! `data.clientTime`), and seqs are bounded so JSON numbers stay exact. Every test runs on SQLite and
//! PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Ending, TestDb, ev, lines, spawn_app, sup, transcript};

crate::on_both_backends!(
    an_event_after_session_finished_does_not_change_the_final_status,
    only_the_supervisor_finishes_a_session,
    times_far_from_the_servers_clock_are_clamped_and_the_agents_own_kept_in_data,
    seqs_above_2_pow_53_refuse_their_session_alone,
    events_of_refused_sessions_are_counted_as_rejected_not_as_duplicates,
);

const FAILED: &str = "failed";

async fn an_event_after_session_finished_does_not_change_the_final_status(db: TestDb) {
    let app = spawn_app(&db).await;
    let events = transcript("s-1", "rt-1", "success", Ending::Succeeded);
    let next = events.len() as u64;
    app.ingest("rt-1", &events).await;
    let (_, before) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(before["status"], "succeeded");
    let (status, body) = app
        .ingest(
            "rt-1",
            &[
                sup(
                    "s-1",
                    next,
                    "session.finished",
                    json!({"status": FAILED, "exitCode": 1, "error": "rewritten"}),
                ),
                sup(
                    "s-1",
                    next + 1,
                    "session.started",
                    json!({"agentId": "other", "pid": 1}),
                ),
                ev("s-1", next + 2, "text", json!({"text": "late"})),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, after) = app.get("/api/v1/sessions/s-1").await;
    for field in ["status", "finishedAt", "exitCode", "error", "agentId"] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    assert_eq!(after["lastSeq"], next + 2, "the events are stored all the same");
    app.stop().await;
}

async fn only_the_supervisor_finishes_a_session(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut events = transcript("s-1", "rt-1", "failed", Ending::Running);
    let next = events.len() as u64;
    // An agent that prints a `session.finished` line of its own claims a success it did not have.
    events.push(ev(
        "s-1",
        next,
        "session.finished",
        json!({"status": "succeeded", "exitCode": 0}),
    ));
    app.ingest("rt-1", &events).await;
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["status"], "running", "{session}");
    app.ingest(
        "rt-1",
        &[sup(
            "s-1",
            next + 1,
            "session.finished",
            json!({"status": FAILED, "exitCode": 1}),
        )],
    )
    .await;
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["status"], FAILED, "{session}");
    app.stop().await;
}

fn with_ts(mut event: Value, ts: &str) -> Value {
    event["ts"] = json!(ts);
    event
}

async fn times_far_from_the_servers_clock_are_clamped_and_the_agents_own_kept_in_data(db: TestDb) {
    let app = spawn_app(&db).await;
    let now = std::time::SystemTime::now();
    let recent = humantime::format_rfc3339_millis(now - std::time::Duration::from_secs(60)).to_string();
    let events = [
        with_ts(
            ev("s-1", 0, "text", json!({"text": "future"})),
            "2099-01-01T00:00:00.000Z",
        ),
        with_ts(
            ev("s-1", 1, "text", json!({"text": "ancient"})),
            "1970-01-01T00:00:00.000Z",
        ),
        with_ts(ev("s-1", 2, "text", json!({"text": "recent"})), &recent),
        with_ts(
            ev("s-1", 3, "text", json!("not an object")),
            "2099-01-01T00:00:00.000Z",
        ),
    ];
    let (status, body) = app.ingest("rt-1", &events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = app.all_events("s-1").await;
    let close_to_now = |e: &Value| {
        let ts = humantime::parse_rfc3339(e["ts"].as_str().expect("ts")).expect("an RFC 3339 time");
        let off = ts.duration_since(now).unwrap_or_else(|e| e.duration());
        off < std::time::Duration::from_secs(60)
    };
    assert!(close_to_now(&stored[0]), "{}", stored[0]);
    assert_eq!(
        stored[0]["data"],
        json!({"text": "future", "clientTime": "2099-01-01T00:00:00.000Z"})
    );
    assert!(close_to_now(&stored[1]), "{}", stored[1]);
    assert_eq!(stored[1]["data"]["clientTime"], "1970-01-01T00:00:00.000Z");
    assert_eq!(
        stored[2]["ts"],
        recent.as_str(),
        "a time close to the clock is kept"
    );
    assert_eq!(stored[2]["data"], json!({"text": "recent"}));
    assert_eq!(
        stored[3]["data"],
        json!({"clientTime": "2099-01-01T00:00:00.000Z", "data": "not an object"})
    );
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert!(close_to_now(&json!({"ts": session["createdAt"]})), "{session}");
    // The seed's log routes clamp the same way.
    let (status, body) = app
        .post_internal(
            "/api/internal/logs",
            &json!({"agentId": "seed", "sessionId": "s-seed", "key": "k", "value": 1, "timestamp": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = app.all_events("s-seed").await;
    assert!(close_to_now(&stored[0]), "{}", stored[0]);
    assert_eq!(
        stored[0]["data"],
        json!({"key": "k", "value": 1, "clientTime": "2099-01-01T00:00:00Z"})
    );
    app.stop().await;
}

async fn seqs_above_2_pow_53_refuse_their_session_alone(db: TestDb) {
    let app = spawn_app(&db).await;
    const MAX: u64 = 1 << 53;
    let mut batch = lines("s-1", 0, 2);
    batch.push(ev("s-big", MAX + 1, "text", json!({"text": "far"})));
    batch.push(ev("s-edge", MAX, "text", json!({"text": "edge"})));
    let (status, body) = app.ingest("rt-1", &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acked"], json!({"s-1": 1}), "{body}");
    assert_eq!(body["rejected"]["s-big"]["code"], "invalid_event", "{body}");
    let message = body["rejected"]["s-big"]["message"].as_str().expect("message");
    assert!(
        message.contains("seq") && message.contains(&MAX.to_string()),
        "{message}"
    );
    assert_eq!(body["rejected"].as_object().expect("rejected").len(), 1, "{body}");
    let (status, _) = app.get("/api/v1/sessions/s-big").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stored = app.all_events("s-edge").await;
    assert_eq!(stored[0]["seq"], MAX);
    app.stop().await;
}

async fn events_of_refused_sessions_are_counted_as_rejected_not_as_duplicates(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    // Another runtime's batch for s-1, and a session with an invalid event.
    let (_, body) = app.ingest("rt-2", &lines("s-1", 3, 2)).await;
    assert_eq!(body["rejected"]["s-1"]["code"], "runtime_conflict", "{body}");
    let mut bad = lines("s-2", 0, 2);
    bad[1]["type"] = json!("");
    let (_, body) = app.ingest("rt-1", &bad).await;
    assert_eq!(body["rejected"]["s-2"]["code"], "invalid_event", "{body}");
    // A plain resend is a duplicate.
    app.ingest("rt-1", &lines("s-1", 0, 1)).await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("agentctl_events_inserted_total 3\n"), "{text}");
    assert!(text.contains("agentctl_events_duplicate_total 1\n"), "{text}");
    assert!(text.contains("agentctl_events_rejected_total 4\n"), "{text}");
    app.stop().await;
}
