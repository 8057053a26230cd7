//! An agent made in the browser: defined with the new-agent form, run from its page with a prompt, and its
//! session's transcript shows the model's answer (the real runner and SDK against `fake-anthropic`). The
//! JSON API holds the definition as typed.

use serde_json::json;

use crate::support::*;

use super::api_status;

const ANSWER: &str = "UI-ANSWER-7731: hello from the fake model";

#[tokio::test]
async fn an_agent_made_with_the_form_runs_from_its_page_and_its_transcript_shows_the_answer() {
    let model = FakeModel::scenarios(&json!({"default": "hello", "scenarios": {
        "hello": {"turns": [{"text": ANSWER}]}
    }}))
    .await;
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr)
        .runtime_id("rt-browser-agents")
        .real_sdk()
        .model(&model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start();

    let browser = Browser::open(&cp.url()).await;
    browser.sign_in("/agents").await;
    browser.click("a#new-agent").await;
    browser
        .wait_until("the new-agent form", async |b| b.path().await == "/agents/new")
        .await;
    browser.wait_for("form#agent-form").await;
    browser.fill("form#agent-form input[name=id]", "ui-agent").await;
    browser
        .fill("form#agent-form input[name=model]", "claude-sonnet-4-5")
        .await;
    browser
        .fill(
            "form#agent-form textarea[name=systemPrompt]",
            "You are tested in a browser.",
        )
        .await;
    browser.fill("form#agent-form input[name=maxTurns]", "4").await;
    browser
        .select("form#agent-form select[name=permissionMode]", "bypassPermissions")
        .await;
    browser.scroll_to("body").await;
    browser.screenshot("agent-new").await;
    browser.click("button#save").await;
    browser
        .wait_until("the agent's page after saving", async |b| {
            b.path().await == "/agents/ui-agent"
        })
        .await;
    let defined = cp.get("/api/v1/agents/ui-agent").await;
    let defined = defined.get("definition").unwrap_or(&defined);
    assert_eq!(defined["model"], "claude-sonnet-4-5", "{defined}");
    assert_eq!(
        defined["systemPrompt"], "You are tested in a browser.",
        "{defined}"
    );
    assert_eq!(defined["maxTurns"], 4, "{defined}");
    assert_eq!(defined["permissionMode"], "bypassPermissions", "{defined}");

    browser.wait_for("form#run").await;
    browser
        .fill("form#run textarea[name=prompt]", "Say hello to the browser.")
        .await;
    browser.scroll_to("body").await;
    browser.screenshot("agent-page").await;
    browser.click("form#run button[type=submit]").await;
    browser
        .wait_until("the new session's page", async |b| {
            b.path().await.starts_with("/sessions/")
        })
        .await;
    let path = browser.path().await;
    let session = path.trim_start_matches("/sessions/").to_owned();
    browser
        .wait_until("the model's answer in #transcript", async |b| {
            b.text("#transcript").await.is_some_and(|t| t.contains(ANSWER))
        })
        .await;
    let shown = api_status(&cp, &sup, &session, "succeeded").await;
    assert_eq!(shown["agentId"], "ui-agent", "{shown}");
    browser
        .wait_until("#session-status succeeded", async |b| {
            b.text("#session-status")
                .await
                .is_some_and(|s| s.trim() == "succeeded")
        })
        .await;
    browser.screenshot("session-of-ui-agent").await;

    browser.goto("/agents/ui-agent/edit").await;
    browser.wait_for("form#agent-form").await;
    browser.screenshot("agent-edit").await;
    browser.goto("/agents").await;
    browser
        .wait_for(r#"table#agents tr[data-agent="ui-agent"]"#)
        .await;
    browser.screenshot("agents-list").await;
    browser.close(&[]).await;
}
