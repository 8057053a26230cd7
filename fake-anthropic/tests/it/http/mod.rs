//! The Messages API surface, over real HTTP: `turns` (what each request is answered with), `errors` (scripted
//! and refused requests), `delays` (scripted latency and shutdown), `record` (the record file).

mod delays;
mod errors;
mod record;
mod turns;

use serde_json::{Value, json};

use crate::TestServer;

pub(crate) const TWO_SCENARIOS: &str = r#"{
  "default": "first",
  "scenarios": {
    "first": {"turns": [{"text": "first scenario"}]},
    "second": {
      "turns": [
        {"toolUse": {"id": "toolu_fixed", "name": "Read", "input": {"file_path": "/etc/hostname"}}},
        {"text": "the file said: {{tool_result}}"}
      ],
      "finalText": "second is over"
    },
    "limited": {"turns": [{"error": {"status": 429, "type": "rate_limit_error", "message": "slow down", "retryAfter": 7}}]},
    "slow": {"turns": [{"delayMs": 300, "text": "late", "usage": {"inputTokens": 11, "outputTokens": 22}}]}
  }
}"#;

/// A conversation request as the CLI sends it: tool definitions, a large `max_tokens`, the messages.
pub(crate) fn conversation(messages: Value, stream: bool) -> Value {
    json!({
        "model": "claude-test-1",
        "max_tokens": 32000,
        "stream": stream,
        "system": [{"type": "text", "text": "You are a test."}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": messages,
    })
}

pub(crate) fn prompt(text: &str) -> Value {
    json!([{"role": "user", "content": [{"type": "text", "text": text}]}])
}

/// `prompt`, then `turns` exchanges of an assistant tool call and its result (`output`).
pub(crate) fn after_tool_calls(text: &str, turns: usize, output: &str) -> Value {
    let mut messages = vec![json!({"role": "user", "content": text})];
    for n in 0..turns {
        let id = format!("toolu_{n}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": id, "name": "Bash", "input": {"command": "true"}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": output}]}]}));
    }
    Value::Array(messages)
}

pub(crate) async fn post(server: &TestServer, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request reaches the server")
}

pub(crate) async fn post_json(server: &TestServer, body: &Value) -> (u16, Value) {
    let response = post(server, "/v1/messages", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The `(event, data)` pairs of an SSE body, checking every event has exactly those two lines.
pub(crate) fn parse_sse(body: &str) -> Vec<(String, Value)> {
    assert!(
        body.ends_with("\n\n"),
        "SSE body ends with a blank line: {body:?}"
    );
    body.trim_end()
        .split("\n\n")
        .map(|event| {
            let lines: Vec<&str> = event.lines().collect();
            assert_eq!(lines.len(), 2, "one event: line and one data: line in {event:?}");
            let name = lines[0].strip_prefix("event: ").expect("event: line first");
            let data = lines[1].strip_prefix("data: ").expect("data: line second");
            let data: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(data["type"], name, "data.type repeats the event name");
            (name.to_owned(), data)
        })
        .collect()
}

/// The assistant message a client assembles from the stream, as the SDK would.
pub(crate) fn assemble(events: &[(String, Value)]) -> Value {
    let mut message = events[0].1["message"].clone();
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json: Vec<String> = Vec::new();
    for (name, data) in events {
        match name.as_str() {
            "content_block_start" => {
                blocks.push(data["content_block"].clone());
                partial_json.push(String::new());
            }
            "content_block_delta" => {
                let index = block_index(data);
                let delta = &data["delta"];
                match text(&delta["type"]) {
                    "text_delta" => {
                        let joined = format!("{}{}", text(&blocks[index]["text"]), text(&delta["text"]));
                        blocks[index]["text"] = json!(joined);
                    }
                    "input_json_delta" => partial_json[index].push_str(text(&delta["partial_json"])),
                    other => panic!("unexpected delta type {other}"),
                }
            }
            "content_block_stop" => {
                let index = block_index(data);
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] =
                        serde_json::from_str(&partial_json[index]).expect("tool input is JSON");
                }
            }
            "message_delta" => {
                message["stop_reason"] = data["delta"]["stop_reason"].clone();
                message["usage"]["output_tokens"] = data["usage"]["output_tokens"].clone();
            }
            _ => {}
        }
    }
    message["content"] = Value::Array(blocks);
    message
}

pub(crate) fn block_index(data: &Value) -> usize {
    let index = data["index"]
        .as_u64()
        .expect("events of a content block carry its index");
    usize::try_from(index).expect("small index")
}

pub(crate) fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}
