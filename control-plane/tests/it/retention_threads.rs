//! Retention and triggers' threads (issue 14): a thread whose conversation retention deleted (idle longer
//! than `--retention`) is not left pointing at it; the thread's next message starts a new conversation.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestDb;
use crate::hooks::{WHSEC, post_signed, store_trigger, webhook_trigger};
use crate::on_both_backends;
use crate::retention::{HOUR_MS, claim, count, event, ingest_all, serve, until_deleted};

/// The one job a claim hands out: its session id.
async fn claim_one(app: &crate::helpers::TestApp) -> String {
    let jobs = claim(app).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    jobs[0]["sessionId"].as_str().expect("a session id").to_owned()
}

async fn a_threads_idle_conversation_goes_with_its_key_and_its_next_message_starts_a_new_one(db: TestDb) {
    let old = control_plane::time::now_ms() - 2 * HOUR_MS;
    let seeder = serve(&db, None).await;
    let (code, answer) = crate::agents::put(&seeder, "support-bot", &crate::agents::definition()).await;
    assert_eq!(code, StatusCode::CREATED, "{answer}");
    let trigger = webhook_trigger("{{ body.text }}", Some("{{ body.thread }}"));
    store_trigger(&db, "threads", trigger, &[WHSEC]).await;
    let (code, answer) = post_signed(
        &seeder,
        "threads",
        "msg-1",
        r#"{"thread":"t-1","text":"first"}"#,
        WHSEC,
    )
    .await;
    assert!(code.is_success(), "{code} {answer}");
    let first = claim_one(&seeder).await;
    let started = json!({"agentId": "support-bot", "pid": 7, "runtimeId": "rt-a", "runner": "x"});
    let finished = json!({"status": "succeeded", "exitCode": 0});
    ingest_all(
        &seeder,
        &[
            event(&first, 0, "supervisor", "session.started", started, old),
            event(&first, 1, "supervisor", "session.finished", finished, old),
        ],
    )
    .await;
    seeder.stop().await;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM trigger_conversations").await, 1);

    let app = serve(&db, Some(Duration::from_secs(3_600))).await;
    until_deleted(&app, 1).await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM trigger_conversations").await,
        0,
        "the thread's key went with its conversation"
    );
    let (code, answer) = post_signed(
        &app,
        "threads",
        "msg-2",
        r#"{"thread":"t-1","text":"second"}"#,
        WHSEC,
    )
    .await;
    assert!(code.is_success(), "{code} {answer}");
    let second = claim_one(&app).await;
    assert_ne!(second, first);
    let (code, session) = app.get(&format!("/api/v1/sessions/{second}")).await;
    assert_eq!(code, StatusCode::OK, "{session}");
    assert_eq!(
        session["conversationId"],
        second.as_str(),
        "a new conversation: {session}"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM trigger_conversations").await,
        1,
        "the thread's key is filed again, under the new conversation"
    );
    app.stop().await;
}

on_both_backends!(a_threads_idle_conversation_goes_with_its_key_and_its_next_message_starts_a_new_one);
