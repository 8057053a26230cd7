//! Ingest: exactly-once storage, `acked`, projection (refusals: `rejections.rs`). Every test runs on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Recorded, TestDb, ev, lines, recorded, spawn_app};

crate::on_both_backends!(
    the_same_batch_three_times_is_stored_once,
    overlapping_batches_store_each_event_once,
    batches_out_of_order_ack_only_the_gapless_prefix,
    concurrent_senders_store_every_event_exactly_once,
    the_same_batch_sent_concurrently_is_stored_once,
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

async fn the_same_batch_sent_concurrently_is_stored_once(db: TestDb) {
    // The session exists and is owned, so on PostgreSQL every copy takes the early-insert path and all but
    // one meet a unique violation (or a deadlock) and are stored again, locks first.
    let app = std::sync::Arc::new(spawn_app(&db).await);
    let (status, _) = app.ingest("rt-1", &lines("s-1", 0, 1)).await;
    assert_eq!(status, StatusCode::OK);
    let batch = std::sync::Arc::new(lines("s-1", 1, 500));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, batch) = (app.clone(), batch.clone());
        tasks.push(tokio::spawn(async move { app.ingest("rt-1", &batch).await }));
    }
    for task in tasks {
        let (status, body) = task.await.expect("sender");
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["acked"]["s-1"], 500, "{body}");
    }
    assert_eq!(seqs(&app.all_events("s-1").await), (0..501).collect::<Vec<_>>());
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["lastSeq"], 500);
    std::sync::Arc::try_unwrap(app)
        .expect("senders are done")
        .stop()
        .await;
}

/// Checks the session row against what the recorded events say, read from them the way DESIGN §2 defines it,
/// and checks that every event was stored as recorded.
#[track_caller]
fn check_projection(s: &Value, stored: &[Value], recording: &Recorded) {
    let events = &recording.events;
    let started = recording.only("session.started", None);
    let finished = recording.only("session.finished", None);
    let init = recording.only("system", Some("init"));
    let context = format!("session {s:#}");
    assert_eq!(stored, events.as_slice(), "stored events, {context}");
    assert_eq!(s["sessionId"], recording.session_id(), "{context}");
    assert_eq!(s["agentId"], started["data"]["agentId"], "{context}");
    assert_eq!(s["pid"], started["data"]["pid"], "{context}");
    assert_eq!(s["runtimeId"], started["data"]["runtimeId"], "{context}");
    assert_eq!(s["status"], finished["data"]["status"], "{context}");
    assert_eq!(s["exitCode"], finished["data"]["exitCode"], "{context}");
    assert_eq!(s["signal"], finished["data"]["signal"], "{context}");
    assert_eq!(s["error"], finished["data"]["error"], "{context}");
    assert_eq!(s["createdAt"], events[0]["ts"], "{context}");
    assert_eq!(s["startedAt"], started["ts"], "{context}");
    assert_eq!(s["finishedAt"], finished["ts"], "{context}");
    let last_seq = events.iter().filter_map(|e| e["seq"].as_u64()).max();
    assert_eq!(s["lastSeq"].as_u64(), last_seq, "{context}");
    assert_eq!(s["model"], init["data"]["model"], "{context}");
    // Turns, cost and result text come from the latest `result` message; without one, the supervisor's totals.
    match recording.last("result") {
        Some(result) => {
            let result = &result["data"];
            assert_eq!(s["numTurns"], result["num_turns"], "{context}");
            // Exactly: the SDK writes 17-digit costs such as 0.044615999999999996, which serde_json reads
            // one ulp off unless its `float_roundtrip` feature is on (the workspace turns it on).
            // The recorded number is read from the fixture's text with the standard library's parser, which
            // rounds correctly, independently of serde_json.
            let cost = s["totalCostUsd"].as_f64().expect("totalCostUsd");
            let recorded_cost: f64 = recording
                .lines
                .iter()
                .rev()
                .find(|line| line.contains("\"type\":\"result\""))
                .and_then(|line| line.split("\"total_cost_usd\":").nth(1))
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
                        .collect::<String>()
                })
                .and_then(|number| number.parse().ok())
                .expect("the result line holds total_cost_usd");
            assert_eq!(cost, recorded_cost, "totalCostUsd, {context}");
            assert_eq!(
                s["resultText"],
                *result.get("result").unwrap_or(&Value::Null),
                "{context}"
            );
        }
        None => {
            assert_eq!(s["numTurns"], finished["data"]["numTurns"], "{context}");
            assert_eq!(s["totalCostUsd"], finished["data"]["totalCostUsd"], "{context}");
            assert_eq!(s["resultText"], Value::Null, "{context}");
        }
    }
}

/// The text blocks of an `assistant` event, joined.
fn assistant_text(event: &Value) -> String {
    event["data"]["message"]["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter(|block| block["type"] == "text")
        .filter_map(|block| block["text"].as_str())
        .collect()
}

async fn projection_of_a_successful_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let recording = recorded("success");
    let sid = recording.session_id();
    let runtime = recording.only("session.started", None)["data"]["runtimeId"]
        .as_str()
        .expect("runtimeId");
    let (first, second) = recording.lines.split_at(recording.lines.len() / 2);
    for batch in [first, second] {
        let (status, body) = app.ingest_raw(runtime, batch).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    check_projection(&s, &app.all_events(sid).await, &recording);
    // What the recording script asked for, and what the `bash` scenario of fake-anthropic answers: a Bash tool
    // call, then a text quoting the tool's output.
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["agentId"], "fixture-agent");
    assert_eq!(s["model"], "claude-sonnet-4-5");
    assert_eq!(s["exitCode"], 0);
    assert_eq!(s["signal"], Value::Null);
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["numTurns"], 2);
    assert!(s["totalCostUsd"].as_f64().is_some_and(|c| c > 0.0), "{s}");
    let text = s["resultText"].as_str().expect("resultText");
    assert!(
        text.starts_with("The command printed:\nhello from bash\nLinux"),
        "{text}"
    );
    let last_said = recording.last("assistant").expect("an assistant message");
    assert_eq!(
        text,
        assistant_text(last_said),
        "the result is the agent's last words"
    );
    app.stop().await;
}

async fn projection_of_a_failed_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let recording = recorded("failed");
    let sid = recording.session_id();
    let runtime = recording.only("session.started", None)["data"]["runtimeId"]
        .as_str()
        .expect("runtimeId");
    // Shipped in two batches, the second (with session.finished) before the first (with session.started).
    let (first, second) = recording.lines.split_at(3);
    let (status, body) = app.ingest_raw(runtime, second).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["status"], "failed", "{s}");
    let (status, body) = app.ingest_raw(runtime, first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(
        s["status"], "failed",
        "an earlier session.started must not reopen a finished session"
    );
    check_projection(&s, &app.all_events(sid).await, &recording);
    // maxTurns 1: the SDK's result says error_max_turns; the agent has no final text, the runner exits 1.
    let result = &recording.last("result").expect("a result message")["data"];
    assert_eq!(result["subtype"], "error_max_turns");
    assert_eq!(s["model"], "claude-sonnet-4-5");
    assert_eq!(s["exitCode"], 1);
    assert_eq!(s["resultText"], Value::Null);
    let error = s["error"].as_str().expect("error");
    assert!(error.contains("error_max_turns"), "{error}");
    assert!(s["numTurns"].as_u64().is_some_and(|n| n >= 1), "{s}");
    assert!(s["totalCostUsd"].as_f64().is_some_and(|c| c > 0.0), "{s}");
    app.stop().await;
}

async fn projection_of_a_cancelled_transcript(db: TestDb) {
    let app = spawn_app(&db).await;
    let recording = recorded("cancelled");
    let sid = recording.session_id();
    let runtime = recording.only("session.started", None)["data"]["runtimeId"]
        .as_str()
        .expect("runtimeId");
    // Everything before the cancel: the agent is inside its long tool call.
    let (running, end) = recording
        .lines
        .split_at(recording.position("session.cancel_requested"));
    let (status, body) = app.ingest_raw(runtime, running).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["finishedAt"], Value::Null);
    assert_eq!(s["lastSeq"], running.len() as u64 - 1);
    assert_eq!(s["model"], "claude-sonnet-4-5");
    let (status, body) = app.ingest_raw(runtime, end).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = app.get(&format!("/api/v1/sessions/{sid}")).await;
    check_projection(&s, &app.all_events(sid).await, &recording);
    assert_eq!(s["status"], "cancelled");
    // The runner handles SIGTERM and exits 128 + 15 (agent-runner/README.md); it was not killed by the signal.
    assert_eq!(s["exitCode"], 143);
    assert_eq!(s["signal"], Value::Null);
    // Stopped mid-tool: no result message, so no turns, cost or result text.
    assert!(recording.last("result").is_none());
    assert_eq!(s["numTurns"], Value::Null);
    assert_eq!(s["totalCostUsd"], Value::Null);
    assert_eq!(s["resultText"], Value::Null);
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
