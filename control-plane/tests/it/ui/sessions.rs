//! The sessions list and the session page (DESIGN §11), as a signed-in browser gets them; on both backends.
//! The live stream, the download and cancel are in `sessions_live.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::browser::{Browser, Page};
use crate::helpers::{Ending, TestApp, TestDb, ev, lines, spawn_app, sup, transcript};

crate::on_both_backends!(
    the_list_shows_each_session_with_its_columns_and_filters_by_status_agent_and_errors,
    the_list_pages_fifty_sessions_at_a_time_newest_first,
    the_session_page_shows_the_facts_the_transcript_and_the_result_footer,
    a_long_session_shows_its_newest_200_events_and_earlier_pages_back_to_the_first,
    long_values_are_cut_with_a_label_and_the_whole_event_is_a_link_away,
    hostile_text_is_shown_as_text_on_the_session_page,
    an_unknown_session_answers_a_404_page,
);

/// The `data-{attribute}` values of a page, in order.
pub fn data_values(body: &str, attribute: &str) -> Vec<String> {
    let needle = format!("data-{attribute}=\"");
    body.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &body[at + needle.len()..];
            rest[..rest.find('"').expect("a closing quote")].to_owned()
        })
        .collect()
}

fn seqs(page: &Page) -> Vec<u64> {
    data_values(&page.body, "seq")
        .iter()
        .map(|s| s.parse().expect("a seq"))
        .collect()
}

/// The `<tr data-session=…>` row of a session in the list.
fn row<'a>(page: &'a Page, sid: &str) -> &'a str {
    let at = page
        .body
        .find(&format!("data-session=\"{sid}\""))
        .unwrap_or_else(|| panic!("{sid} listed: {}", page.body));
    let end = at + page.body[at..].find("</tr>").expect("the row ends");
    &page.body[at..end]
}

async fn started(app: &TestApp, sid: &str, agent: &str) {
    let (status, body) = app
        .ingest(
            "rt-1",
            &[sup(
                sid,
                0,
                "session.started",
                json!({"agentId": agent, "pid": 7, "runtimeId": "rt-1", "runner": "node"}),
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn ingest(app: &TestApp, events: &[Value]) {
    let (status, body) = app.ingest("rt-1", events).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("rejected").is_none(), "{body}");
}

async fn the_list_shows_each_session_with_its_columns_and_filters_by_status_agent_and_errors(db: TestDb) {
    let app = spawn_app(&db).await;
    ingest(&app, &transcript("s-ok", "rt-1", "success", Ending::Succeeded)).await;
    ingest(&app, &transcript("s-fail", "rt-1", "failed", Ending::Failed)).await;
    started(&app, "s-run", "writer").await;
    let mut browser = Browser::signed_in(&app).await;

    let page = browser.get("/sessions").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(data_values(&page.body, "session"), ["s-run", "s-fail", "s-ok"]);
    let ok = row(&page, "s-ok");
    for shown in [
        "<a href=\"/sessions/s-ok\"><code>s-ok</code></a>",
        "<td class=\"status\"><span class=\"badge state-succeeded\">succeeded</span>",
        "<a href=\"/agents/reviewer\">reviewer</a>",
        ">6<",
        "$0.0831",
    ] {
        assert!(ok.contains(shown), "{shown} in {ok}");
    }
    assert!(row(&page, "s-run").contains(">running</span>"));
    // The first page refreshes itself; the filters form is there.
    assert!(page.body.contains("hx-trigger=\"every 3s\""), "{}", page.body);
    for control in [
        "<form id=\"filters\"",
        "select id=\"f-status\" name=\"status\"",
        "name=\"agent\"",
        "name=\"errors\" value=\"1\"",
    ] {
        assert!(page.body.contains(control), "{control}");
    }
    assert!(!page.body.contains("id=\"older\""), "one page only");

    for (query, want) in [
        ("status=running", vec!["s-run"]),
        ("agent=reviewer", vec!["s-fail", "s-ok"]),
        ("agent=writer&status=running", vec!["s-run"]),
        ("errors=1", vec!["s-fail"]),
        ("errors=1&agent=reviewer&status=failed", vec!["s-fail"]),
        ("errors=1&status=succeeded", vec![]),
        ("status=&agent=&errors=", vec!["s-run", "s-fail", "s-ok"]),
    ] {
        let page = browser.get(&format!("/sessions?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert_eq!(data_values(&page.body, "session"), want, "{query}");
    }
    // The filters stay in the form and in what the page re-fetches.
    let page = browser.get("/sessions?status=failed&errors=1").await;
    assert!(
        page.body.contains("<option value=\"failed\" selected>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"errors\" value=\"1\" checked"));
    assert!(
        page.body
            .contains("hx-get=\"/sessions?status=failed&#38;errors=1\""),
        "{}",
        page.body
    );

    let bad = browser.get("/sessions?status=sleeping").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("sleeping"), "{}", bad.body);
    app.stop().await;
}

async fn the_list_pages_fifty_sessions_at_a_time_newest_first(db: TestDb) {
    let app = spawn_app(&db).await;
    let events: Vec<Value> = (0..120)
        .map(|i| {
            sup(
                &format!("s-{i:03}"),
                0,
                "session.started",
                json!({"agentId": "reviewer", "pid": 7, "runtimeId": "rt-1", "runner": "node"}),
            )
        })
        .collect();
    ingest(&app, &events).await;
    let mut browser = Browser::signed_in(&app).await;
    let mut seen = Vec::new();
    let mut path = "/sessions?agent=reviewer".to_owned();
    let mut sizes = Vec::new();
    loop {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let ids = data_values(&page.body, "session");
        sizes.push(ids.len());
        seen.extend(ids);
        let Some(at) = page.body.find("<a id=\"older\" href=\"") else {
            break;
        };
        let rest = &page.body[at + 20..];
        path = rest[..rest.find('"').expect("href ends")].replace("&#38;", "&");
        assert!(path.contains("before="), "{path}");
        assert!(path.contains("agent=reviewer"), "the filters are kept: {path}");
        // Older pages do not refresh themselves (their rows would move under the reader).
        let older = browser.get(&path).await;
        assert!(!older.body.contains("every 3s"));
    }
    assert_eq!(sizes, [50, 50, 20]);
    let mut want: Vec<String> = (0..120).map(|i| format!("s-{i:03}")).collect();
    want.sort();
    // Sessions created in one batch are created in id order; newest first means the reverse.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, want, "every session once");
    app.stop().await;
}

async fn the_session_page_shows_the_facts_the_transcript_and_the_result_footer(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut events = transcript("s-ok", "rt-1", "success", Ending::Running);
    let n = events.len() as u64;
    events.push(
        json!({"sessionId": "s-ok", "seq": n, "ts": crate::helpers::ts(n), "source": "stderr",
        "type": "stderr", "data": {"text": "warning: unused variable"}}),
    );
    events.push(sup(
        "s-ok",
        n + 1,
        "session.finished",
        json!({"status": "succeeded", "exitCode": 0,
        "signal": null, "durationMs": 102400, "numTurns": 6, "totalCostUsd": 0.0831, "error": null}),
    ));
    ingest(&app, &events).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-ok").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for shown in [
        "<span id=\"session-status\" class=\"badge state-succeeded\">succeeded</span>",
        "<a href=\"/agents/reviewer\">reviewer</a>",
        "<code>rt-1</code>",
        "exit code 0",
        // The assistant's text, a tool call with its result inside, the failed one open.
        "<div class=\"text\">I&#39;ll run the tests first to see what fails.</div>",
        "<details class=\"tool\" id=\"call-toolu_01\"><summary><strong>Bash</strong> <code>cargo test -p parser</code></summary>",
        "<div id=\"result-toolu_01\"><div class=\"tool-result\"><span class=\"label\">result</span><pre>running 14 tests",
        "<details class=\"tool failed\" id=\"call-toolu_02\" open>",
        "<div class=\"tool-result failed\"><span class=\"label\">error</span><pre>Error reading file: no such file</pre>",
        "<pre class=\"stderr\">warning: unused variable</pre>",
        "<details class=\"raw\"><summary>raw</summary><pre>",
        "<a class=\"raw\" href=\"/sessions/s-ok/events/3\">",
        // The actions, and the result footer of a finished session.
        "<a id=\"download\" class=\"button secondary\" href=\"/sessions/s-ok/download.jsonl\"",
        "<button type=\"button\" id=\"copy-id\" class=\"secondary\" data-copy=\"s-ok\">",
        "<div id=\"result\"><footer class=\"result-footer\">",
        "(the SDK's estimate)",
    ] {
        assert!(body.contains(shown), "{shown} in {body}");
    }
    assert!(
        !body.contains("id=\"cancel\""),
        "a finished session cannot be cancelled"
    );
    assert!(
        !body.contains("sse-connect"),
        "a finished session is not followed"
    );
    assert!(!body.contains("id=\"earlier\""), "everything is on the page");
    assert_eq!(seqs(&page), (0..=n + 1).collect::<Vec<_>>());

    // A running session: cancel offered, the facts polled, the transcript followed from its last event.
    started(&app, "s-run", "writer").await;
    let page = browser.get("/sessions/s-run").await;
    assert!(
        page.body
            .contains("<form id=\"cancel\" method=\"post\" action=\"/sessions/s-run/cancel\">")
    );
    assert!(
        page.body
            .contains("hx-get=\"/sessions/s-run/head\" hx-trigger=\"every 3s\"")
    );
    assert!(page.body.contains("sse-connect=\"/sessions/s-run/live?after=0&#38;from=0\" sse-swap=\"event\" hx-swap=\"beforeend\" sse-close=\"end\""), "{}", page.body);
    assert!(!page.body.contains("<footer"), "no result yet");
    let head = browser.get_htmx("/sessions/s-run/head").await;
    assert!(head.body.starts_with("<div id=\"session-head\""), "{}", head.body);
    assert!(!head.body.contains("hx-swap-oob"));
    // Once finished, the polled facts stop polling and bring the footer and actions without cancel.
    ingest(
        &app,
        &[sup(
            "s-run",
            1,
            "session.finished",
            json!({"status": "failed", "exitCode": 3, "signal": null,
        "durationMs": 10, "error": "it broke"}),
        )],
    )
    .await;
    let head = browser.get_htmx("/sessions/s-run/head").await;
    assert!(head.body.contains(">failed</span>"), "{}", head.body);
    assert!(!head.body.contains("every 3s"));
    assert!(
        head.body
            .contains("<p class=\"error\" role=\"alert\">it broke</p>")
    );
    assert!(
        head.body
            .contains("<div id=\"result\" hx-swap-oob=\"true\"><footer")
    );
    assert!(head.body.contains("<div id=\"actions\" hx-swap-oob=\"true\">"));
    assert!(!head.body.contains("id=\"cancel\""));
    app.stop().await;
}

async fn a_long_session_shows_its_newest_200_events_and_earlier_pages_back_to_the_first(db: TestDb) {
    let app = spawn_app(&db).await;
    ingest(&app, &lines("s-long", 0, 1000)).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-long").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(seqs(&page), (800..1000).collect::<Vec<_>>());
    let button = "<button type=\"submit\" id=\"earlier\" class=\"secondary\" hx-get=\"/sessions/s-long/transcript?before=800\" hx-target=\"closest form\" hx-swap=\"outerHTML\">";
    assert!(page.body.contains(button), "{}", page.body);
    // Without JavaScript the button's form opens the page at that seq.
    assert!(
        page.body
            .contains("<form class=\"earlier\" method=\"get\" action=\"/sessions/s-long\">")
    );
    let older = browser.get("/sessions/s-long?before=800").await;
    assert_eq!(seqs(&older), (600..800).collect::<Vec<_>>());
    assert!(!older.body.contains("sse-connect"));

    let mut before = 800;
    while before > 0 {
        let fragment = browser
            .get_htmx(&format!("/sessions/s-long/transcript?before={before}"))
            .await;
        assert_eq!(fragment.status, StatusCode::OK, "{}", fragment.body);
        assert!(!fragment.body.contains("<html"), "a fragment");
        assert_eq!(seqs(&fragment), (before - 200..before).collect::<Vec<_>>());
        let next = format!("transcript?before={}", before - 200);
        assert_eq!(fragment.body.contains(&next), before > 200, "{before}");
        before -= 200;
    }
    assert!(
        !browser
            .get_htmx("/sessions/s-long/transcript?before=200")
            .await
            .body
            .contains("id=\"earlier\"")
    );
    app.stop().await;
}

async fn long_values_are_cut_with_a_label_and_the_whole_event_is_a_link_away(db: TestDb) {
    let app = spawn_app(&db).await;
    let long = "x".repeat(123_456);
    ingest(&app, &[ev("s-big", 0, "text", json!({"text": long}))]).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-big").await;
    assert!(page.body.len() < 20_000, "{} bytes", page.body.len());
    assert!(
        page.body.contains("<p class=\"truncated\">truncated, 123,")
            && page
                .body
                .contains("bytes · <a href=\"/sessions/s-big/events/0\">the whole event</a>"),
        "{}",
        &page.body[..page.body.len().min(4000)]
    );
    let whole = browser.get("/sessions/s-big/events/0").await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.headers["content-type"], "application/json");
    assert_eq!(whole.headers["x-content-type-options"], "nosniff");
    let event: Value = serde_json::from_str(&whole.body).expect("JSON");
    assert_eq!(event["data"]["text"], long.as_str());
    assert_eq!(event["seq"], 0);
    assert_eq!(
        browser.get("/sessions/s-big/events/1").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

async fn hostile_text_is_shown_as_text_on_the_session_page(db: TestDb) {
    let app = spawn_app(&db).await;
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>";
    ingest(&app, &[
        ev("s-x", 0, "assistant", json!({"type": "assistant", "message": {"content": [
            {"type": "text", "text": hostile},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": hostile}}]}})),
        ev("s-x", 1, "user", json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": hostile, "is_error": true}]}})),
        json!({"sessionId": "s-x", "seq": 2, "ts": crate::helpers::ts(2), "source": "stderr", "type": "stderr",
            "data": {"text": hostile}}),
        ev("s-x", 3, "text", json!({"text": hostile})),
        ev("s-x", 4, "result", json!({"type": "result", "subtype": "success", "result": hostile, "errors": [hostile]})),
    ]).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/sessions/s-x").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    // Text in the assistant's message, the call's summary and input, the result, stderr, a line, the
    // outcome (text and error), and each raw view.
    let escaped = page
        .body
        .matches("&#60;script&#62;alert(1)&#60;/script&#62;")
        .count();
    assert!(escaped >= 9 + 5, "{escaped} escaped copies in {}", page.body);
    app.stop().await;
}

async fn an_unknown_session_answers_a_404_page(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    for path in [
        "/sessions/s-nope",
        "/sessions/not%20an%20id",
        "/sessions/s-nope/transcript?before=5",
        "/sessions/s-nope/events/0",
        "/sessions/s-nope/download.jsonl",
        "/sessions/s-nope/live",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            page.body.contains("<h1>404 Not Found</h1>"),
            "{path}: {}",
            page.body
        );
    }
    app.stop().await;
}
