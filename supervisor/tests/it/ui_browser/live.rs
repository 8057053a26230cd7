//! A running session watched in the browser: the sessions list, open before it was queued, shows it
//! running, its transcript grows while the page is never reloaded (events arrive over SSE), and the page's
//! cancel form ends it `cancelled`, which the page and the JSON API both say.

use serde_json::json;

use crate::support::*;

use super::{api_status, shell_agent, shell_puller};

/// An agent that says one thing every 200 ms for about a minute and a half, then succeeds.
fn ticking() -> String {
    let tick = json!({"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "text", "text": "TICK-NNN"}
    ]}})
    .to_string()
    .replace("NNN", "%s");
    let result = json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 1,
        "result": "ticked"});
    format!(
        "i=0; while [ $i -lt 450 ]; do i=$((i+1)); printf '{tick}\\n' $i; sleep 0.2; done; echo '{result}'"
    )
}

#[tokio::test]
async fn a_running_sessions_transcript_grows_without_a_reload_and_cancel_on_the_page_ends_it_cancelled() {
    let cp = ControlPlane::start().await;
    let sup = shell_puller(&cp, "rt-browser-live");
    shell_agent(&cp, "ticker", &ticking()).await;

    // The list, open before the session exists, shows it running without a reload.
    let browser = Browser::open(&cp.url()).await;
    browser.sign_in("/sessions").await;
    browser
        .js("window.notReloaded = 'still the same page'", vec![])
        .await;
    cp.queue("ticker", "s-ticking", "tick").await;
    api_status(&cp, &sup, "s-ticking", "running").await;
    browser
        .wait_until("s-ticking listed as running", async |b| {
            b.text(r#"table#sessions tr[data-session="s-ticking"] td.status .badge"#)
                .await
                .is_some_and(|s| s.trim() == "running")
        })
        .await;
    assert_eq!(
        browser.js("return window.notReloaded", vec![]).await,
        "still the same page",
        "the list was reloaded"
    );
    browser.screenshot("sessions-list").await;

    browser.goto("/sessions/s-ticking").await;
    browser.wait_for("#transcript article.event").await;
    assert_eq!(
        browser.text("#session-status").await.map(|s| s.trim().to_owned()),
        Some("running".to_owned())
    );
    // A marker in the page's window lives only as long as the page: a reload would drop it.
    browser
        .js("window.notReloaded = 'still the same page'", vec![])
        .await;
    let shown = browser.count("#transcript article.event").await;
    browser
        .wait_until("five more events appended to #transcript", async |b| {
            b.count("#transcript article.event").await >= shown + 5
        })
        .await;
    assert_eq!(
        browser.js("return window.notReloaded", vec![]).await,
        "still the same page",
        "the page was reloaded"
    );
    let seqs = browser.attributes("#transcript article.event", "data-seq").await;
    let seqs: Vec<u64> = seqs.iter().map(|s| s.parse().expect("a seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of seq order: {seqs:?}");
    assert!(
        browser
            .text("#transcript")
            .await
            .unwrap_or_default()
            .contains("TICK-"),
        "no assistant text in the transcript"
    );
    browser.screenshot("session-running").await;
    browser.phone().await;
    browser.screenshot("session-phone").await;
    browser.dark().await;
    browser.screenshot("session-dark").await;
    browser.desktop().await;

    browser.wait_for("form#cancel").await;
    browser.click("form#cancel button[type=submit]").await;
    // A confirmation, if the page asks for one, is answered as a person who meant it.
    if browser.open_alert().await.is_some() {
        browser
            .client()
            .accept_alert()
            .await
            .expect("accept the confirmation");
    }
    browser
        .wait_until("#session-status cancelled", async |b| {
            b.text("#session-status")
                .await
                .is_some_and(|s| s.trim() == "cancelled")
        })
        .await;
    let session = api_status(&cp, &sup, "s-ticking", "cancelled").await;
    assert!(session["finishedAt"].is_string(), "{session}");
    browser.goto("/sessions/s-ticking").await;
    browser.wait_for("#result").await;
    assert_eq!(
        browser.count("form#cancel").await,
        0,
        "a cancel form on a finished session"
    );
    browser.screenshot("session-finished").await;
    browser.scroll_to("#result").await;
    browser.screenshot("session-finished-footer").await;
    browser.close(&[]).await;
}
