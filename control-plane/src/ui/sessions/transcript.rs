//! Events as the session page shows them: a pure function from a page of events to view items, which
//! `templates/transcript_events.html` writes out (auto-escaped: everything here is the agent's text).
//!
//! The SDK's messages (`system` init, `assistant` with text, thinking and `tool_use` parts, `user` with
//! `tool_result` parts, `result`), the agent's plain lines and stderr, and the supervisor's lifecycle events
//! each get their own shape; anything else is shown as compact JSON. A tool result is shown inside its call
//! when the call is on the same page (paired by `tool_use_id`), else on its own, labelled with the call's id.

use std::collections::{HashMap, HashSet};

use protocol::{Event, EventSource};
use serde_json::Value;

use super::shown::{Shown, dom_id, one_line, thousands, tool_summary};
use crate::ui::format;

/// One event as shown.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub seq: u64,
    /// The event's time as stored, and as shown (`12:00:05.123`).
    pub ts: String,
    pub time: String,
    pub source: &'static str,
    pub kind: String,
    /// A failed tool result or an error: marked, and its details open.
    pub failed: bool,
    pub body: Body,
    /// `/sessions/{id}/events/{seq}`: the whole event (the raw view, fetched when opened).
    pub href: String,
}

impl Item {
    pub fn class(&self) -> &'static str {
        if self.failed { "failed" } else { "" }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// An assistant message.
    Parts(Vec<Part>),
    /// A user message's tool results.
    Results(Vec<ToolResult>),
    /// A user message's text (the prompt).
    Prompt(Shown),
    /// A line the agent printed that is not an SDK message.
    Text(Shown),
    Stderr(Shown),
    /// `system` init: the model and the tools, collapsed.
    Init(Init),
    /// The SDK's `result` message.
    Outcome(Outcome),
    /// A supervisor lifecycle event, as one line.
    Meta(String),
    /// Anything else.
    Json(Shown),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(Shown),
    Thinking(Shown),
    Tool(ToolCall),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    /// `id` made safe for the DOM: the call is `#call-{slot}`, its result's place `#result-{slot}`.
    pub slot: String,
    pub name: String,
    pub summary: String,
    pub input: Shown,
    /// Its result, when it is on the same page.
    pub result: Option<ToolResult>,
}

impl ToolCall {
    pub fn failed(&self) -> bool {
        self.result.as_ref().is_some_and(|r| r.failed)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolResult {
    pub call_id: String,
    pub slot: String,
    pub text: Shown,
    pub failed: bool,
    /// Shown inside its call (this event then only points there).
    pub with_call: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Init {
    pub model: String,
    pub tools: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub subtype: String,
    pub failed: bool,
    pub turns: String,
    pub duration: String,
    pub cost: String,
    pub text: Option<Shown>,
    pub errors: Vec<String>,
}

/// The items of one page of events, in seq order; a result whose call is among `events` goes inside it.
pub(crate) fn page(session_id: &str, events: &[Event]) -> Vec<Item> {
    let parsed: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e.data.get()).unwrap_or(Value::Null))
        .collect();
    let calls: HashSet<&str> = parsed
        .iter()
        .zip(events)
        .filter(|(_, e)| e.kind == "assistant")
        .flat_map(|(data, _)| content(data))
        .filter(|part| part["type"] == "tool_use")
        .filter_map(|part| part["id"].as_str())
        .collect();
    let mut results: HashMap<String, ToolResult> = HashMap::new();
    for (data, event) in parsed.iter().zip(events) {
        if event.kind == "user" {
            for result in tool_results(data) {
                if calls.contains(result.call_id.as_str()) {
                    results.entry(result.call_id.clone()).or_insert(result);
                }
            }
        }
    }
    parsed
        .iter()
        .zip(events)
        .map(|(data, event)| item(session_id, event, data, &mut |id| results.get(id).cloned()))
        .collect()
}

/// One event as shown; `paired(call id)` answers the result a call shows (a `user` event's results that
/// were paired point to their call instead).
pub(crate) fn item(
    session_id: &str,
    event: &Event,
    data: &Value,
    paired: &mut dyn FnMut(&str) -> Option<ToolResult>,
) -> Item {
    let (body, failed) = body(event, data, paired);
    Item {
        seq: event.seq,
        time: event
            .ts
            .get(11..23)
            .map_or_else(|| event.ts.clone(), str::to_owned),
        ts: event.ts.clone(),
        source: event.source.as_str(),
        kind: event.kind.clone(),
        failed,
        body,
        href: format!("/sessions/{session_id}/events/{}", event.seq),
    }
}

fn body(event: &Event, data: &Value, paired: &mut dyn FnMut(&str) -> Option<ToolResult>) -> (Body, bool) {
    match (event.source, event.kind.as_str()) {
        (EventSource::Stderr, _) => (Body::Stderr(Shown::new(text_of(data))), false),
        (EventSource::Supervisor, kind) => supervisor(kind, data),
        (EventSource::Agent, "assistant") => {
            let parts: Vec<Part> = content(data).iter().filter_map(|p| part(p, paired)).collect();
            let failed = parts
                .iter()
                .any(|p| matches!(p, Part::Tool(call) if call.failed()));
            (Body::Parts(parts), failed || data.get("error").is_some())
        }
        (EventSource::Agent, "user") => {
            let results = tool_results(data);
            if results.is_empty() {
                let prompt = match &data["message"]["content"] {
                    Value::String(s) => s.clone(),
                    other => joined_text(other),
                };
                return (Body::Prompt(Shown::new(&prompt)), false);
            }
            let failed = results.iter().any(|r| r.failed);
            let results = results
                .into_iter()
                .map(|r| ToolResult {
                    with_call: paired(&r.call_id).is_some(),
                    ..r
                })
                .collect();
            (Body::Results(results), failed)
        }
        // The runner's copy of the SDK's session files, kept for the conversation's next turn: a line, not
        // the piece's JSON (its path is a temp directory of the runtime's, of no use to a reader).
        (EventSource::Agent, "conversation.state") => (
            Body::Meta(format!(
                "conversation state saved: piece {}, {} bytes{}",
                data["seq"].as_u64().unwrap_or(0),
                thousands(usize::try_from(data["bytes"].as_u64().unwrap_or(0)).unwrap_or(usize::MAX)),
                if data["last"] == true { " (last)" } else { "" }
            )),
            false,
        ),
        (EventSource::Agent, "system") if data["subtype"] == "init" => (
            Body::Init(Init {
                model: data["model"].as_str().unwrap_or("").to_owned(),
                tools: strings(&data["tools"]).join(", "),
            }),
            false,
        ),
        (EventSource::Agent, "result") => {
            let outcome = outcome(data);
            let failed = outcome.failed;
            (Body::Outcome(outcome), failed)
        }
        (EventSource::Agent, "text") => (Body::Text(Shown::new(text_of(data))), false),
        _ => (Body::Json(Shown::json(data)), false),
    }
}

fn supervisor(kind: &str, data: &Value) -> (Body, bool) {
    let line = match kind {
        "session.started" => format!(
            "started: agent {}, pid {}, runtime {}",
            data["agentId"].as_str().unwrap_or("?"),
            data["pid"],
            data["runtimeId"].as_str().unwrap_or("?"),
        ),
        "session.finished" => {
            let status = data["status"].as_str().unwrap_or("?");
            let mut line = format!("finished: {status}");
            if let Some(code) = data["exitCode"].as_i64() {
                line.push_str(&format!(", exit code {code}"));
            }
            if let Some(signal) = data["signal"].as_str() {
                line.push_str(&format!(", signal {signal}"));
            }
            if let Some(ms) = data["durationMs"].as_i64() {
                line.push_str(&format!(", after {}", format::duration(ms)));
            }
            if let Some(error) = data["error"].as_str() {
                line.push_str(&format!(": {}", one_line(error, 300)));
            }
            let failed = !matches!(status, "succeeded" | "cancelled");
            return (Body::Meta(line), failed);
        }
        "session.cancel_requested" => "cancel requested".to_owned(),
        "output.truncated" => format!(
            "output cut: {} bytes of {} dropped",
            data["droppedBytes"],
            data["stream"].as_str().unwrap_or("output"),
        ),
        _ => return (Body::Json(Shown::json(data)), kind.contains("rejected")),
    };
    (Body::Meta(line), false)
}

fn part(part: &Value, paired: &mut dyn FnMut(&str) -> Option<ToolResult>) -> Option<Part> {
    match part["type"].as_str()? {
        "text" => Some(Part::Text(Shown::new(part["text"].as_str().unwrap_or("")))),
        "thinking" => Some(Part::Thinking(Shown::new(
            part["thinking"].as_str().unwrap_or(""),
        ))),
        "tool_use" => {
            let id = part["id"].as_str().unwrap_or("").to_owned();
            Some(Part::Tool(ToolCall {
                slot: dom_id(&id),
                name: part["name"].as_str().unwrap_or("tool").to_owned(),
                summary: tool_summary(&part["input"]),
                input: Shown::new(&serde_json::to_string_pretty(&part["input"]).unwrap_or_default()),
                result: paired(&id),
                id,
            }))
        }
        _ => Some(Part::Text(Shown::json(part))),
    }
}

/// The `tool_result` parts of a user message.
pub(crate) fn tool_results(data: &Value) -> Vec<ToolResult> {
    content(data)
        .iter()
        .filter(|p| p["type"] == "tool_result")
        .map(|p| {
            let call_id = p["tool_use_id"].as_str().unwrap_or("").to_owned();
            let text = match &p["content"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => joined_text(other),
            };
            ToolResult {
                slot: dom_id(&call_id),
                call_id,
                text: Shown::new(&text),
                failed: p["is_error"] == true,
                with_call: false,
            }
        })
        .collect()
}

/// The ids of an assistant message's tool calls.
pub(crate) fn tool_call_ids(data: &Value) -> Vec<String> {
    content(data)
        .iter()
        .filter(|p| p["type"] == "tool_use")
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect()
}

fn outcome(data: &Value) -> Outcome {
    Outcome {
        subtype: data["subtype"].as_str().unwrap_or("").to_owned(),
        failed: data["is_error"] == true || data["subtype"].as_str().is_some_and(|s| s != "success"),
        turns: data["num_turns"]
            .as_i64()
            .map_or_else(String::new, |n| n.to_string()),
        duration: data["duration_ms"]
            .as_i64()
            .map_or_else(String::new, format::duration),
        cost: data["total_cost_usd"]
            .as_f64()
            .map_or_else(String::new, format::cost),
        text: data["result"].as_str().map(Shown::new),
        errors: strings(&data["errors"]),
    }
}

/// A message's content parts (`message.content` as an array).
fn content(data: &Value) -> &[Value] {
    data["message"]["content"].as_array().map_or(&[], Vec::as_slice)
}

/// The text of content parts that are text, joined; other parts as JSON.
fn joined_text(content: &Value) -> String {
    match content.as_array() {
        Some(parts) => parts
            .iter()
            .map(|p| match p["text"].as_str() {
                Some(text) if p["type"] == "text" => text.to_owned(),
                _ => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => content.to_string(),
    }
}

fn text_of(data: &Value) -> &str {
    data["text"].as_str().unwrap_or("")
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
