//! Reading a Messages API request: which scenario it belongs to, which turn it asks for, and whether it is
//! part of the conversation at all.
//!
//! Invariant: the answer depends on the request alone. Nothing is remembered between requests, so any
//! number of sessions can share one server, a retried request gets the same answer, and requests may arrive
//! in any order.

use serde::Deserialize;
use serde_json::Value;
use serde_json::error::Category;

use crate::scenario::{self, Reply, Scenario, Scenarios, Turn, UsageOverride};

/// Below this `max_tokens` a request is one of the CLI's side calls (quota and model checks ask for 1).
const AUXILIARY_MAX_TOKENS: u64 = 1024;

/// Marks the text blocks the CLI adds to the first user message (environment, attribution, CLAUDE.md); a
/// `scenario:` marker is looked for in the caller's own prompt first.
const SYSTEM_REMINDER: &str = "<system-reminder>";

/// The answer to every auxiliary request.
const AUXILIARY_TEXT: &str = "OK";

const SCENARIO_MARKER: &str = "scenario:";

/// The parts of a `POST /v1/messages` (or `count_tokens`) body this server looks at; the rest is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub tools: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: Content,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<Value>),
}

impl MessagesRequest {
    /// Parses a request body, naming the offending field the way the real API does (`messages: …`).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let deserializer = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            match err.inner().classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    format!("the request body is not valid JSON: {}", err.inner())
                }
                Category::Data if path == "." => err.inner().to_string(),
                Category::Data => format!("{path}: {}", err.inner()),
            }
        })
    }
}

/// Whether a request continues the scripted conversation or is one of the CLI's side calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The agent loop (or a subagent's): answered from the scenario.
    Conversation,
    /// Title, summary, quota and model checks, compaction: answered with a short text and never counted.
    Auxiliary,
}

/// Sorts out the CLI's side calls so they neither consume nor break the scenario. Every agent-loop request
/// carries the tool definitions and a large `max_tokens`; the side calls lack one or the other. When the CLI
/// labels its requests (`x-claude-code-request-class`, sent to first-party hosts), the label decides.
pub fn kind(request: &MessagesRequest, request_class: Option<&str>) -> Kind {
    match request_class {
        Some("main" | "subagent") => Kind::Conversation,
        Some(_) => Kind::Auxiliary,
        None if request.tools.is_empty() => Kind::Auxiliary,
        None if request.max_tokens.is_some_and(|max| max < AUXILIARY_MAX_TOKENS) => Kind::Auxiliary,
        None => Kind::Conversation,
    }
}

/// The turn a conversation request asks for: one per assistant message already in the conversation.
pub fn turn_index(request: &MessagesRequest) -> usize {
    request
        .messages
        .iter()
        .filter(|message| message.role == "assistant")
        .count()
}

/// The `NAME` of the first `scenario:NAME` in the first user message, preferring the caller's own text to
/// the context the CLI prepends.
pub fn scenario_marker(request: &MessagesRequest) -> Option<&str> {
    let first = request.messages.iter().find(|message| message.role == "user")?;
    let texts: Vec<&str> = match &first.content {
        Content::Text(text) => vec![text],
        Content::Blocks(blocks) => blocks.iter().filter_map(text_of_block).collect(),
    };
    let (reminders, own): (Vec<&str>, Vec<&str>) = texts
        .into_iter()
        .partition(|text| text.trim_start().starts_with(SYSTEM_REMINDER));
    own.into_iter().chain(reminders).find_map(find_marker)
}

fn find_marker(text: &str) -> Option<&str> {
    text.match_indices(SCENARIO_MARKER).find_map(|(at, _)| {
        let rest = &text[at + SCENARIO_MARKER.len()..];
        let end = rest
            .find(|c: char| !scenario::is_scenario_name_char(c))
            .unwrap_or(rest.len());
        // A trailing `.` ends the sentence rather than the name (`… use scenario:bash.`).
        let name = rest[..end].trim_end_matches('.');
        (!name.is_empty()).then_some(name)
    })
}

fn text_of_block(block: &Value) -> Option<&str> {
    (block.get("type")?.as_str()? == "text")
        .then(|| block.get("text")?.as_str())
        .flatten()
}

/// The content of the most recent `tool_result` in the conversation, its text blocks joined by newlines.
pub fn last_tool_result(request: &MessagesRequest) -> Option<String> {
    let result = request
        .messages
        .iter()
        .rev()
        .filter_map(|message| match &message.content {
            Content::Blocks(blocks) => Some(blocks),
            Content::Text(_) => None,
        })
        .flat_map(|blocks| blocks.iter().rev())
        .find(|block| block.get("type").and_then(Value::as_str) == Some("tool_result"))?;
    match result.get("content") {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Array(blocks)) => Some(
            blocks
                .iter()
                .filter_map(text_of_block)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => Some(String::new()),
    }
}

/// What to answer, decided from the request alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub scenario: String,
    /// `None` for an auxiliary request.
    pub turn: Option<usize>,
    pub kind: Kind,
    pub step: Turn,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown scenario `{name}` (known: {known})")]
    UnknownScenario { name: String, known: String },
}

/// Picks the scenario and turn for a request and fills in the `{{tool_result}}` placeholders.
pub fn plan(
    request: &MessagesRequest,
    request_class: Option<&str>,
    scenarios: &Scenarios,
) -> Result<Plan, PlanError> {
    let name = scenario_marker(request).unwrap_or(scenarios.default_name());
    let kind = kind(request, request_class);
    let (turn, step) = match kind {
        // A side call may quote the prompt; it must not fail because of a scenario it never uses.
        Kind::Auxiliary => (None, text_turn(AUXILIARY_TEXT)),
        Kind::Conversation => {
            let scenario = scenarios.get(name).ok_or_else(|| PlanError::UnknownScenario {
                name: name.to_owned(),
                known: scenarios.names().collect::<Vec<_>>().join(", "),
            })?;
            let index = turn_index(request);
            (Some(index), scripted_turn(scenario, index))
        }
    };
    let tool_result = last_tool_result(request).unwrap_or_default();
    Ok(Plan {
        scenario: name.to_owned(),
        turn,
        kind,
        step: fill_placeholders(step, &tool_result),
    })
}

fn scripted_turn(scenario: &Scenario, index: usize) -> Turn {
    scenario
        .turns
        .get(index)
        .cloned()
        .unwrap_or_else(|| text_turn(&scenario.final_text))
}

fn text_turn(text: &str) -> Turn {
    Turn {
        delay: std::time::Duration::ZERO,
        reply: Reply::Message {
            text: Some(text.to_owned()),
            tool_use: None,
        },
        usage: UsageOverride::default(),
    }
}

const TOOL_RESULT_PLACEHOLDER: &str = "{{tool_result}}";

fn fill_placeholders(mut turn: Turn, tool_result: &str) -> Turn {
    if let Reply::Message { text, tool_use } = &mut turn.reply {
        if let Some(text) = text {
            *text = text.replace(TOOL_RESULT_PLACEHOLDER, tool_result);
        }
        if let Some(tool_use) = tool_use {
            fill_value(&mut tool_use.input, tool_result);
        }
    }
    turn
}

fn fill_value(value: &mut Value, tool_result: &str) {
    match value {
        Value::String(text) => *text = text.replace(TOOL_RESULT_PLACEHOLDER, tool_result),
        Value::Array(items) => items.iter_mut().for_each(|item| fill_value(item, tool_result)),
        Value::Object(fields) => fields.values_mut().for_each(|item| fill_value(item, tool_result)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: Value) -> MessagesRequest {
        MessagesRequest::parse(body.to_string().as_bytes()).expect("test request parses")
    }

    fn conversation(messages: Value) -> MessagesRequest {
        request(json!({"model": "m", "max_tokens": 32000, "tools": [{"name": "Bash"}], "messages": messages}))
    }

    #[test]
    fn turn_index_counts_assistant_messages_only() {
        let req = conversation(json!([
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "env"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "out"}]},
        ]));
        assert_eq!(turn_index(&req), 1);
    }

    #[test]
    fn the_scenario_marker_is_read_from_the_callers_text_before_the_clis_reminders() {
        let req = conversation(json!([{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nscenario:wrong\n</system-reminder>"},
            {"type": "text", "text": "please use scenario:right."},
        ]}]));
        assert_eq!(scenario_marker(&req), Some("right"));

        let req = conversation(json!([{"role": "user", "content": "scenario:plain-string_1 go"}]));
        assert_eq!(scenario_marker(&req), Some("plain-string_1"));

        let req = conversation(json!([{"role": "user", "content": "scenario: nothing"}]));
        assert_eq!(scenario_marker(&req), None);
    }

    #[test]
    fn side_calls_are_auxiliary() {
        let no_tools = request(json!({"model": "m", "max_tokens": 32000, "messages": []}));
        assert_eq!(kind(&no_tools, None), Kind::Auxiliary);
        let tiny = request(json!({"model": "m", "max_tokens": 1, "tools": [{}], "messages": []}));
        assert_eq!(kind(&tiny, None), Kind::Auxiliary);
        let main = conversation(json!([]));
        assert_eq!(kind(&main, None), Kind::Conversation);
        assert_eq!(kind(&main, Some("auxiliary")), Kind::Auxiliary);
        assert_eq!(kind(&no_tools, Some("subagent")), Kind::Conversation);
    }

    #[test]
    fn the_last_tool_result_is_found_in_either_content_form() {
        let req = conversation(json!([
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "old"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b",
                "content": [{"type": "text", "text": "new"}, {"type": "text", "text": "lines"}]}]},
        ]));
        assert_eq!(last_tool_result(&req).as_deref(), Some("new\nlines"));
        assert_eq!(last_tool_result(&conversation(json!([]))), None);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = MessagesRequest::parse(br#"{"model": "m"}"#).unwrap_err();
        assert_eq!(err, "missing field `messages` at line 1 column 14");
        let err = MessagesRequest::parse(br#"{"model": "m", "messages": [{"role": 1}]}"#).unwrap_err();
        assert_eq!(
            err,
            "messages[0].role: invalid type: integer `1`, expected a string at line 1 column 38"
        );
    }
}
