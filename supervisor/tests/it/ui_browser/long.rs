//! A session of 100,000 events in the browser: the page opens on the newest page (the last seq shown, the
//! first not), and "earlier" loads the 200 before them in front, without leaving the page. The events are
//! ingested through the internal API in batches of 10,000, as a supervisor ships them.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::support::*;

use super::plain_http;

const EVENTS: u64 = 100_000;
const BATCH: u64 = 10_000;
/// The page's size (ui-dom.md: the newest 200 first, then 200 at a time).
const PAGE: usize = 200;

/// Stores events `0..EVENTS` (seqs start at 0) of session `id` as runtime `rt-bulk` shipped them:
/// assistant texts.
async fn ingest(cp: &ControlPlane, id: &str) {
    let http = plain_http();
    for first in (0..EVENTS).step_by(BATCH as usize) {
        let mut body = String::from(r#"{"runtimeId":"rt-bulk","events":["#);
        for seq in first..first + BATCH {
            if seq > first {
                body.push(',');
            }
            let data = json!({"type": "assistant", "message": {"role": "assistant", "content": [
                {"type": "text", "text": format!("EVENT-{seq}")}
            ]}});
            let ts = format!(
                "2026-12-01T{:02}:{:02}:{:02}.000Z",
                seq / 3600 % 24,
                seq / 60 % 60,
                seq % 60
            );
            write!(
                body,
                r#"{{"sessionId":"{id}","seq":{seq},"ts":"{ts}","source":"agent","type":"assistant","data":{data}}}"#
            )
            .expect("write to a string");
        }
        body.push_str("]}");
        let answer = http
            .post(format!("{}/api/internal/v1/events", cp.url()))
            .bearer_auth(CP_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the control plane answers");
        let status = answer.status();
        let answer: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "ingest from {first}: {status} {answer}");
        // `acked`: every seq up to the last of this batch is stored.
        assert_eq!(
            answer["acked"][id],
            first + BATCH - 1,
            "ingest from {first}: {answer}"
        );
    }
}

/// The seqs of the events the page shows, in document order.
async fn seqs(browser: &Browser) -> Vec<u64> {
    browser
        .attributes("#transcript article.event", "data-seq")
        .await
        .iter()
        .map(|s| s.parse().expect("a seq"))
        .collect()
}

#[tokio::test]
async fn a_session_of_100000_events_opens_on_its_newest_page_and_earlier_loads_the_page_before() {
    let cp = ControlPlane::start().await;
    ingest(&cp, "s-long").await;
    assert_eq!(cp.get("/api/v1/sessions/s-long").await["lastSeq"], EVENTS - 1);

    let browser = Browser::open(&cp.url()).await;
    browser.sign_in("/sessions/s-long").await;
    browser.wait_for("#transcript article.event").await;
    let newest = seqs(&browser).await;
    assert_eq!(newest.len(), PAGE, "the newest page: {newest:?}");
    assert_eq!(newest.last(), Some(&(EVENTS - 1)), "the last event is not shown");
    assert!(!newest.contains(&0), "the first event is shown");
    assert!(newest.windows(2).all(|w| w[0] < w[1]), "out of seq order");
    assert_eq!(browser.count(&format!("#ev-{}", EVENTS - 1)).await, 1);
    assert_eq!(browser.count("#ev-0").await, 0);
    browser.screenshot("session-long").await;

    browser
        .js("window.notReloaded = 'still the same page'", vec![])
        .await;
    browser.wait_for("#transcript button#earlier").await;
    browser.click("#transcript button#earlier").await;
    browser
        .wait_until("200 earlier events in front", async |b| {
            b.count("#transcript article.event").await == 2 * PAGE
        })
        .await;
    let both = seqs(&browser).await;
    assert!(
        both[0] < newest[0],
        "the earliest seq did not move down: {} then {}",
        newest[0],
        both[0]
    );
    assert_eq!(both[PAGE..], newest[..], "the newest page changed");
    assert!(both.windows(2).all(|w| w[0] < w[1]), "out of seq order");
    assert_eq!(
        browser.js("return window.notReloaded", vec![]).await,
        "still the same page",
        "earlier reloaded the page"
    );
    assert_eq!(
        browser.count("#transcript button#earlier").await,
        1,
        "no more earlier"
    );
    browser.close(&[]).await;
}
