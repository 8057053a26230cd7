//! No API answer, log line, metric or database column holds an agent's secret in clear (DESIGN §9): a
//! real `agentctl serve` with debug logging, every agent route driven, then its stderr and every table read.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::agents::{SECRET, definition};
use crate::helpers::{KEY, SECRETS_KEY, TOKEN, TestDb};
use crate::logged_serve::{LoggedServe, database_text};
use crate::on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

async fn no_answer_log_line_metric_or_column_holds_a_secret(db: TestDb) {
    let serve = LoggedServe::spawn(&db).await;
    let http = reqwest::Client::new();
    let url = |p: &str| serve.url(p);
    let mut answers = Vec::new();
    let put = http
        .put(url("/api/v1/agents/support-bot"))
        .bearer_auth(TOKEN)
        .json(&definition())
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 201);
    answers.push(put.text().await.expect("text"));
    // A refused PUT whose secret would be in the message if errors echoed values.
    let mut bad = definition();
    bad["secrets"] = json!({"CRM_TOKEN": format!("{SECRET}\u{0}")});
    let refused = http
        .put(url("/api/v1/agents/support-bot"))
        .bearer_auth(TOKEN)
        .json(&bad)
        .send()
        .await
        .expect("put");
    assert_eq!(refused.status(), 400);
    answers.push(refused.text().await.expect("text"));
    for path in [
        "/api/v1/agents",
        "/api/v1/agents/support-bot",
        "/api/v1/agents/support-bot?version=1",
        "/api/v1/agents/support-bot/versions",
    ] {
        answers.push(
            http.get(url(path))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text"),
        );
    }
    let queued = http
        .post(url("/api/v1/agents/support-bot/sessions"))
        .bearer_auth(TOKEN)
        .json(&json!({"prompt": "hi", "sessionId": "s-1"}))
        .send()
        .await
        .expect("queue");
    answers.push(queued.text().await.expect("text"));
    // The claimed job is the one place a secret travels: to the runtime, as the agent's environment.
    let job: Value = http
        .post(url("/api/internal/v1/claim"))
        .bearer_auth(KEY)
        .json(&json!({"runtimeId": "rt-1", "labels": {"pool": "default"}, "free": 1}))
        .send()
        .await
        .expect("claim")
        .json()
        .await
        .expect("json");
    assert_eq!(job["jobs"][0]["env"]["CRM_TOKEN"], SECRET, "{job}");
    for path in ["/api/v1/sessions/s-1", "/api/v1/sessions", "/metrics"] {
        answers.push(
            http.get(url(path))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text"),
        );
    }
    for answer in &answers {
        assert!(!answer.contains(SECRET), "an answer holds the secret: {answer}");
    }
    let lines = serve.stop().await;
    assert!(lines.iter().any(|l| l.contains("agent created")), "{lines:#?}");
    for line in &lines {
        assert!(!line.contains(SECRET), "a log line holds the secret: {line}");
    }
    let stored = database_text(&db).await;
    assert!(stored.contains("support-bot"), "the scan reads the tables");
    assert!(
        !stored.contains(SECRET),
        "a database column holds the secret in clear"
    );
}

on_both_backends!(no_answer_log_line_metric_or_column_holds_a_secret);

#[test]
fn a_secrets_key_on_the_command_line_is_refused() {
    let output = Command::new(BIN)
        .args(["serve", "--secrets-key", SECRETS_KEY])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run agentctl");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("never taken from the command line"), "{stderr}");
    assert!(
        !stderr.contains(SECRETS_KEY),
        "the refusal does not echo the key: {stderr}"
    );
}
