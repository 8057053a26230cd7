//! Credential-proxy mode: the supervisor holds the API key, the agent only reaches the API through a
//! loopback proxy and never has the key in its environment.

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
    let model = FakeModel::scenarios(&scenario()).await;
    // No ANTHROPIC_BASE_URL for the agents: the supervisor points them at its proxy.
    let sup = Options::default()
        .real_sdk()
        .arg("--anthropic-upstream")
        .arg(&model.url())
        .env("ANTHROPIC_API_KEY", KEY)
        .start();
    let body = json!({"agentId": "proxy-test", "sessionId": "s-proxy", "prompt": "What can you see?",
                      "env": {"ANTHROPIC_API_KEY": "sk-request-key-must-not-win"}});
    assert_eq!(sup.post("/execute", &body).await.0, 202);
    let session = sup.wait_finished("s-proxy", WAIT).await;
    let events = sup.events("s-proxy").await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");

    // The API got the supervisor's key on every request.
    let requests = model.requests();
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
