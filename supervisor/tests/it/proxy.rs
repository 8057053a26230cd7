//! Credential-proxy mode: the supervisor holds the API key, the agent only reaches the API through a
//! loopback proxy and never has the key in its environment.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);
const KEY: &str = "sk-ant-supervisor-held-key-424242";

/// One Bash call that shows what the agent can see of the key, then a final answer.
fn scenario() -> Value {
    json!({
        "default": "probe",
        "scenarios": {"probe": {"turns": [
            {"text": "Checking my environment.", "toolUse": {"name": "Bash", "input": {
                "command": "echo \"key=$ANTHROPIC_API_KEY\"; echo \"base=$ANTHROPIC_BASE_URL\"; tr '\\0' '\\n' < /proc/self/environ | grep -c 'supervisor-held' || true",
                "description": "Show the API settings"}}},
            {"text": "Done: {{tool_result}}"}
        ]}}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_reaches_the_api_through_the_proxy_and_never_holds_the_key() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios.json");
    std::fs::write(&scenarios, scenario().to_string()).unwrap();
    let record = dir.path().join("requests.jsonl");
    let config = fake_anthropic::Config {
        scenarios: fake_anthropic::Scenarios::load(&scenarios).unwrap(),
        record: Some(record.clone()),
    };
    let server = fake_anthropic::Server::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let api = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));

    let runner_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent-runner");
    let sup = Options::default()
        .runner(&format!("node {}", runner_dir.join("run.mjs").display()))
        .arg("--anthropic-upstream")
        .arg(&format!("http://{api}"))
        .arg("--agent-env")
        .arg("CLAUDE_CODE_MAX_RETRIES=0")
        .arg("--agent-env")
        .arg("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
        .env("ANTHROPIC_API_KEY", KEY)
        .start();
    let body = json!({"agentId": "proxy-test", "sessionId": "s-proxy", "prompt": "What can you see?",
                      "env": {"ANTHROPIC_API_KEY": "sk-request-key-must-not-win"}});
    assert_eq!(sup.post("/execute", &body).await.0, 202);
    let session = sup.wait_finished("s-proxy", WAIT).await;
    let events = sup.events("s-proxy").await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");

    // The API got the supervisor's key on every request.
    let requests: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request["headers"]["x-api-key"], KEY, "{request}");
    }
    // The agent saw a placeholder and a loopback URL, and the key is not in its /proc/self/environ.
    let tool_result = events
        .iter()
        .find(|e| e["type"] == "user")
        .expect("a tool result")
        .to_string();
    assert!(
        tool_result.contains("key=sk-ant-held-by-the-agent-supervisor"),
        "{tool_result}"
    );
    assert!(tool_result.contains("base=http://127.0.0.1:"), "{tool_result}");
    assert!(
        tool_result.contains("\\n0"),
        "the key is in the agent's environment: {tool_result}"
    );
    // And it is nowhere in what the supervisor wrote.
    let log = std::fs::read_to_string(sup.state_dir().join("sessions/s-proxy.log")).unwrap();
    assert!(!log.contains(KEY));
    assert!(!sup.stderr().contains(KEY));
}
