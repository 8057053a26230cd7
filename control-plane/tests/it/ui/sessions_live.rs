//! The session page's live stream, its JSONL download and its cancel form; on both backends.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::browser::Browser;
use crate::helpers::{TestApp, TestDb, ev, lines, spawn_app, sup};

crate::on_both_backends!(
    the_live_route_streams_html_of_new_events_and_ends_when_the_session_finishes,
    a_live_tool_result_fills_the_slot_of_its_call_on_the_page,
    the_download_has_every_event_once_in_order,
    cancel_through_the_form_does_what_the_api_cancel_does,
    a_cancel_form_without_its_csrf_token_is_refused_and_changes_nothing,
);

/// One SSE message as the UI gets it: the data is HTML.
#[derive(Debug)]
struct Message {
    id: Option<String>,
    event: String,
    data: String,
}

/// Reads SSE messages off a response, with a deadline for each.
struct Stream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, browser: &Browser, path: &str) -> Self {
        let cookies = browser
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = app
            .http
            .get(app.url(path))
            .header("cookie", cookies)
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("open the live stream");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next message, `None` once the stream ended.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push(v);
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v);
                    }
                }
                if !event.is_empty() {
                    return Some(Message {
                        id,
                        event,
                        data: data.join("\n"),
                    });
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("a message within 10 s");
            match chunk {
                Some(bytes) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes.expect("a chunk")).expect("UTF-8")),
                None => return None,
            }
        }
    }
}

async fn ingest(app: &TestApp, events: &[Value]) {
    let (status, body) = app.ingest("rt-1", events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn started(sid: &str) -> Value {
    sup(
        sid,
        0,
        "session.started",
        json!({"agentId": "reviewer", "pid": 7, "runtimeId": "rt-1", "runner": "node"}),
    )
}

async fn the_live_route_streams_html_of_new_events_and_ends_when_the_session_finishes(db: TestDb) {
    let app = spawn_app(&db).await;
    ingest(
        &app,
        &[
            started("s-live"),
            ev("s-live", 1, "text", json!({"text": "first"})),
        ],
    )
    .await;
    let browser = Browser::signed_in(&app).await;
    let mut stream = Stream::open(&app, &browser, "/sessions/s-live/live?after=1&from=0").await;
    ingest(
        &app,
        &[ev(
            "s-live",
            2,
            "assistant",
            json!({"type": "assistant", "message": {"content": [
        {"type": "text", "text": "<b>live</b> text"}]}}),
        )],
    )
    .await;
    let message = stream.next().await.expect("a message");
    assert_eq!(
        (message.id.as_deref(), message.event.as_str()),
        (Some("2"), "event")
    );
    assert!(
        message
            .data
            .starts_with("<article class=\"event assistant \" id=\"ev-2\" data-seq=\"2\">"),
        "{}",
        message.data
    );
    assert!(
        message
            .data
            .contains("<div class=\"text\">&#60;b&#62;live&#60;/b&#62; text</div>"),
        "{}",
        message.data
    );
    ingest(&app, &[
        json!({"sessionId": "s-live", "seq": 3, "ts": crate::helpers::ts(3), "source": "stderr", "type": "stderr",
            "data": {"text": "oops"}}),
        sup("s-live", 4, "session.finished", json!({"status": "succeeded", "exitCode": 0, "signal": null,
            "durationMs": 10, "error": null})),
    ]).await;
    let stderr = stream.next().await.expect("stderr");
    assert!(
        stderr.data.contains("<pre class=\"stderr\">oops</pre>"),
        "{}",
        stderr.data
    );
    let finished = stream.next().await.expect("finished");
    assert!(
        finished.data.contains("finished: succeeded, exit code 0"),
        "{}",
        finished.data
    );
    let end = stream.next().await.expect("the end message");
    assert_eq!((end.event.as_str(), end.data.as_str()), ("end", "succeeded"));
    assert!(stream.next().await.is_none(), "the stream ends");

    // Without a cookie there is no stream.
    let response = Browser::new(&app).get("/sessions/s-live/live").await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    app.stop().await;
}

async fn a_live_tool_result_fills_the_slot_of_its_call_on_the_page(db: TestDb) {
    let app = spawn_app(&db).await;
    let call = |seq, id: &str| {
        ev(
            "s-t",
            seq,
            "assistant",
            json!({"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": id, "name": "Bash", "input": {"command": "ls"}}]}}),
        )
    };
    let result = |seq, id: &str, failed: bool| {
        ev(
            "s-t",
            seq,
            "user",
            json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": id, "content": format!("out of {id}"), "is_error": failed}]}}),
        )
    };
    ingest(&app, &[started("s-t"), call(1, "toolu_page")]).await;
    let browser = Browser::signed_in(&app).await;
    // The page showed seqs 0..=1: the call at 1 is on it.
    let mut stream = Stream::open(&app, &browser, "/sessions/s-t/live?after=1&from=0").await;
    ingest(
        &app,
        &[
            result(2, "toolu_page", true),
            call(3, "toolu_live"),
            result(4, "toolu_live", false),
            result(5, "toolu_elsewhere", false),
        ],
    )
    .await;
    let paired = stream.next().await.expect("the result of the page's call");
    assert!(
        paired
            .data
            .contains("result of <a href=\"#call-toolu_page\">toolu_page</a>, shown with its call"),
        "{}",
        paired.data
    );
    assert!(
        paired.data.contains(
            "<div id=\"result-toolu_page\" hx-swap-oob=\"true\"><div class=\"tool-result failed\">"
        ),
        "{}",
        paired.data
    );
    let live_call = stream.next().await.expect("a live call");
    assert!(
        live_call.data.contains("<div id=\"result-toolu_live\"></div>"),
        "an empty slot: {}",
        live_call.data
    );
    let live_result = stream.next().await.expect("its result");
    assert!(
        live_result
            .data
            .contains("<div id=\"result-toolu_live\" hx-swap-oob=\"true\">"),
        "{}",
        live_result.data
    );
    // A result whose call is on no page shown stands alone, labelled with the call's id.
    let alone = stream.next().await.expect("an orphan result");
    assert!(!alone.data.contains("hx-swap-oob"), "{}", alone.data);
    assert!(
        alone
            .data
            .contains("<summary>result of <code>toolu_elsewhere</code></summary>"),
        "{}",
        alone.data
    );
    app.stop().await;
}

async fn the_download_has_every_event_once_in_order(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut events = lines("s-dl", 0, 2500);
    // Raw data with a line break between its tokens still makes one line.
    events[7] = ev("s-dl", 7, "text", json!({"text": "a\nb"}));
    for chunk in events.chunks(1000) {
        ingest(&app, chunk).await;
    }
    let (status, _) = app.ingest_raw("rt-1", &[r#"{"sessionId":"s-dl","seq":2500,"ts":"2026-11-25T12:00:00.000Z","source":"agent","type":"x","data":{
  "spaced": true}}"#]).await;
    assert_eq!(status, StatusCode::OK);
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-dl/download.jsonl").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["content-disposition"],
        "attachment; filename=\"s-dl.jsonl\""
    );
    let seqs: Vec<u64> = page
        .body
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).expect("each line is JSON");
            assert_eq!(event["sessionId"], "s-dl");
            event["seq"].as_u64().expect("a seq")
        })
        .collect();
    assert_eq!(seqs, (0..=2500).collect::<Vec<_>>());
    assert!(page.body.ends_with('\n'));
    app.stop().await;
}

/// The commands the runtime gets with its next heartbeat.
async fn commands(app: &TestApp, sid: &str) -> Value {
    let (status, body) = app
        .post_internal(
            "/api/internal/v1/heartbeat",
            &json!({"runtimeId": "rt-1", "version": "0.1.0", "sessions": [sid]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["commands"].clone()
}

async fn cancel_through_the_form_does_what_the_api_cancel_does(db: TestDb) {
    let app = spawn_app(&db).await;
    ingest(&app, &[started("s-c")]).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-c").await;
    assert!(page.body.contains("<form id=\"cancel\""));
    let answer = browser.submit("/sessions/s-c/cancel", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), Some("/sessions/s-c?cancel=requested"));
    // As after `POST /api/v1/sessions/s-c/cancel`: the runtime hears of it once.
    assert_eq!(
        commands(&app, "s-c").await,
        json!([{"type": "cancel", "sessionId": "s-c"}])
    );
    assert_eq!(commands(&app, "s-c").await, json!([]));
    let page = browser.get("/sessions/s-c?cancel=requested").await;
    assert!(page.body.contains("Cancel requested"), "{}", page.body);
    assert!(
        page.body.contains("cancel requested</span>"),
        "the facts say so: {}",
        page.body
    );

    ingest(
        &app,
        &[sup(
            "s-c",
            1,
            "session.finished",
            json!({"status": "cancelled", "exitCode": null,
        "signal": "SIGTERM", "durationMs": 10, "error": "cancelled"}),
        )],
    )
    .await;
    let answer = browser.submit("/sessions/s-c/cancel", &[]).await;
    assert_eq!(answer.location(), Some("/sessions/s-c?cancel=finished"));
    let page = browser.get("/sessions/s-c?cancel=finished").await;
    assert!(page.body.contains("had already finished"), "{}", page.body);
    assert!(
        page.body
            .contains("<span id=\"session-status\" class=\"badge state-cancelled\">cancelled</span>")
    );
    assert!(!page.body.contains("<form id=\"cancel\""));
    let (_, api) = app.post("/api/v1/sessions/s-c/cancel").await;
    assert_eq!(api["status"], "cancelled");
    let answer = browser.submit("/sessions/s-nope/cancel", &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_cancel_form_without_its_csrf_token_is_refused_and_changes_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    ingest(&app, &[started("s-c")]).await;
    let mut browser = Browser::signed_in(&app).await;
    browser.get("/sessions/s-c").await;
    for fields in [vec![], vec![("csrf", "forged")]] {
        let answer = browser.post("/sessions/s-c/cancel", &fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    }
    assert_eq!(commands(&app, "s-c").await, json!([]), "no cancel was queued");
    let (_, session) = app.get("/api/v1/sessions/s-c").await;
    assert_eq!(session["status"], "running");
    app.stop().await;
}
