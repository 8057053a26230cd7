//! No API answer, log line, metric or database column holds an agent's secret in clear (DESIGN §9): a
//! real `agentctl serve` with debug logging, every agent route driven, then its stderr and every table read.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection;

use crate::agents::{SECRET, definition};
use crate::helpers::{KEY, SECRETS_KEY, TOKEN, TestDb, terminate};
use crate::on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

async fn no_answer_log_line_metric_or_column_holds_a_secret(db: TestDb) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
        .env("INTERNAL_API_KEY", KEY)
        .env("AGENTCTL_API_TOKENS", TOKEN)
        .env("AGENTCTL_SECRETS_KEY", SECRETS_KEY)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
    let lines = tokio::task::spawn_blocking(move || {
        let mut addr_tx = Some(addr_tx);
        let mut all = Vec::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.expect("a line");
            if let Some(rest) = line.split("addr=").nth(1)
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(rest.split_whitespace().next().expect("an address").to_owned());
            }
            all.push(line);
        }
        all
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
        .await
        .expect("serve listens within 30 s")
        .expect("an address");
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");
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
    terminate(child).await;
    let lines = lines.await.expect("stderr lines");
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

/// Every row of every table as text (PostgreSQL), or the database files' bytes (SQLite: every page and the
/// write-ahead log, so nothing in any column or freed page escapes the scan).
async fn database_text(db: &TestDb) -> String {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut text = String::new();
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        text.push_str(&rows.join("\n"));
    }
    conn.close().await.expect("close");
    text
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
