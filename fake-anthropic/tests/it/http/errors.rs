//! Scripted error turns, and requests the fake refuses the way the API would.

use expect_test::expect;
use serde_json::{Value, json};

use super::*;
use crate::TestServer;

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
