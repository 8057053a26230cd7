//! Rendering an assistant message the way the Messages API sends it: one JSON `Message`, or the SSE event
//! sequence `message_start`, `ping`, per block `content_block_start` / `content_block_delta`… /
//! `content_block_stop`, then `message_delta` (stop reason, usage) and `message_stop`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::scenario::{ToolUse, UsageOverride};

/// Roughly how many bytes of English or JSON make one token; close enough for a plausible bill.
const BYTES_PER_TOKEN: usize = 4;

/// Deltas are cut at about this many bytes, so clients exercise their stream assembly like on the real API.
const DELTA_BYTES: usize = 24;

/// Hands out message and tool-use ids, unique for the life of the server (the CLI matches tool results to
/// tool calls, and assistant message fragments to each other, by id).
#[derive(Debug, Default)]
pub struct Ids(AtomicU64);

impl Ids {
    fn next(&self, prefix: &str) -> String {
        format!("{prefix}_fake_{:08}", self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// Token count the API would plausibly charge for `bytes` bytes of content.
pub fn estimate_tokens(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(BYTES_PER_TOKEN).max(1)).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssistantMessage {
    id: String,
    model: String,
    text: Option<String>,
    tool_use: Option<ToolCall>,
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct ToolCall {
    id: String,
    name: String,
    input: Value,
}

impl AssistantMessage {
    /// `request_bytes` is the size of the request body, from which the input tokens are estimated.
    pub fn new(
        ids: &Ids,
        model: &str,
        text: Option<String>,
        tool_use: Option<ToolUse>,
        usage: UsageOverride,
        request_bytes: usize,
    ) -> Self {
        // An empty text block is refused by the API when it is sent back, so it is never produced.
        let text = text.filter(|text| !text.is_empty());
        let tool_use = tool_use.map(|tool| ToolCall {
            id: tool.id.unwrap_or_else(|| ids.next("toolu")),
            name: tool.name,
            input: tool.input,
        });
        let output_bytes = text.as_ref().map_or(0, String::len)
            + tool_use
                .as_ref()
                .map_or(0, |tool| tool.name.len() + tool.input.to_string().len());
        Self {
            id: ids.next("msg"),
            model: model.to_owned(),
            input_tokens: usage
                .input_tokens
                .unwrap_or_else(|| estimate_tokens(request_bytes)),
            output_tokens: usage
                .output_tokens
                .unwrap_or_else(|| estimate_tokens(output_bytes)),
            text,
            tool_use,
        }
    }

    fn stop_reason(&self) -> &'static str {
        if self.tool_use.is_some() {
            "tool_use"
        } else {
            "end_turn"
        }
    }

    fn content(&self) -> Vec<Value> {
        let text = self.text.iter().map(|text| json!({"type": "text", "text": text}));
        let tool = self
            .tool_use
            .iter()
            .map(|tool| json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool.input}));
        text.chain(tool).collect()
    }

    fn usage(&self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        })
    }

    /// The non-streaming answer: a complete `Message`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content(),
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": self.usage(self.output_tokens),
        })
    }

    /// The streaming answer: each item is one complete SSE event (`event:` and `data:` lines, blank line).
    pub fn to_sse(&self) -> Vec<Bytes> {
        let mut events = vec![
            sse(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": self.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    // Like the real API: the input is known up front, the output is counted at the end.
                    "usage": self.usage(1),
                }}),
            ),
            sse("ping", &json!({"type": "ping"})),
        ];
        let mut index = 0;
        if let Some(text) = &self.text {
            let start = json!({"type": "text", "text": ""});
            let deltas = chunks(text).map(|piece| json!({"type": "text_delta", "text": piece}));
            push_block(&mut events, index, start, deltas);
            index += 1;
        }
        if let Some(tool) = &self.tool_use {
            let start = json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}});
            let input = tool.input.to_string();
            // The real API opens a tool input with an empty fragment; clients must cope with it.
            let deltas = std::iter::once("")
                .chain(chunks(&input))
                .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}));
            push_block(&mut events, index, start, deltas);
        }
        events.push(sse(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens},
            }),
        ));
        events.push(sse("message_stop", &json!({"type": "message_stop"})));
        events
    }
}

fn push_block(events: &mut Vec<Bytes>, index: usize, start: Value, deltas: impl Iterator<Item = Value>) {
    events.push(sse(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": start}),
    ));
    for delta in deltas {
        events.push(sse(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
    }
    events.push(sse(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
}

/// One SSE event. `data` is compact JSON, which never contains a newline, so one `data:` line suffices.
pub fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// Cuts `text` into pieces of about `DELTA_BYTES`, on character boundaries.
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = DELTA_BYTES.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn message(text: Option<&str>, tool_use: Option<ToolUse>) -> AssistantMessage {
        AssistantMessage::new(
            &Ids::default(),
            "claude-test",
            text.map(str::to_owned),
            tool_use,
            UsageOverride::default(),
            400,
        )
    }

    #[test]
    fn chunks_respect_character_boundaries() {
        let text = "ééééééééééééééééééééé"; // 2 bytes each: cuts must not split one
        let pieces: Vec<_> = chunks(text).collect();
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|piece| piece.len() <= DELTA_BYTES + 1));
        assert_eq!(chunks("").count(), 0);
    }

    #[test]
    fn streams_text_then_tool_use_in_the_api_event_order() {
        let tool = ToolUse {
            id: None,
            name: "Bash".to_owned(),
            input: json!({"command": "echo hi"}),
        };
        let events = message(Some("Running it."), Some(tool)).to_sse();
        let text: String = events
            .iter()
            .map(|event| String::from_utf8_lossy(event).into_owned())
            .collect();
        expect![[r#"
            event: message_start
            data: {"message":{"content":[],"id":"msg_fake_00000002","model":"claude-test","role":"assistant","stop_reason":null,"stop_sequence":null,"type":"message","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":100,"output_tokens":1,"service_tier":"standard"}},"type":"message_start"}

            event: ping
            data: {"type":"ping"}

            event: content_block_start
            data: {"content_block":{"text":"","type":"text"},"index":0,"type":"content_block_start"}

            event: content_block_delta
            data: {"delta":{"text":"Running it.","type":"text_delta"},"index":0,"type":"content_block_delta"}

            event: content_block_stop
            data: {"index":0,"type":"content_block_stop"}

            event: content_block_start
            data: {"content_block":{"id":"toolu_fake_00000001","input":{},"name":"Bash","type":"tool_use"},"index":1,"type":"content_block_start"}

            event: content_block_delta
            data: {"delta":{"partial_json":"","type":"input_json_delta"},"index":1,"type":"content_block_delta"}

            event: content_block_delta
            data: {"delta":{"partial_json":"{\"command\":\"echo hi\"}","type":"input_json_delta"},"index":1,"type":"content_block_delta"}

            event: content_block_stop
            data: {"index":1,"type":"content_block_stop"}

            event: message_delta
            data: {"delta":{"stop_reason":"tool_use","stop_sequence":null},"type":"message_delta","usage":{"output_tokens":9}}

            event: message_stop
            data: {"type":"message_stop"}

        "#]]
        .assert_eq(&text);
    }

    #[test]
    fn json_message_has_usage_and_stop_reason() {
        let value = message(Some("hi"), None).to_json();
        expect![[r#"{"content":[{"text":"hi","type":"text"}],"id":"msg_fake_00000001","model":"claude-test","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":100,"output_tokens":1,"service_tier":"standard"}}"#]]
            .assert_eq(&value.to_string());
    }
}
