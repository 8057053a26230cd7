//! Ingest: exactly-once storage, `acked`, ownership, projection. Every test runs on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Ending, TestDb, ev, lines, spawn_app, transcript};

crate::on_both_backends!(
    the_same_batch_three_times_is_stored_once,
    overlapping_batches_store_each_event_once,
    batches_out_of_order_ack_only_the_gapless_prefix,
    concurrent_senders_store_every_event_exactly_once,
    a_batch_is_all_or_nothing,
    events_from_another_runtime_are_refused_with_409,
    projection_of_a_successful_transcript,
    projection_of_a_failed_transcript,
    projection_of_a_cancelled_transcript,
    the_latest_result_wins_even_when_it_arrives_first,
    gzip_bodies_are_accepted,
    data_is_stored_byte_for_byte,
);

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

async fn the_same_batch_three_times_is_stored_once(db: TestDb) {
    let app = spawn_app(&db).await;
    let batch = lines("s-1", 0, 10);
    for _ in 0..3 {
        let (status, body) = app.ingest("rt-1", &batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"acked": {"s-1": 9}, "commands": []}));
    }
    let stored = app.all_events("s-1").await;
    assert_eq!(seqs(&stored), (0..10).collect::<Vec<_>>());
    app.stop().await;
}

async fn overlapping_batches_store_each_event_once(db: TestDb) {
    let app = spawn_app(&db).await;
    let (_, body) = app.ingest("rt-1", &lines("s-1", 0, 6)).await;
    assert_eq!(body["acked"]["s-1"], 5);
    let (_, body) = app.ingest("rt-1", &lines("s-1", 3, 6)).await;
    assert_eq!(body["acked"]["s-1"], 8);
    let (_, body) = app.ingest("rt-1", &lines("s-1", 0, 12)).await;
    assert_eq!(body["acked"]["s-1"], 11);
    assert_eq!(seqs(&app.all_events("s-1").await), (0..12).collect::<Vec<_>>());
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["lastSeq"], 11);
    app.stop().await;
}

async fn batches_out_of_order_ack_only_the_gapless_prefix(db: TestDb) {
    let app = spawn_app(&db).await;
    // 5..10 first: nothing below is stored, so nothing is acked for the session.
    let (status, body) = app.ingest("rt-1", &lines("s-1", 5, 5)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["acked"], json!({}));
    let (_, body) = app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    assert_eq!(body["acked"]["s-1"], 2);
    // 3 fills part of the gap; 4 is still missing.
    let (_, body) = app.ingest("rt-1", &lines("s-1", 3, 1)).await;
    assert_eq!(body["acked"]["s-1"], 3);
    let (_, body) = app.ingest("rt-1", &lines("s-1", 4, 1)).await;
    assert_eq!(body["acked"]["s-1"], 9);
    assert_eq!(seqs(&app.all_events("s-1").await), (0..10).collect::<Vec<_>>());
    app.stop().await;
}

async fn concurrent_senders_store_every_event_exactly_once(db: TestDb) {
    let app = std::sync::Arc::new(spawn_app(&db).await);
    // 8 senders, 4 sessions: each session is sent by two senders at once, in overlapping, shuffled batches.
    let mut tasks = Vec::new();
    for sender in 0..8u64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let sid = format!("s-{}", sender % 4);
            let mut starts: Vec<u64> = (0..20).map(|i| i * 10).collect();
            if sender >= 4 {
                starts.reverse();
            }
            let mut last = None;
            for start in starts {
                let (status, body) = app.ingest("rt-1", &lines(&sid, start, 15)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                last = body["acked"].get(&sid).and_then(Value::as_u64).or(last);
            }
            last
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
    for s in 0..4 {
        let sid = format!("s-{s}");
        assert_eq!(
            seqs(&app.all_events(&sid).await),
            (0..205).collect::<Vec<_>>(),
            "{sid}"
        );
        let (_, body) = app.ingest("rt-1", &lines(&sid, 0, 1)).await;
        assert_eq!(body["acked"][&sid], 204, "{sid}");
    }
    std::sync::Arc::try_unwrap(app)
        .expect("senders are done")
        .stop()
        .await;
}

async fn a_batch_is_all_or_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut batch = lines("s-1", 0, 5);
    batch[3]["ts"] = json!("yesterday");
    let (status, body) = app.ingest("rt-1", &batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.starts_with("events[3].ts:"), "{message}");
    let (status, _) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing of a refused batch is stored"
    );
    app.stop().await;
}

async fn events_from_another_runtime_are_refused_with_409(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, _) = app.ingest("rt-1", &lines("s-1", 0, 2)).await;
    assert_eq!(status, StatusCode::OK);
    // A batch mixing a new session and one owned by rt-1: refused whole.
    let mut batch = lines("s-2", 0, 2);
    batch.extend(lines("s-1", 2, 2));
    let (status, body) = app.ingest("rt-2", &batch).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "runtime_conflict");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("s-1") && message.contains("rt-1") && message.contains("rt-2"),
        "{message}"
    );
    assert_eq!(seqs(&app.all_events("s-1").await), vec![0, 1]);
    let (status, _) = app.get("/api/v1/sessions/s-2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn projection_of_a_successful_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let events = transcript("s-ok", "rt-1", "success", Ending::Succeeded);
    let (status, body) = app.ingest("rt-1", &events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = app.get("/api/v1/sessions/s-ok").await;
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["agentId"], "reviewer");
    assert_eq!(s["runtimeId"], "rt-1");
    assert_eq!(s["pid"], 4242);
    assert_eq!(s["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(s["numTurns"], 6);
    assert_eq!(s["totalCostUsd"], 0.0831);
    assert_eq!(s["exitCode"], 0);
    assert_eq!(s["signal"], Value::Null);
    assert_eq!(s["lastSeq"], events.len() as u64 - 1);
    assert_eq!(
        s["resultText"],
        "Fixed: tokenize(\"\") returned None; it now returns an empty Vec.\nAll 14 tests pass."
    );
    assert_eq!(s["createdAt"], events[0]["ts"]);
    assert_eq!(s["startedAt"], events[0]["ts"]);
    assert_eq!(s["finishedAt"], events.last().expect("events")["ts"]);
    app.stop().await;
}

async fn projection_of_a_failed_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let events = transcript("s-fail", "rt-1", "failed", Ending::Failed);
    // Shipped in two batches, the second before the first.
    let (first, second) = events.split_at(3);
    app.ingest("rt-1", second).await;
    let (_, s) = app.get("/api/v1/sessions/s-fail").await;
    assert_eq!(s["status"], "failed");
    app.ingest("rt-1", first).await;
    let (_, s) = app.get("/api/v1/sessions/s-fail").await;
    assert_eq!(
        s["status"], "failed",
        "an earlier session.started must not reopen a finished session"
    );
    assert_eq!(s["model"], "claude-haiku-4-5");
    assert_eq!(s["numTurns"], 2);
    assert_eq!(s["totalCostUsd"], 0.0123);
    assert_eq!(s["exitCode"], 1);
    assert_eq!(s["error"], "Reached maximum number of turns (2)");
    assert_eq!(s["resultText"], Value::Null);
    app.stop().await;
}

async fn projection_of_a_cancelled_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let events = transcript("s-cancel", "rt-1", "cancelled", Ending::Cancelled);
    let (running, end) = events.split_at(3);
    app.ingest("rt-1", running).await;
    let (_, s) = app.get("/api/v1/sessions/s-cancel").await;
    assert_eq!(s["status"], "running");
    assert_eq!(s["finishedAt"], Value::Null);
    app.ingest("rt-1", end).await;
    let (_, s) = app.get("/api/v1/sessions/s-cancel").await;
    assert_eq!(s["status"], "cancelled");
    assert_eq!(s["signal"], "SIGTERM");
    assert_eq!(s["exitCode"], Value::Null);
    assert_eq!(s["numTurns"], Value::Null);
    app.stop().await;
}

async fn the_latest_result_wins_even_when_it_arrives_first(db: TestDb) {
    let app = spawn_app(&db).await;
    let result = |turns: u64, cost: f64, text: &str| {
        json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": turns,
               "total_cost_usd": cost, "result": text})
    };
    app.ingest("rt-1", &[ev("s-1", 5, "result", result(4, 0.5, "second"))])
        .await;
    app.ingest("rt-1", &[ev("s-1", 2, "result", result(2, 0.2, "first"))])
        .await;
    let (_, s) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(
        (
            s["numTurns"].clone(),
            s["totalCostUsd"].clone(),
            s["resultText"].clone()
        ),
        (json!(4), json!(0.5), json!("second"))
    );
    app.stop().await;
}

async fn gzip_bodies_are_accepted(db: TestDb) {
    use std::io::Write;
    let app = spawn_app(&db).await;
    let body = json!({"runtimeId": "rt-1", "events": lines("s-1", 0, 3)}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.as_bytes()).expect("gzip");
    let response = app
        .http
        .post(app.url("/api/internal/v1/events"))
        .bearer_auth(crate::helpers::KEY)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["acked"]["s-1"], 2);
    app.stop().await;
}

async fn data_is_stored_byte_for_byte(db: TestDb) {
    let app = spawn_app(&db).await;
    // Key order, spacing (tabs and line breaks too: PostgreSQL gets them through COPY's escapes), NUL and
    // backslash escapes and non-ASCII text survive as sent.
    let raw = "{\"type\":\"assistant\",\t\"z\":1,\r\n \"a\":\"\\u0000 nul \\\\ \\t\",\"é\":\"ünï\"}";
    let body = format!(
        r#"{{"runtimeId":"rt-1","events":[{{"sessionId":"s-1","seq":0,"ts":"2026-11-25T12:00:00.000Z","source":"agent","type":"assistant","data":{raw}}}]}}"#
    );
    let response = app
        .http
        .post(app.url("/api/internal/v1/events"))
        .bearer_auth(crate::helpers::KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let text = app
        .http
        .get(app.url("/api/v1/sessions/s-1/events"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains(raw), "{text}");
    app.stop().await;
}
