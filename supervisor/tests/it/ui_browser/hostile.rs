//! Agent output is text: an agent whose assistant text, tool input and tool result hold `<script>` and
//! `<img onerror>` shows those characters on the session page and runs nothing: no alert, no script or image
//! element in the transcript, no console error (a CSP violation is one). The harness is first shown to see
//! an alert and a CSP violation when there is one, so the checks can fail.

use serde_json::json;

use crate::support::*;

use super::{api_status, printing, shell_agent, shell_puller};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(1)>";

/// A session as the SDK prints one: text and a Bash call with markup in them, a tool result with more, and
/// a result.
fn hostile() -> String {
    let hostile = format!("{SCRIPT} {IMG}");
    printing(&[
        json!({"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "text", "text": format!("TEXT-MARK {hostile}")},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash",
             "input": {"command": format!("echo {hostile}"), "description": "markup"}}
        ]}}),
        json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": format!("RESULT-MARK {hostile}")}
        ]}}),
        json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 1,
               "result": format!("FINAL-MARK {hostile}")}),
    ])
}

#[tokio::test]
async fn an_agents_markup_shows_as_text_on_the_session_page_and_runs_nothing() {
    let cp = ControlPlane::start().await;
    let sup = shell_puller(&cp, "rt-browser-hostile");
    shell_agent(&cp, "hostile", &hostile()).await;
    cp.queue("hostile", "s-hostile", "say something nasty").await;
    api_status(&cp, &sup, "s-hostile", "succeeded").await;

    let browser = Browser::open(&cp.url()).await;
    browser.sign_in("/sessions").await;

    // The checks below can fail: an alert and a CSP violation are seen when there is one.
    browser.js("setTimeout(() => alert('probe'), 0)", vec![]).await;
    browser
        .wait_until("the probe's alert", async |b| {
            b.open_alert().await.as_deref() == Some("probe")
        })
        .await;
    browser.client().dismiss_alert().await.expect("dismiss the probe");
    browser
        .js(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1'; \
             document.body.append(s); return window.ran === undefined",
            vec![],
        )
        .await;
    browser
        .wait_until("the inline script's CSP violation in the console", async |b| {
            b.console()
                .await
                .iter()
                .any(|e| e.level == "SEVERE" && e.message.contains("Content Security Policy"))
        })
        .await;
    browser.forget_console().await;

    browser.goto("/sessions/s-hostile").await;
    browser.wait_for("#transcript article.event").await;
    browser
        .wait_until("the assistant text", async |b| {
            b.text("#transcript")
                .await
                .is_some_and(|t| t.contains("TEXT-MARK"))
        })
        .await;
    let texts = browser
        .js(
            "return [...document.querySelectorAll('#transcript .text')].map(e => e.textContent)",
            vec![],
        )
        .await;
    let texts = texts.to_string();
    assert!(
        texts.contains(&format!("TEXT-MARK {SCRIPT} {IMG}")),
        "the characters are not shown as they are: {texts}"
    );
    let results = browser
        .js(
            "return [...document.querySelectorAll('#transcript details.tool .tool-result')].map(e => e.textContent)",
            vec![],
        )
        .await
        .to_string();
    assert!(
        results.contains(&format!("RESULT-MARK {SCRIPT} {IMG}")),
        "the tool result is not shown as it is: {results}"
    );
    let tools = browser.text("#transcript details.tool").await.unwrap_or_default();
    assert!(tools.contains("Bash"), "no Bash tool call: {tools}");
    // Open every collapsed part, so that nothing hides an element that would run.
    browser
        .js(
            "document.querySelectorAll('details').forEach(d => d.open = true)",
            vec![],
        )
        .await;
    // Opened, each event's raw view fetches its JSON, shown as text too.
    browser
        .wait_until("the raw JSON of the assistant's event", async |b| {
            b.text("#ev-1 details.raw pre")
                .await
                .is_some_and(|t| t.contains(&format!("TEXT-MARK {SCRIPT}")))
        })
        .await;
    browser.scroll_to("#ev-1").await;
    browser.screenshot("session-hostile").await;
    assert_eq!(
        browser.count("#transcript script").await,
        0,
        "a script element in #transcript"
    );
    assert_eq!(
        browser.count(r#"img[src="x"]"#).await,
        0,
        "the agent's img element"
    );
    assert_eq!(
        browser.count("#transcript [onerror]").await,
        0,
        "an onerror attribute"
    );
    assert_eq!(browser.open_alert().await, None, "an alert opened");
    assert!(
        browser
            .text("#result")
            .await
            .is_some_and(|t| t.contains("FINAL-MARK")),
        "no result footer: {:?}",
        browser.text("#result").await
    );
    browser.close(&[]).await;
}
