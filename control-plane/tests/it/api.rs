//! The public and internal HTTP APIs: listing, pages, cancel, heartbeat, lost, seed routes, and what every
//! route answers to bad input. Every test runs on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Ending, KEY, TOKEN, TestApp, TestDb, eventually, lines, spawn_app, spawn_app_with, sup, transcript,
};

crate::on_both_backends!(
    sessions_are_listed_newest_first_with_filters_and_a_cursor,
    event_pages_follow_after_and_limit,
    a_cancel_is_queued_and_delivered_to_the_owning_runtime,
    a_cancel_of_a_finished_session_answers_its_status,
    sessions_of_a_silent_runtime_become_lost,
    a_session_the_supervisor_finished_as_lost_stays_lost_when_earlier_events_arrive_late,
    seed_routes_store_logs_as_events_and_set_status,
    bad_input_on_every_route_is_refused_with_a_message_naming_it,
    credentials_are_checked_per_api,
    the_bearer_scheme_is_taken_in_any_case,
    bodies_over_8_mib_are_refused_with_413,
    health_needs_no_credentials_and_metrics_count,
);

async fn sessions_are_listed_newest_first_with_filters_and_a_cursor(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &transcript("s-a", "rt-1", "success", Ending::Succeeded))
        .await;
    app.ingest("rt-1", &transcript("s-b", "rt-1", "failed", Ending::Failed))
        .await;
    app.ingest("rt-1", &transcript("s-c", "rt-1", "cancelled", Ending::Running))
        .await;
    app.ingest("rt-1", &lines("s-d", 0, 1)).await;

    let ids = |body: &Value| -> Vec<String> {
        body["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .map(|s| s["sessionId"].as_str().expect("id").to_owned())
            .collect()
    };
    let (status, page) = app.get("/api/v1/sessions?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&page), ["s-d", "s-c", "s-b"]);
    let cursor = page["nextCursor"].as_str().expect("a next page").to_owned();
    let (_, page) = app
        .get(&format!("/api/v1/sessions?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(ids(&page), ["s-a"]);
    assert_eq!(page["nextCursor"], Value::Null);

    let (_, page) = app.get("/api/v1/sessions?status=running").await;
    assert_eq!(ids(&page), ["s-c"]);
    let (_, page) = app.get("/api/v1/sessions?agentId=reviewer&status=failed").await;
    assert_eq!(ids(&page), ["s-b"]);
    let (_, page) = app.get("/api/v1/sessions?agentId=nobody").await;
    assert_eq!(ids(&page), Vec::<String>::new());
    // A session seen before its session.started has no agent yet.
    let (_, page) = app.get("/api/v1/sessions?status=pending").await;
    assert_eq!(page["sessions"][0]["agentId"], "unknown");
    app.stop().await;
}

async fn event_pages_follow_after_and_limit(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 25)).await;
    let (_, page) = app.get("/api/v1/sessions/s-1/events?limit=10").await;
    assert_eq!(page["events"].as_array().expect("events").len(), 10);
    assert_eq!(page["nextAfter"], 9);
    let (_, page) = app.get("/api/v1/sessions/s-1/events?after=19&limit=10").await;
    let seqs: Vec<u64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [20, 21, 22, 23, 24]);
    assert_eq!(page["nextAfter"], 24);
    let (_, page) = app.get("/api/v1/sessions/s-1/events?after=24").await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["nextAfter"], 24, "an empty page keeps the cursor");
    assert_eq!(page.get("events").and_then(|e| e.get(0)), None);
    app.stop().await;
}

async fn a_cancel_is_queued_and_delivered_to_the_owning_runtime(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &transcript("s-1", "rt-1", "cancelled", Ending::Running))
        .await;
    app.ingest("rt-2", &lines("s-other", 0, 1)).await;
    let (status, body) = app.post("/api/v1/sessions/s-1/cancel").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"sessionId": "s-1", "status": "cancelling"}));
    // Another runtime does not get it.
    let (_, body) = app.ingest("rt-2", &lines("s-other", 1, 1)).await;
    assert_eq!(body["commands"], json!([]));
    // The owner gets it in the answer of its next batch...
    let (_, body) = app.ingest("rt-1", &lines("s-1", 3, 1)).await;
    assert_eq!(body["commands"], json!([{"type": "cancel", "sessionId": "s-1"}]));
    // ...and not again right away.
    let (_, body) = app
        .post_internal(
            "/api/internal/v1/heartbeat",
            &json!({"runtimeId": "rt-1", "version": "0.1.0", "sessions": ["s-1"]}),
        )
        .await;
    assert_eq!(body, json!({"commands": []}));
    // A second cancel queues it again; this time the heartbeat delivers it.
    let (status, _) = app.post("/api/v1/sessions/s-1/cancel").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = app
        .post_internal(
            "/api/internal/v1/heartbeat",
            &json!({"runtimeId": "rt-1", "version": "0.1.0", "sessions": ["s-1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"commands": [{"type": "cancel", "sessionId": "s-1"}]})
    );
    app.stop().await;
}

async fn a_cancel_of_a_finished_session_answers_its_status(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &transcript("s-1", "rt-1", "success", Ending::Succeeded))
        .await;
    let (status, body) = app.post("/api/v1/sessions/s-1/cancel").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"sessionId": "s-1", "status": "succeeded"}));
    let (_, body) = app.ingest("rt-1", &lines("s-2", 0, 1)).await;
    assert_eq!(body["commands"], json!([]));
    app.stop().await;
}

async fn sessions_of_a_silent_runtime_become_lost(db: TestDb) {
    let app = spawn_app_with(&db, Duration::from_millis(400)).await;
    app.ingest(
        "rt-quiet",
        &transcript("s-1", "rt-quiet", "cancelled", Ending::Running),
    )
    .await;
    app.ingest(
        "rt-alive",
        &transcript("s-2", "rt-alive", "cancelled", Ending::Running),
    )
    .await;
    app.ingest(
        "rt-alive",
        &transcript("s-3", "rt-alive", "success", Ending::Succeeded),
    )
    .await;
    let heartbeat = json!({"runtimeId": "rt-alive", "version": "0.1.0", "sessions": ["s-2"]});
    eventually(Duration::from_secs(10), || async {
        app.post_internal("/api/internal/v1/heartbeat", &heartbeat).await;
        (status_of(&app, "s-1").await == "lost").then_some(())
    })
    .await;
    assert_eq!(
        status_of(&app, "s-2").await,
        "running",
        "a heartbeating runtime keeps its sessions"
    );
    assert_eq!(
        status_of(&app, "s-3").await,
        "succeeded",
        "a finished session stays finished"
    );
    // The runtime comes back and reports the session: it runs again.
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-quiet", "version": "0.1.0", "sessions": ["s-1"]}),
    )
    .await;
    assert_eq!(status_of(&app, "s-1").await, "running");
    // Marked lost again, it comes back with events instead: running again too.
    eventually(Duration::from_secs(10), || async {
        app.post_internal("/api/internal/v1/heartbeat", &heartbeat).await;
        (status_of(&app, "s-1").await == "lost").then_some(())
    })
    .await;
    let next = app.get("/api/v1/sessions/s-1").await.1["lastSeq"]
        .as_u64()
        .expect("lastSeq")
        + 1;
    app.ingest("rt-quiet", &lines("s-1", next, 1)).await;
    assert_eq!(status_of(&app, "s-1").await, "running");
    app.stop().await;
}

async fn a_session_the_supervisor_finished_as_lost_stays_lost_when_earlier_events_arrive_late(db: TestDb) {
    // After a crash the supervisor finishes a cut session as lost; with two batches in flight, the batch
    // holding that `session.finished` can be stored before the one before it.
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    let lost = sup(
        "s-1",
        6,
        "session.finished",
        json!({"status": "lost", "exitCode": null, "signal": null, "durationMs": null, "numTurns": null,
               "totalCostUsd": null, "error": "the supervisor stopped while the session ran", "stderrTail": null}),
    );
    app.ingest("rt-1", &[lost]).await;
    assert_eq!(status_of(&app, "s-1").await, "lost");
    app.ingest("rt-1", &lines("s-1", 3, 3)).await;
    assert_eq!(status_of(&app, "s-1").await, "lost");
    // Nor does a heartbeat that (wrongly) reports it revive it.
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-1", "version": "0.1.0", "sessions": ["s-1"]}),
    )
    .await;
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["status"], "lost");
    assert_eq!(session["lastSeq"], 6);
    app.stop().await;
}

async fn seed_routes_store_logs_as_events_and_set_status(db: TestDb) {
    let app = spawn_app(&db).await;
    for (i, path) in ["/api/internal/logs", "/api/internal/logs/append"]
        .into_iter()
        .enumerate()
    {
        let (status, body) = app
            .post_internal(path, &json!({"agentId": "legacy-agent", "sessionId": "s-seed", "key": "progress", "value": {"step": i}, "timestamp": "2026-11-25T12:00:00.000Z"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let events = app.all_events("s-seed").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["seq"], 1);
    assert_eq!(events[1]["source"], "agent");
    assert_eq!(events[1]["type"], "log");
    assert_eq!(
        events[1]["data"],
        json!({"key": "progress", "value": {"step": 1}})
    );
    let (status, _) = app
        .post_internal(
            "/api/internal/sessions/status",
            &json!({"sessionId": "s-seed", "status": "succeeded", "agentId": "legacy-agent", "result": "ok"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, s) = app.get("/api/v1/sessions/s-seed").await;
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["agentId"], "legacy-agent");
    assert!(s["finishedAt"].is_string());
    let response = app
        .http
        .get(app.url("/api/internal/health"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await;
}

/// Sends `body` (raw text) to `path` with the right credential for the route.
async fn raw(app: &TestApp, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
    let credential = if path.starts_with("/api/internal") {
        KEY
    } else {
        TOKEN
    };
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(credential)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An invalid event refuses its session alone (issue 10): 200, the session in `rejected`, naming the field.
#[track_caller]
fn check_rejected(got: (StatusCode, Value), message_contains: &str) {
    let (status, body) = got;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rejected"]["s-1"]["code"], "invalid_event", "{body}");
    let message = body["rejected"]["s-1"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(message_contains), "{body}");
}

#[track_caller]
fn check(got: (StatusCode, Value), status: StatusCode, message_contains: &str) {
    let (got_status, body) = got;
    assert_eq!(got_status, status, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"));
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(
        message.contains(message_contains),
        "{message:?} does not contain {message_contains:?}"
    );
}

async fn bad_input_on_every_route_is_refused_with_a_message_naming_it(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 1)).await;
    let bad = StatusCode::BAD_REQUEST;
    let event = |patch: Value| {
        let mut e = json!({"sessionId": "s-1", "seq": 1, "ts": "2026-11-25T12:00:00.000Z", "source": "agent", "type": "text", "data": {}});
        for (k, v) in patch.as_object().expect("object") {
            e[k] = v.clone();
        }
        json!({"runtimeId": "rt-1", "events": [event_ok(), e]}).to_string()
    };
    fn event_ok() -> Value {
        json!({"sessionId": "s-1", "seq": 0, "ts": "2026-11-25T12:00:00.000Z", "source": "agent", "type": "text", "data": {}})
    }
    let ev = "/api/internal/v1/events";
    check(
        raw(&app, Method::POST, ev, "{not json").await,
        bad,
        "invalid body",
    );
    check(raw(&app, Method::POST, ev, "[]").await, bad, "invalid body");
    check(
        raw(&app, Method::POST, ev, r#"{"events": []}"#).await,
        bad,
        "runtimeId",
    );
    check(
        raw(&app, Method::POST, ev, r#"{"runtimeId": 7, "events": []}"#).await,
        bad,
        "runtimeId",
    );
    check(
        raw(&app, Method::POST, ev, r#"{"runtimeId": "", "events": []}"#).await,
        bad,
        "runtimeId",
    );
    check(
        raw(&app, Method::POST, ev, &event(json!({"seq": "one"}))).await,
        bad,
        "events[1].seq",
    );
    check(
        raw(&app, Method::POST, ev, &event(json!({"seq": -1}))).await,
        bad,
        "events[1].seq",
    );
    check(
        raw(&app, Method::POST, ev, &event(json!({"sessionId": "../etc"}))).await,
        bad,
        "events[1].sessionId",
    );
    check(
        raw(&app, Method::POST, ev, &event(json!({"source": "kernel"}))).await,
        bad,
        "events[1].source",
    );
    check_rejected(
        raw(&app, Method::POST, ev, &event(json!({"ts": "noon"}))).await,
        "events[1].ts",
    );
    check_rejected(
        raw(&app, Method::POST, ev, &event(json!({"type": ""}))).await,
        "events[1].type",
    );
    // PostgreSQL text cannot hold NUL: refused up front, not as a database error the sender retries forever.
    check_rejected(
        raw(&app, Method::POST, ev, &event(json!({"type": "log\u{0}"}))).await,
        "events[1].type",
    );
    check(
        raw(&app, Method::POST, ev, &event(json!({"extra": 1}))).await,
        bad,
        "events[1]",
    );
    let hb = "/api/internal/v1/heartbeat";
    check(raw(&app, Method::POST, hb, "nope").await, bad, "invalid body");
    check(
        raw(&app, Method::POST, hb, r#"{"runtimeId": "rt-1", "version": "1"}"#).await,
        bad,
        "sessions",
    );
    check(
        raw(
            &app,
            Method::POST,
            hb,
            r#"{"runtimeId": "rt-1", "version": "1", "sessions": [5]}"#,
        )
        .await,
        bad,
        "sessions[0]",
    );
    check(
        raw(
            &app,
            Method::POST,
            "/api/internal/logs",
            r#"{"agentId": "a", "sessionId": "s-1", "key": "k"}"#,
        )
        .await,
        bad,
        "value",
    );
    check(
        raw(
            &app,
            Method::POST,
            "/api/internal/logs/append",
            r#"{"agentId": "a b", "sessionId": "s-1", "key": "k", "value": 1}"#,
        )
        .await,
        bad,
        "agentId",
    );
    check(
        raw(
            &app,
            Method::POST,
            "/api/internal/sessions/status",
            r#"{"sessionId": "s-1", "status": "exploded"}"#,
        )
        .await,
        bad,
        "status",
    );
    check(
        raw(
            &app,
            Method::POST,
            "/api/internal/sessions/status",
            r#"{"sessionId": "", "status": "failed"}"#,
        )
        .await,
        bad,
        "sessionId",
    );

    let not_found = StatusCode::NOT_FOUND;
    check(
        raw(&app, Method::GET, "/api/v1/sessions/s-nope", "").await,
        not_found,
        "s-nope",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions/s-nope/events", "").await,
        not_found,
        "s-nope",
    );
    check(
        raw(&app, Method::POST, "/api/v1/sessions/s-nope/cancel", "").await,
        not_found,
        "s-nope",
    );
    check(
        raw(&app, Method::GET, "/api/v1/nothing-here", "").await,
        not_found,
        "no such route",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions/bad.id", "").await,
        bad,
        "sessionId",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions/bad.id/events", "").await,
        bad,
        "sessionId",
    );
    check(
        raw(&app, Method::POST, "/api/v1/sessions/bad.id/cancel", "").await,
        bad,
        "sessionId",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions?status=sleeping", "").await,
        bad,
        "status",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions?limit=0", "").await,
        bad,
        "limit",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions?limit=many", "").await,
        bad,
        "limit",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions?cursor=abc", "").await,
        bad,
        "cursor",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions/s-1/events?after=-3", "").await,
        bad,
        "after",
    );
    check(
        raw(&app, Method::GET, "/api/v1/sessions/s-1/events?limit=100000", "").await,
        bad,
        "limit",
    );
    let response = app
        .http
        .get(app.url("/api/v1/sessions/s-1/events"))
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .header("last-event-id", "seven")
        .send()
        .await
        .expect("send");
    let status = response.status();
    check(
        (status, response.json().await.unwrap_or(Value::Null)),
        bad,
        "Last-Event-ID",
    );
    app.stop().await;
}

async fn credentials_are_checked_per_api(db: TestDb) {
    let app = spawn_app(&db).await;
    let send = |path: &str, credential: Option<&str>, post: bool| {
        let mut request = if post {
            app.http
                .post(app.url(path))
                .header("content-type", "application/json")
                .body(json!({"runtimeId": "rt-1", "events": []}).to_string())
        } else {
            app.http.get(app.url(path))
        };
        if let Some(c) = credential {
            request = request.header("authorization", c);
        }
        async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let unauthorized = StatusCode::UNAUTHORIZED;
    let events = "/api/internal/v1/events";
    check(
        send(events, None, true).await,
        unauthorized,
        "missing Authorization",
    );
    check(
        send(events, Some("Basic abc"), true).await,
        unauthorized,
        "Bearer",
    );
    check(
        send(events, Some("Bearer wrong"), true).await,
        unauthorized,
        "invalid internal API key",
    );
    check(
        send(events, Some(&format!("Bearer {TOKEN}")), true).await,
        unauthorized,
        "an API token was presented",
    );
    assert_eq!(
        send(events, Some(&format!("Bearer {KEY}")), true).await.0,
        StatusCode::OK
    );
    for path in [
        "/api/v1/sessions",
        "/api/v1/sessions/s-1",
        "/api/v1/sessions/s-1/events",
        "/metrics",
    ] {
        check(
            send(path, None, false).await,
            unauthorized,
            "missing Authorization",
        );
        check(
            send(path, Some("Bearer wrong"), false).await,
            unauthorized,
            "invalid API token",
        );
        check(
            send(path, Some(&format!("Bearer {KEY}")), false).await,
            unauthorized,
            "an internal API key was presented",
        );
    }
    for path in [
        "/api/internal/v1/heartbeat",
        "/api/internal/logs",
        "/api/internal/logs/append",
        "/api/internal/sessions/status",
    ] {
        check(
            send(path, Some(&format!("Bearer {TOKEN}")), true).await,
            unauthorized,
            "an API token was presented",
        );
    }
    check(
        send(
            "/api/v1/sessions/s-1/cancel",
            Some(&format!("Bearer {KEY}")),
            true,
        )
        .await,
        unauthorized,
        "internal API key",
    );
    app.stop().await;
}

/// RFC 9110 §11.1: the scheme is case-insensitive, as the supervisor takes it too.
async fn the_bearer_scheme_is_taken_in_any_case(db: TestDb) {
    let app = spawn_app(&db).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let internal = app
            .http
            .post(app.url("/api/internal/v1/heartbeat"))
            .header("authorization", format!("{scheme} {KEY}"))
            .json(&json!({"runtimeId": "rt-1", "version": "1", "sessions": []}))
            .send()
            .await
            .expect("send");
        assert_eq!(internal.status(), StatusCode::OK, "{scheme} on the internal API");
        let public = app
            .http
            .get(app.url("/api/v1/sessions"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .expect("send");
        assert_eq!(public.status(), StatusCode::OK, "{scheme} on the public API");
    }
    app.stop().await;
}

async fn bodies_over_8_mib_are_refused_with_413(db: TestDb) {
    let app = spawn_app(&db).await;
    let big = "x".repeat(9 * 1024 * 1024);
    let body = json!({"runtimeId": "rt-1", "events": [{"sessionId": "s-1", "seq": 0, "ts": "2026-11-25T12:00:00.000Z", "source": "agent", "type": "text", "data": {"text": big}}]}).to_string();
    check(
        raw(&app, Method::POST, "/api/internal/v1/events", &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than 8388608 bytes",
    );
    // Chunked (no Content-Length) is cut off too.
    let stream = futures_util::stream::iter(
        body.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let result = app
        .http
        .post(app.url("/api/internal/v1/events"))
        .bearer_auth(KEY)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    // The server answers as soon as the limit is passed and closes; the client may see the answer or only
    // the closed connection while still writing. Never a success.
    if let Ok(response) = result {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let (status, _) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A gzip bomb: small on the wire, over the limit once inflated.
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 9 * 1024 * 1024]).expect("gzip");
    let response = app
        .http
        .post(app.url("/api/internal/v1/events"))
        .bearer_auth(KEY)
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

async fn health_needs_no_credentials_and_metrics_count(db: TestDb) {
    let app = spawn_app(&db).await;
    let response = app.http.get(app.url("/health")).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (body["status"].clone(), body["database"].clone()),
        (json!("ok"), json!("ok"))
    );
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("agentctl_events_inserted_total 3"), "{text}");
    assert!(text.contains("agentctl_events_duplicate_total 3"), "{text}");
    assert!(text.contains("agentctl_ingest_batches_total 2"), "{text}");
    app.stop().await;
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let (_, body) = app.get(&format!("/api/v1/sessions/{id}")).await;
    body["status"].as_str().expect("status").to_owned()
}
