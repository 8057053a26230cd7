//! What a request is answered with: the scenario's turn for the conversation so far, streamed or not.

use expect_test::expect;
use serde_json::{Value, json};

use super::*;
use crate::TestServer;

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
