//! A row the store cannot parse fails the one request that read it, never the server.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestDb, lines, spawn_app};
use crate::on_both_backends;

on_both_backends!(a_corrupt_row_answers_500_and_the_server_keeps_serving);

const TS: &str = "2026-11-25T12:00:00.000Z";

async fn a_corrupt_row_answers_500_and_the_server_keeps_serving(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, _) = app.ingest("rt-1", &lines("s-good", 0, 2)).await;
    assert_eq!(status, StatusCode::OK);
    let internal = json!({"error": {"code": "internal", "message": "internal error"}});

    // A session id no client could have sent: the list holds it.
    db.execute(&format!(
        "INSERT INTO sessions (session_id, status, created_at) VALUES ('bad.id', 'running', '{TS}')"
    ))
    .await;
    let (status, body) = app.get("/api/v1/sessions").await;
    assert_eq!((status, &body), (StatusCode::INTERNAL_SERVER_ERROR, &internal));
    db.execute("DELETE FROM sessions WHERE session_id = 'bad.id'")
        .await;

    // A status that is not one.
    db.execute(&format!(
        "INSERT INTO sessions (session_id, status, created_at) VALUES ('s-odd', 'sleeping', '{TS}')"
    ))
    .await;
    let (status, body) = app.get("/api/v1/sessions/s-odd").await;
    assert_eq!((status, &body), (StatusCode::INTERNAL_SERVER_ERROR, &internal));

    // Event data that is not JSON.
    db.execute(&format!(
        "INSERT INTO events (session_id, seq, ts, source, type, data) \
         VALUES ('s-good', 2, '{TS}', 'agent', 'text', 'not json')"
    ))
    .await;
    let (status, body) = app.get("/api/v1/sessions/s-good/events").await;
    assert_eq!((status, &body), (StatusCode::INTERNAL_SERVER_ERROR, &internal));

    // The server still serves everything else.
    let (status, _) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/api/v1/sessions/s-good").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.get("/api/v1/sessions?status=succeeded").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.ingest("rt-1", &lines("s-next", 0, 1)).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
