//! Table tests of the transcript: the fixtures' SDK messages (`tests/it/fixtures/`), as items and as HTML.

use askama::Template;
use expect_test::{Expect, expect};
use protocol::Event;
use serde_json::{Value, json};

use super::*;

const SID: &str = "s-1";

/// Events of `source`/`type`/`data` triples, numbered from 0.
fn events(specs: &[(&str, &str, Value)]) -> Vec<Event> {
    specs
        .iter()
        .enumerate()
        .map(|(seq, (source, kind, data))| {
            serde_json::from_value(json!({
                "sessionId": SID, "seq": seq, "ts": format!("2026-11-25T12:00:{seq:02}.000Z"),
                "source": source, "type": kind, "data": data,
            }))
            .expect("an event")
        })
        .collect()
}

/// A fixture's SDK messages as agent events, after a `session.started`.
fn fixture(text: &str) -> Vec<Event> {
    let mut specs = vec![(
        "supervisor",
        "session.started".to_owned(),
        json!({"agentId": "reviewer", "pid": 42, "runtimeId": "rt-1", "runner": "node"}),
    )];
    for line in text.lines() {
        let message: Value = serde_json::from_str(line).expect("a fixture line is JSON");
        let kind = message["type"].as_str().expect("a type").to_owned();
        specs.push(("agent", kind, message));
    }
    let specs: Vec<(&str, &str, Value)> = specs
        .iter()
        .map(|(s, k, d)| (*s, k.as_str(), d.clone()))
        .collect();
    events(&specs)
}

fn cut(s: &Shown) -> String {
    let mut text = one_line(&s.text, 60);
    if let Some(label) = &s.cut {
        text.push_str(&format!(" [{label}]"));
    }
    text
}

fn result(r: &ToolResult) -> String {
    let state = if r.failed { "error" } else { "ok" };
    format!("{state}: {}", cut(&r.text))
}

/// One line per item (and per part), what the page shows.
fn outline(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        let mark = if item.failed { " FAILED" } else { "" };
        out.push_str(&format!("#{} {} {}{mark}: ", item.seq, item.source, item.kind));
        match &item.body {
            Body::Parts(parts) => {
                for part in parts {
                    match part {
                        Part::Text(s) => out.push_str(&format!("\n  text {}", cut(s))),
                        Part::Thinking(s) => out.push_str(&format!("\n  thinking {}", cut(s))),
                        Part::Tool(call) => {
                            out.push_str(&format!(
                                "\n  tool {} `{}` #call-{}",
                                call.name, call.summary, call.slot
                            ));
                            match &call.result {
                                Some(r) => out.push_str(&format!(" → {}", result(r))),
                                None => out.push_str(" → (no result on this page)"),
                            }
                        }
                    }
                }
            }
            Body::Results(results) => {
                for r in results {
                    if r.with_call {
                        out.push_str(&format!("\n  result of {}, shown with its call", r.call_id));
                    } else {
                        out.push_str(&format!("\n  result of {} on its own, {}", r.call_id, result(r)));
                    }
                }
            }
            Body::Prompt(s) => out.push_str(&format!("prompt {}", cut(s))),
            Body::Text(s) => out.push_str(&format!("text {}", cut(s))),
            Body::Stderr(s) => out.push_str(&format!("stderr {}", cut(s))),
            Body::Init(init) => out.push_str(&format!("init model {} tools {}", init.model, init.tools)),
            Body::Outcome(o) => out.push_str(&format!(
                "outcome {} turns {} {} {} {:?} {:?}",
                o.subtype,
                o.turns,
                o.duration,
                o.cost,
                o.text.as_ref().map(cut),
                o.errors
            )),
            Body::Meta(line) => out.push_str(&format!("meta {line}")),
            Body::Json(s) => out.push_str(&format!("json {}", cut(s))),
        }
        out.push('\n');
    }
    out
}

#[track_caller]
fn check(events: &[Event], expect: Expect) {
    expect.assert_eq(&outline(&page(SID, events)));
}

#[test]
fn a_successful_session_shows_text_tool_calls_with_their_results_and_the_outcome() {
    check(
        &fixture(include_str!("../../../tests/it/fixtures/success.jsonl")),
        expect![[r##"
            #0 supervisor session.started: meta started: agent reviewer, pid 42, runtime rt-1
            #1 agent system: init model claude-sonnet-4-5-20250929 tools Task, Bash, Glob, Grep, Read, Edit, Write, WebFetch
            #2 agent assistant: 
              text I'll run the tests first to see what fails.
            #3 agent assistant: 
              tool Bash `cargo test -p parser` #call-toolu_01 → ok: running 14 tests test tokens::empty ... FAILED test tokens:…
            #4 agent user: 
              result of toolu_01, shown with its call
            #5 agent assistant FAILED: 
              tool Read `src/parser.rs` #call-toolu_02 → error: Error reading file: no such file
            #6 agent user FAILED: 
              result of toolu_02, shown with its call
            #7 agent assistant: 
              text Fixed: tokenize("") returned None; it now returns an empty …
            #8 agent result: outcome success turns 6 1 min 42 s $0.0831 Some("Fixed: tokenize(\"\") returned None; it now returns an empty …") []
        "##]],
    );
}

#[test]
fn a_failed_session_shows_its_failed_tool_and_its_errors() {
    check(
        &fixture(include_str!("../../../tests/it/fixtures/failed.jsonl")),
        expect![[r#"
            #0 supervisor session.started: meta started: agent reviewer, pid 42, runtime rt-1
            #1 agent system: init model claude-haiku-4-5 tools Bash, Read
            #2 agent assistant FAILED: 
              tool Bash `make` #call-toolu_11 → error: make: *** No targets specified and no makefile found. Stop.
            #3 agent user FAILED: 
              result of toolu_11, shown with its call
            #4 agent result FAILED: outcome error_max_turns turns 2 4.1 s $0.0123 None ["Reached maximum number of turns (2)"]
        "#]],
    );
}

#[test]
fn a_result_whose_call_is_on_an_earlier_page_stands_alone_and_lifecycle_events_are_lines() {
    check(
        &events(&[
            (
                "agent",
                "user",
                json!({"type": "user", "message": {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_9", "content": [{"type": "text", "text": "done"}]}
                ]}}),
            ),
            (
                "agent",
                "user",
                json!({"type": "user", "message": {"role": "user", "content": "Fix the bug"}}),
            ),
            ("stderr", "stderr", json!({"text": "warning: deprecated"})),
            ("agent", "text", json!({"text": "not JSON"})),
            ("supervisor", "session.cancel_requested", json!({})),
            (
                "supervisor",
                "output.truncated",
                json!({"stream": "stdout", "droppedBytes": 1024}),
            ),
            (
                "supervisor",
                "session.finished",
                json!({"status": "cancelled", "exitCode": null, "signal": "SIGTERM", "durationMs": 9000, "error": "cancelled"}),
            ),
            (
                "supervisor",
                "session.finished",
                json!({"status": "failed", "exitCode": 1, "signal": null, "durationMs": 40, "error": "boom"}),
            ),
            ("agent", "stream_event", json!({"type": "stream_event", "n": 1})),
            (
                "agent",
                "conversation.state",
                json!({"seq": 1, "last": true, "bytes": 83377, "path": "projects/-tmp-x/s.jsonl"}),
            ),
            ("agent", "text", json!({"text": "y".repeat(5000)})),
        ]),
        expect![[r##"
            #0 agent user: 
              result of toolu_9 on its own, ok: done
            #1 agent user: prompt Fix the bug
            #2 stderr stderr: stderr warning: deprecated
            #3 agent text: text not JSON
            #4 supervisor session.cancel_requested: meta cancel requested
            #5 supervisor output.truncated: meta output cut: 1024 bytes of stdout dropped
            #6 supervisor session.finished: meta finished: cancelled, signal SIGTERM, after 9.0 s: cancelled
            #7 supervisor session.finished FAILED: meta finished: failed, exit code 1, after 40 ms: boom
            #8 agent stream_event: json {"n":1,"type":"stream_event"}
            #9 agent conversation.state: meta conversation state saved: piece 1, 83,377 bytes (last)
            #10 agent text: text yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy… [truncated, 5,000 bytes]
        "##]],
    );
}

#[derive(Template)]
#[template(path = "transcript_events.html")]
struct Events {
    items: Vec<Item>,
}

#[test]
fn hostile_text_is_escaped_everywhere_it_is_shown() {
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(1)>";
    let html = Events {
        items: page(
            SID,
            &events(&[
                (
                    "agent",
                    "assistant",
                    json!({"type": "assistant", "message": {"content": [
                        {"type": "text", "text": hostile},
                        {"type": "tool_use", "id": hostile, "name": hostile, "input": {"command": hostile}},
                    ]}}),
                ),
                (
                    "agent",
                    "user",
                    json!({"type": "user", "message": {"content": [
                        {"type": "tool_result", "tool_use_id": hostile, "content": hostile, "is_error": true}
                    ]}}),
                ),
                ("stderr", "stderr", json!({"text": hostile})),
                ("agent", hostile, json!({"x": hostile})),
            ]),
        ),
    }
    .render()
    .expect("renders");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    // Shown as text in the assistant text, the tool's name and input, its result and stderr (the raw JSON is
    // fetched when opened: `/sessions/{id}/events/{seq}`, JSON, `nosniff`).
    assert!(html.matches("&#60;script&#62;").count() >= 7, "{html}");
}
