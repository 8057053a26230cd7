//! The Messages API surface, over real HTTP.

use std::time::{Duration, Instant};

use expect_test::expect;
use serde_json::{Value, json};

use crate::TestServer;

const TWO_SCENARIOS: &str = r#"{
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
fn conversation(messages: Value, stream: bool) -> Value {
    json!({
        "model": "claude-test-1",
        "max_tokens": 32000,
        "stream": stream,
        "system": [{"type": "text", "text": "You are a test."}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": messages,
    })
}

fn prompt(text: &str) -> Value {
    json!([{"role": "user", "content": [{"type": "text", "text": text}]}])
}

/// `prompt`, then `turns` exchanges of an assistant tool call and its result (`output`).
fn after_tool_calls(text: &str, turns: usize, output: &str) -> Value {
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

async fn post(server: &TestServer, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request reaches the server")
}

async fn post_json(server: &TestServer, body: &Value) -> (u16, Value) {
    let response = post(server, "/v1/messages", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The `(event, data)` pairs of an SSE body, checking every event has exactly those two lines.
fn parse_sse(body: &str) -> Vec<(String, Value)> {
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
fn assemble(events: &[(String, Value)]) -> Value {
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

fn block_index(data: &Value) -> usize {
    let index = data["index"]
        .as_u64()
        .expect("events of a content block carry its index");
    usize::try_from(index).expect("small index")
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

#[tokio::test]
async fn streams_the_api_event_sequence_for_a_tool_call() {
    let server = TestServer::start(None).await;
    let response = post(&server, "/v1/messages", &conversation(prompt("hi"), true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = parse_sse(&response.text().await.unwrap());

    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    // Deltas come in several pieces; collapse runs to keep the snapshot about the order of things.
    let mut collapsed: Vec<&str> = names.clone();
    collapsed.dedup();
    expect![[r#"
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    "#]]
    .assert_debug_eq(&collapsed);
    assert!(
        names
            .iter()
            .filter(|name| **name == "content_block_delta")
            .count()
            > 2,
        "{names:?}"
    );

    let message = assemble(&events);
    assert_eq!(message["model"], "claude-test-1", "the request's model is echoed");
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["content"][0]["type"], "text");
    let tool = &message["content"][1];
    assert_eq!(tool["type"], "tool_use");
    assert_eq!(tool["name"], "Bash");
    assert_eq!(tool["input"]["command"], "echo hello from bash && uname -s");
    assert!(tool["id"].as_str().unwrap().starts_with("toolu_"));
    assert!(message["usage"]["input_tokens"].as_u64().unwrap() > 10);
    assert!(message["usage"]["output_tokens"].as_u64().unwrap() > 1);
}

#[tokio::test]
async fn answers_a_plain_json_message_when_not_streaming() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    let (status, mut message) = post_json(&server, &conversation(prompt("hi"), false)).await;
    assert_eq!(status, 200);
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    message["id"] = json!("msg_X");
    expect![[r#"{"content":[{"text":"first scenario","type":"text"}],"id":"msg_X","model":"claude-test-1","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":{"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"input_tokens":60,"output_tokens":4,"service_tier":"standard"}}"#]]
        .assert_eq(&message.to_string());
}

#[tokio::test]
async fn picks_the_turn_from_the_number_of_assistant_messages() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    let marker = "please run scenario:second";

    let (_, first) = post_json(&server, &conversation(after_tool_calls(marker, 0, ""), false)).await;
    assert_eq!(first["content"][0]["id"], "toolu_fixed");
    assert_eq!(
        first["content"][0]["input"],
        json!({"file_path": "/etc/hostname"})
    );

    let (_, second) = post_json(
        &server,
        &conversation(after_tool_calls(marker, 1, "box-7"), false),
    )
    .await;
    assert_eq!(
        second["content"][0]["text"], "the file said: box-7",
        "{{tool_result}} is filled in"
    );

    let (_, past_the_end) = post_json(&server, &conversation(after_tool_calls(marker, 5, "x"), false)).await;
    assert_eq!(past_the_end["content"][0]["text"], "second is over");

    // Asking again for an earlier turn gives the same answer: nothing is remembered between requests.
    let (_, again) = post_json(
        &server,
        &conversation(after_tool_calls(marker, 1, "box-7"), false),
    )
    .await;
    assert_eq!(again["content"], second["content"]);

    let turns: Vec<Value> = server
        .recorded()
        .iter()
        .map(|line| line["fake"]["turn"].clone())
        .collect();
    assert_eq!(turns, [json!(0), json!(1), json!(5), json!(1)]);
}

#[tokio::test]
async fn concurrent_sessions_each_get_their_own_turn() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    let requests = (0..24).map(|n| {
        let (marker, turns) = if n % 2 == 0 {
            ("scenario:second", n % 3)
        } else {
            ("plain", 0)
        };
        let body = conversation(after_tool_calls(marker, turns, &format!("out-{n}")), n % 4 == 0);
        let server = &server;
        async move {
            let response = post(server, "/v1/messages", &body).await;
            let message = if body["stream"] == true {
                assemble(&parse_sse(&response.text().await.unwrap()))
            } else {
                response.json::<Value>().await.unwrap()
            };
            (n, turns, marker, message)
        }
    });
    for (n, turns, marker, message) in futures_util::future::join_all(requests).await {
        let content = &message["content"][0];
        match (marker, turns) {
            ("plain", _) => assert_eq!(content["text"], "first scenario"),
            (_, 0) => assert_eq!(content["name"], "Read"),
            (_, 1) => assert_eq!(content["text"], format!("the file said: out-{n}")),
            _ => assert_eq!(content["text"], "second is over"),
        }
    }
}

#[tokio::test]
async fn error_turns_answer_with_their_status_and_retry_after() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    for stream in [false, true] {
        let response = post(
            &server,
            "/v1/messages",
            &conversation(prompt("scenario:limited"), stream),
        )
        .await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        let body: Value = response.json().await.unwrap();
        expect![[r#"{"error":{"message":"slow down","type":"rate_limit_error"},"type":"error"}"#]]
            .assert_eq(&body.to_string());
    }
}

#[tokio::test]
async fn builtin_error_scenarios_cover_auth_and_overload() {
    let server = TestServer::start(None).await;
    for (name, status, kind) in [
        ("unauthorized", 401, "authentication_error"),
        ("rate_limited", 429, "rate_limit_error"),
        ("overloaded", 529, "overloaded_error"),
    ] {
        let (got, body) = post_json(&server, &conversation(prompt(&format!("scenario:{name}")), true)).await;
        assert_eq!(
            (got, body["error"]["type"].as_str()),
            (status, Some(kind)),
            "scenario {name}"
        );
    }
}

#[tokio::test]
async fn delayed_turns_wait_before_answering() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    let started = Instant::now();
    let (status, message) = post_json(&server, &conversation(prompt("scenario:slow"), false)).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(message["content"][0]["text"], "late");
    assert_eq!(
        message["usage"]["input_tokens"], 11,
        "scripted usage replaces the estimate"
    );
    assert_eq!(message["usage"]["output_tokens"], 22);
}

#[tokio::test]
async fn shutdown_cuts_a_scripted_delay_short() {
    let server = TestServer::start(Some(r#"{"turns": [{"delayMs": 600000, "text": "never"}]}"#)).await;
    let url = server.url("/v1/messages");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&conversation(prompt("hi"), false))
            .send()
            .await
    });
    // Shutdown must not wait for the ten-minute delay; the delayed request gets a 503 instead.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("server stops promptly");
    let response = pending.await.unwrap().expect("the delayed request is answered");
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn auxiliary_calls_get_a_short_answer_and_use_no_turn() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    // What the CLI's side calls look like: no tools (title, summary), or `max_tokens: 1` (model check).
    let no_tools = json!({"model": "claude-haiku", "max_tokens": 512, "messages": prompt("scenario:second")});
    let tiny =
        json!({"model": "claude-haiku", "max_tokens": 1, "tools": [{"name": "x"}], "messages": prompt("Hi")});
    for body in [&no_tools, &tiny] {
        let (status, message) = post_json(&server, body).await;
        assert_eq!(status, 200);
        assert_eq!(message["content"][0]["text"], "OK");
        assert_eq!(message["model"], "claude-haiku");
    }
    // Even a scenario that does not exist does not break a side call.
    let unknown = json!({"model": "m", "max_tokens": 512, "messages": prompt("scenario:nope")});
    assert_eq!(post_json(&server, &unknown).await.0, 200);

    let (_, message) = post_json(&server, &conversation(prompt("scenario:second"), false)).await;
    assert_eq!(
        message["content"][0]["name"], "Read",
        "the conversation still starts at turn 0"
    );
    let auxiliary: Vec<Value> = server
        .recorded()
        .iter()
        .map(|line| line["fake"]["auxiliary"].clone())
        .collect();
    assert_eq!(auxiliary, [json!(true), json!(true), json!(true), json!(false)]);
}

#[tokio::test]
async fn count_tokens_estimates_the_input() {
    let server = TestServer::start(None).await;
    let response = post(
        &server,
        "/v1/messages/count_tokens",
        &conversation(prompt("hello"), false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["input_tokens"].as_u64().unwrap() > 10, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "only input_tokens: {body}");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_an_anthropic_404() {
    let server = TestServer::start(None).await;
    let client = reqwest::Client::new();
    for request in [
        client.get(server.url("/v1/models")),
        client.get(server.url("/v1/messages")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "not_found_error");
    }
    // The CLI's connection warm-up is answered, not refused.
    assert_eq!(
        client
            .head(server.url("/api/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn bad_requests_get_invalid_request_error() {
    let server = TestServer::start(None).await;
    let client = reqwest::Client::new();
    let cases: [(&str, &[u8]); 4] = [
        ("/v1/messages", b"{not json"),
        ("/v1/messages", br#"{"model": "m", "max_tokens": 5}"#),
        ("/v1/messages", br#"{"model": "m", "messages": "hi"}"#),
        ("/v1/messages/count_tokens", br#"{"messages": []}"#),
    ];
    let mut messages = Vec::new();
    for (path, body) in cases {
        let response = client
            .post(server.url(path))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (&body["type"], &body["error"]["type"]),
            (&json!("error"), &json!("invalid_request_error"))
        );
        messages.push(body["error"]["message"].as_str().unwrap().to_owned());
    }
    expect![[r#"
        [
            "the request body is not valid JSON: key must be a string at line 1 column 2",
            "missing field `messages` at line 1 column 31",
            "messages: invalid type: string \"hi\", expected a sequence at line 1 column 31",
            "missing field `model` at line 1 column 16",
        ]
    "#]]
    .assert_debug_eq(&messages);

    let (status, body) = post_json(&server, &conversation(prompt("scenario:nope"), false)).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown scenario `nope`"),
        "{body}"
    );
}

#[tokio::test]
async fn records_every_request_as_one_json_line() {
    let server = TestServer::start(None).await;
    let body = conversation(prompt("record me"), true);
    let response = reqwest::Client::new()
        .post(server.url("/v1/messages?beta=true"))
        .header("x-api-key", "sk-recorded")
        .header("authorization", "Bearer tok")
        .header("anthropic-version", "2023-06-01")
        .header("x-unrelated", "not recorded")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap();
    reqwest::get(server.url("/nowhere")).await.unwrap();

    let mut lines = server.recorded();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["body"], body);
    lines[0]["body"] = json!("<the request body>");
    lines[0]["headers"].as_object_mut().unwrap().remove("user-agent");
    lines[1]["headers"].as_object_mut().unwrap().remove("user-agent");
    expect![[r#"
        [
            Object {
                "body": String("<the request body>"),
                "fake": Object {
                    "auxiliary": Bool(false),
                    "reply": Object {
                        "toolUse": String("Bash"),
                    },
                    "scenario": String("bash"),
                    "turn": Number(0),
                },
                "headers": Object {
                    "anthropic-version": String("2023-06-01"),
                    "authorization": String("Bearer tok"),
                    "content-type": String("application/json"),
                    "x-api-key": String("sk-recorded"),
                },
                "method": String("POST"),
                "path": String("/v1/messages"),
                "query": String("beta=true"),
            },
            Object {
                "body": Null,
                "fake": Object {
                    "error": Number(404),
                },
                "headers": Object {},
                "method": String("GET"),
                "path": String("/nowhere"),
                "query": Null,
            },
        ]
    "#]]
    .assert_debug_eq(&lines);
}
