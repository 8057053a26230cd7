//! Scripted latency, and a shutdown that does not wait for it.

use std::time::{Duration, Instant};

use super::*;
use crate::{TestServer, eventually};

#[tokio::test]
async fn delayed_turns_wait_before_answering() {
    let server = TestServer::start(Some(TWO_SCENARIOS)).await;
    let started = Instant::now();
    let (status, message) = post_json(&server, &conversation(prompt("scenario:slow"), false)).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(message["content"][0]["text"], "late");
    assert_eq!(
        message["usage"]["input_tokens"], 11,
        "scripted usage replaces the estimate"
    );
    assert_eq!(message["usage"]["output_tokens"], 22);
}

#[tokio::test]
async fn shutdown_cuts_a_scripted_delay_short() {
    let server = TestServer::start(Some(r#"{"turns": [{"delayMs": 600000, "text": "never"}]}"#)).await;
    let url = server.url("/v1/messages");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&conversation(prompt("hi"), false))
            .send()
            .await
    });
    // Shutdown must not wait for the ten-minute delay; the delayed request gets a 503 instead. The request
    // is recorded as it arrives, before its delay: from then on it is waiting.
    let arrived = async || server.recorded().len() == 1;
    assert!(
        eventually(Duration::from_secs(10), arrived).await,
        "the request reached the server"
    );
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("server stops promptly");
    let response = pending.await.unwrap().expect("the delayed request is answered");
    assert_eq!(response.status(), 503);
}
