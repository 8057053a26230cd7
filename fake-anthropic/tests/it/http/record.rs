//! The record file: one JSON line per request, with what the fake decided.

use expect_test::expect;
use serde_json::json;

use super::*;
use crate::TestServer;

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
