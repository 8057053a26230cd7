//! Ingest refuses per session (issue 10, finding 1): a session another runtime owns, or one with an
//! invalid event, is named in the answer's `rejected` and not stored, while the rest of the batch is; only a
//! batch malformed as a whole is a 4xx. Every test runs on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestDb, lines, spawn_app};

crate::on_both_backends!(
    a_session_another_runtime_owns_is_refused_alone,
    a_session_with_an_invalid_event_is_refused_alone,
    a_batch_malformed_as_a_whole_is_a_400,
);

fn seqs(events: &[serde_json::Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

async fn a_session_another_runtime_owns_is_refused_alone(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, _) = app.ingest("rt-1", &lines("s-1", 0, 2)).await;
    assert_eq!(status, StatusCode::OK);
    // rt-2 sends its own new session and one that rt-1 owns, in one batch, twice (as a retrying sender would).
    let mut batch = lines("s-2", 0, 2);
    batch.extend(lines("s-1", 2, 2));
    for _ in 0..2 {
        let (status, body) = app.ingest("rt-2", &batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["acked"], json!({"s-2": 1}), "{body}");
        assert_eq!(body["rejected"]["s-1"]["code"], "runtime_conflict", "{body}");
        let message = body["rejected"]["s-1"]["message"].as_str().expect("message");
        assert!(
            message.contains("s-1") && message.contains("rt-1") && message.contains("rt-2"),
            "{message}"
        );
        assert_eq!(body["rejected"].as_object().expect("rejected").len(), 1, "{body}");
    }
    assert_eq!(
        seqs(&app.all_events("s-1").await),
        vec![0, 1],
        "rt-1's session is untouched"
    );
    assert_eq!(seqs(&app.all_events("s-2").await), vec![0, 1]);
    let (_, s1) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(s1["runtimeId"], "rt-1");
    let (_, s2) = app.get("/api/v1/sessions/s-2").await;
    assert_eq!(s2["runtimeId"], "rt-2");
    // The owner's next batch goes on as before, without `rejected`.
    let (status, body) = app.ingest("rt-1", &lines("s-1", 2, 2)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"acked": {"s-1": 3}, "commands": []}));
    app.stop().await;
}

async fn a_session_with_an_invalid_event_is_refused_alone(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut batch = lines("s-1", 0, 3);
    batch.extend(lines("s-2", 0, 3));
    batch.extend(lines("s-3", 0, 3));
    batch[1]["type"] = json!("");
    batch[7]["ts"] = json!("yesterday");
    let (status, body) = app.ingest("rt-1", &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acked"], json!({"s-2": 2}), "{body}");
    assert_eq!(
        body["rejected"],
        json!({
            "s-1": {"code": "invalid_event", "message": "events[1].type: must not be empty"},
            "s-3": {"code": "invalid_event", "message": "events[7].ts: \"yesterday\" is not an RFC 3339 time in UTC (2026-11-25T12:00:00.123Z)"},
        })
    );
    for refused in ["s-1", "s-3"] {
        let (status, _) = app.get(&format!("/api/v1/sessions/{refused}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "nothing of {refused} is stored");
    }
    assert_eq!(seqs(&app.all_events("s-2").await), vec![0, 1, 2]);
    app.stop().await;
}

async fn a_batch_malformed_as_a_whole_is_a_400(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut batch = lines("s-1", 0, 2);
    batch[1]["sessionId"] = json!("not a session id!");
    let (status, body) = app.ingest("rt-1", &batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.ingest("", &lines("s-1", 0, 2)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
