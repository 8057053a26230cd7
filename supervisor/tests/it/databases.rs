//! Database connections through the real SDK (issue 15 part 2): `fake-anthropic` scripts calls of a job
//! database's MCP tools (`mcp__<name>__…`, served by agent-runner/databases.mjs) against a real throwaway
//! PostgreSQL database; a read-only connection refuses a write, a writable one takes it; a database that
//! refuses the connection is a clear tool error in a session that goes on, and its URL and password show in
//! no event, log line or answer of the supervisor or of `agentctl serve`. Skipped without DATABASE_URL.

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

use crate::agents_e2e::{Backend, Serve, blocks, contains, files_below, unique};
use crate::faults::fixtures::{PgDb, admin_url, psql};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "crm-reader-pw-5e2d";

/// A database with two tables and a role that logs in with [`PASSWORD`]; its URL for that role.
fn crm(admin: &str) -> (PgDb, String, String) {
    let db = PgDb::create(admin);
    let role = format!("r_{}", unique().replace('-', "_"));
    psql(admin, &format!("CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"));
    psql(
        &db.url,
        &format!(
            "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL); \
             CREATE TABLE invoices (id int PRIMARY KEY, customer int REFERENCES customers); \
             GRANT ALL ON customers, invoices TO {role}"
        ),
    );
    let (scheme_host, database) = db.url.rsplit_once('/').unwrap();
    let host = scheme_host.rsplit_once('@').map_or(scheme_host, |(_, h)| h);
    let host = host
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://");
    let url = format!("postgres://{role}:{PASSWORD}@{host}/{database}");
    (db, role, url)
}

fn drop_role(admin: &str, role: &str) {
    let _ = std::process::Command::new("psql")
        .args([admin, "-qc", &format!("DROP ROLE IF EXISTS {role}")])
        .output();
}

/// The text of every tool result in the events, in order.
fn tool_results(events: &[Value]) -> Vec<String> {
    blocks(events, "user")
        .into_iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| b["content"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_lists_the_tables_of_its_database_and_a_read_only_one_refuses_a_write() {
    let Some(admin) = admin_url() else { return };
    let (db, role, url) = crm(&admin);
    let insert = "INSERT INTO customers VALUES (1, 'Ada')";
    let model = FakeModel::scenarios(&json!({"turns": [
        {"text": "Listing.", "toolUse": {"name": "mcp__crm__list_tables", "input": {}}},
        {"text": "Writing.", "toolUse": {"name": "mcp__crm__query", "input": {"sql": insert}}},
        {"text": "Writing again.", "toolUse": {"name": "mcp__crm_rw__query", "input": {"sql": insert}}},
        {"text": "Reading.", "toolUse": {"name": "mcp__crm__query", "input": {"sql": "SELECT name FROM customers"}}},
        // Were the URL ever printed (here the script knows it), the events would have it redacted.
        {"text": "Echoing.", "toolUse": {"name": "Bash", "input": {
            "command": format!("echo 'url={url}'; echo 'pw={PASSWORD}'"), "description": "Print the URL"}}},
        {"text": "Read: {{tool_result}}"}
    ]}))
    .await;
    let sup = Options::default()
        .real_sdk()
        .model(&model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start();
    let body = json!({"agentId": "db-test", "sessionId": "s-db", "prompt": "Look at the CRM",
        "options": {"model": "claude-sonnet-4-5", "permissionMode": "default", "allowedTools": ["Bash"]},
        "databases": [{"name": "crm", "url": url}, {"name": "crm_rw", "url": url, "readOnly": false}]});
    let (status, answer) = sup.post("/execute", &body).await;
    assert_eq!(status, 202, "{answer}");
    let session = sup.wait_finished("s-db", WAIT).await;
    let events = sup.events("s-db").await;
    assert_eq!(
        session["status"],
        "succeeded",
        "{session}\n{events:#?}\n{}",
        sup.stderr()
    );

    let results = tool_results(&events);
    assert_eq!(results.len(), 5, "{results:#?}");
    // The tool result in the session's events, and in what the model was sent next, holds both tables.
    for table in ["customers", "invoices"] {
        assert!(results[0].contains(table), "{table}: {}", results[0]);
    }
    let requests = model.requests();
    let after_listing = requests
        .iter()
        .find(|r| r["body"]["messages"].to_string().contains("invoices"))
        .expect("the model got the listing");
    assert!(
        after_listing["body"]["messages"]
            .to_string()
            .contains("customers")
    );
    // The permission mode and allowedTools did not block the tools: none asked, none was denied.
    assert!(!results.iter().any(|r| r.contains("permission")), "{results:#?}");
    assert!(
        results[1].contains("cannot execute INSERT in a read-only transaction"),
        "{}",
        results[1]
    );
    assert!(results[2].contains("\\\"rowCount\\\": 1"), "{}", results[2]);
    assert!(results[3].contains("Ada"), "{}", results[3]);
    println!("read-only write refused: {}", results[1]);
    assert!(
        results[4].contains("url=[redacted:databases.crm]")
            && results[4].contains("pw=[redacted:databases.crm]"),
        "{}",
        results[4]
    );
    assert!(
        requests
            .iter()
            .any(|r| r["body"]["messages"].to_string().contains(PASSWORD)),
        "the shell printed it in clear to the model: the redaction had something to do"
    );
    for event in &events {
        assert!(!event.to_string().contains(PASSWORD), "in an event: {event}");
    }
    assert!(!sup.stderr().contains(PASSWORD), "in the supervisor's log");
    drop(sup);
    drop(db);
    drop_role(&admin, &role);
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_refuses_the_connection_is_a_clear_tool_error_and_its_url_shows_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite;
    let serve = Serve::start(dir.path(), &backend).await;
    let password = format!("down-pw-{}", unique());
    let url = format!("postgresql://reader:{password}@127.0.0.1:{}/crm", closed_port());
    let model = FakeModel::scenarios(&json!({"turns": [
        {"text": "Listing.", "toolUse": {"name": "mcp__down__list_tables", "input": {}}},
        {"text": "The tool said: {{tool_result}}"}
    ]}))
    .await;
    let sup = Options::default()
        .real_sdk()
        .model(&model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .runtime_id("rt-db")
        .arg("--control-plane-url")
        .arg(&serve.url)
        .env("INTERNAL_API_KEY", CP_KEY)
        .env("RUST_LOG", "debug")
        .start();
    let definition = json!({"maxTurns": 4, "databases": [{"name": "down", "url": url}]});
    let put = serve
        .call(reqwest::Method::PUT, "/api/v1/agents/db-down", Some(&definition))
        .await;
    assert!(put.contains("\"set\":true"), "{put}");
    let queued = serve
        .call(
            reqwest::Method::POST,
            "/api/v1/agents/db-down/sessions",
            Some(&json!({"prompt": "list the tables", "sessionId": "s-down"})),
        )
        .await;
    let mut session = Value::Null;
    let finished = eventually(WAIT, async || {
        session = serve.get("/api/v1/sessions/s-down").await;
        !["queued", "pending", "running"].contains(&session["status"].as_str().unwrap_or("queued"))
    })
    .await;
    assert!(finished, "not finished: {session}\n{}", sup.stderr());
    // The session goes on past the failed call, to its end.
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    let mut events = Vec::new();
    let complete = eventually(WAIT, async || {
        events = serve.events("s-down").await;
        events.iter().any(|e| e["type"] == "session.finished")
    })
    .await;
    assert!(complete, "no session.finished stored: {events:#?}");
    let results = tool_results(&events);
    assert_eq!(results.len(), 1, "{results:#?}");
    assert!(
        results[0].contains("database down: cannot connect (ECONNREFUSED"),
        "{}",
        results[0]
    );
    let error_block = blocks(&events, "user")
        .into_iter()
        .find(|b| b["type"] == "tool_result")
        .unwrap();
    assert_eq!(error_block["is_error"], true, "{error_block}");
    println!("refused connection: {}", results[0]);

    // Nowhere: events, answers of both servers, logs, files of both sides.
    for secret in [url.as_str(), password.as_str()] {
        for event in &events {
            assert!(!event.to_string().contains(secret), "in a stored event: {event}");
        }
        let mut answers = vec![put.clone(), queued.clone()];
        for path in [
            "/api/v1/agents/db-down",
            "/api/v1/agents",
            "/api/v1/agents/db-down/versions",
            "/api/v1/sessions/s-down",
            "/api/v1/sessions",
            "/api/v1/conversations/s-down",
            "/metrics",
        ] {
            answers.push(serve.call(reqwest::Method::GET, path, None).await);
        }
        for (_, answer) in [sup.get("/sessions/s-down").await, sup.get("/sessions").await] {
            answers.push(answer.to_string());
        }
        for answer in &answers {
            assert!(!answer.contains(secret), "in an answer: {answer}");
        }
        assert!(!sup.stderr().contains(secret), "in the supervisor's log");
        assert!(!serve.log_text().contains(secret), "in agentctl's log");
        for (path, bytes) in files_below(&sup.state_dir()) {
            assert!(!contains(&bytes, secret), "in {}", path.display());
        }
    }
    assert!(
        !sup.stderr().is_empty() && !serve.log_text().is_empty(),
        "no logs: the check proves nothing"
    );
    drop(sup);
    drop(serve);
}
