//! A trigger made in the browser: the new-trigger form takes the definition `agentctl triggers apply -f`
//! takes, its page gives the URL to paste and warns that `verify: none` checks nothing, and a request posted
//! to the hook shows up in its deliveries, linked to its session, while the page is never reloaded.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_trigger_made_with_the_form_shows_a_posted_delivery_without_a_reload() {
    let cp = ControlPlane::start().await;
    cp.put_agent("hooked", &json!({"id": "hooked", "model": "claude-sonnet-4-5"}))
        .await;

    let browser = Browser::open(&cp.url()).await;
    browser.sign_in("/triggers").await;
    browser.click("a#new-trigger").await;
    browser
        .wait_until("the new-trigger form", async |b| {
            b.path().await == "/triggers/new"
        })
        .await;
    browser.fill("form#trigger-form input[name=id]", "ui-hook").await;
    let definition = json!({"agentId": "hooked", "kind": "webhook", "verify": {"scheme": "none"},
        "prompt": "order {{ body.n }}"});
    browser
        .fill(
            "form#trigger-form textarea[name=definition]",
            &definition.to_string(),
        )
        .await;
    browser.click("button#save").await;
    browser
        .wait_until("the trigger's page after saving", async |b| {
            b.path().await == "/triggers/ui-hook"
        })
        .await;
    let hook_url = browser.text("#hook-url code").await.unwrap_or_default();
    assert_eq!(hook_url.trim(), format!("{}/hooks/ui-hook", cp.url()));
    assert_eq!(
        browser.count("#hook-url button[data-copy]").await,
        1,
        "no copy button"
    );
    assert_eq!(
        browser.count("#unverified.warn").await,
        1,
        "no warning for verify: none"
    );
    assert_eq!(browser.count("table#deliveries tr[data-delivery]").await, 0);

    browser
        .js("window.notReloaded = 'still the same page'", vec![])
        .await;
    let (status, _, answer) = cp
        .post_hook("ui-hook", "application/json", &[], r#"{"n": 7}"#.to_owned())
        .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    let session = answer["sessionId"].as_str().expect("a session").to_owned();
    browser
        .wait_until("the delivery in table#deliveries", async |b| {
            b.count("table#deliveries tr[data-delivery]").await == 1
        })
        .await;
    assert_eq!(
        browser.js("return window.notReloaded", vec![]).await,
        "still the same page",
        "the page was reloaded"
    );
    let row = "table#deliveries tr[data-delivery]";
    let status = browser
        .text(&format!("{row} td.status"))
        .await
        .unwrap_or_default();
    assert!(!status.trim().is_empty(), "no status in the delivery row");
    let link = format!(r#"{row} a[href="/sessions/{session}"]"#);
    assert_eq!(browser.count(&link).await, 1, "no link to {session}");
    browser.screenshot("trigger-page").await;

    browser.goto("/triggers").await;
    browser
        .wait_for(r#"table#triggers tr[data-trigger="ui-hook"]"#)
        .await;
    browser.screenshot("triggers-list").await;
    browser.close(&[]).await;
}
