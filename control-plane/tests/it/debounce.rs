//! `debounceSeconds` (DESIGN §10): a burst of messages of one conversation becomes one session holding
//! every message, once the burst is quiet.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Kind, TestDb};
use crate::hooks::{AUTH_TOKEN, app_with_agent, deliveries, post_sms, queued, sms_trigger, store_trigger};
use crate::on_both_backends;

on_both_backends!(
    two_sms_in_quick_succession_become_one_session_holding_both,
    a_burst_whose_agent_was_deleted_is_recorded_invalid_and_starts_nothing,
    a_debounced_reply_to_a_waiting_mail_of_a_known_thread_joins_that_thread,
    two_mails_of_a_new_thread_inside_the_window_are_one_session_of_one_conversation,
);

/// Waits (10 s at most) until `n` sessions are queued.
async fn sessions_queued(db: &TestDb, n: usize) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let queued = queued(db).await;
        if queued.len() >= n || tokio::time::Instant::now() > deadline {
            return queued;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn two_sms_in_quick_succession_become_one_session_holding_both(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "sms", sms_trigger(1), &[AUTH_TOKEN]).await;
    let sms = |sid: &'static str, body: &'static str| {
        [
            ("MessageSid", sid),
            ("From", "+15550001"),
            ("To", "+15559999"),
            ("Body", body),
            ("NumMedia", "0"),
        ]
    };
    let (status, answer) = post_sms(&app, "sms", &sms("SM1", "my order is late")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("<Response/>"), "{answer}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = post_sms(&app, "sms", &sms("SM2", "order 42")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(queued(&db).await.is_empty(), "nothing before the burst is quiet");

    let queued = sessions_queued(&db, 1).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        queued[0].1,
        "SMS from +15550001: my order is late\n\nSMS from +15550001: order 42"
    );
    let rows = deliveries(&db, "sms").await;
    let sessions: Vec<&str> = rows
        .iter()
        .map(|r| r.split('|').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(sessions, [queued[0].0.as_str(), queued[0].0.as_str()], "{rows:?}");
    assert!(rows.iter().all(|r| r.starts_with("queued|")), "{rows:?}");

    // The next message of the same pair continues the conversation.
    let (status, _) = post_sms(&app, "sms", &sms("SM3", "thanks")).await;
    assert_eq!(status, StatusCode::OK);
    let queued = sessions_queued(&db, 2).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert_eq!(queued[1].0, queued[0].0, "one conversation");
}

async fn a_burst_whose_agent_was_deleted_is_recorded_invalid_and_starts_nothing(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "sms", sms_trigger(1), &[AUTH_TOKEN]).await;
    let params = [
        ("MessageSid", "SM1"),
        ("From", "+15550001"),
        ("To", "+15559999"),
        ("Body", "hi"),
        ("NumMedia", "0"),
    ];
    let (status, _) = post_sms(&app, "sms", &params).await;
    assert_eq!(status, StatusCode::OK);
    let response = app
        .http
        .delete(app.url("/api/v1/agents/support-bot"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = deliveries(&db, "sms").await;
        if !rows[0].starts_with("waiting|") || tokio::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        rows[0].starts_with("invalid|-|agent support-bot was deleted: it takes no new sessions|1|"),
        "{rows:?}"
    );
    assert!(queued(&db).await.is_empty());
}

/// Two flushes of one burst racing (what two replicas' ticks may do): the second, started while the
/// first holds the burst, starts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flushes_of_one_burst_racing_start_one_session() {
    use control_plane::store::{Flush, Flushed, Store};
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let app = app_with_agent(&db).await;
    // An hour's debounce: the server's own task leaves the burst to this test.
    store_trigger(&db, "sms", sms_trigger(3600), &[AUTH_TOKEN]).await;
    let params = [
        ("MessageSid", "SM1"),
        ("From", "+15550001"),
        ("To", "+15559999"),
        ("Body", "hi"),
        ("NumMedia", "0"),
    ];
    assert_eq!(post_sms(&app, "sms", &params).await.0, StatusCode::OK);
    let store = Store::connect(&db.url).await.expect("connect");
    let flush = |store: Store, session: &'static str, hold: Duration| async move {
        let now = control_plane::time::now_ms();
        store
            .flush_burst(
                &Flush {
                    trigger_id: "sms",
                    conversation_key: Some("sms:+15559999:+15550001"),
                    agent_id: "support-bot",
                    cutoff_ms: now,
                    session_id: session,
                    reply: false,
                    now_ms: now,
                },
                |deliveries| {
                    // Holds the burst's rows long enough for the other flush to meet them.
                    tokio::task::block_in_place(|| std::thread::sleep(hold));
                    control_plane::triggers::debounce::compose(deliveries)
                },
            )
            .await
            .expect("flush")
    };
    let first = tokio::spawn(flush(store.clone(), "s-first", Duration::from_millis(600)));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = tokio::spawn(flush(store.clone(), "s-second", Duration::ZERO));
    let (first, second) = (first.await.expect("joined"), second.await.expect("joined"));
    assert!(matches!(first, Flushed::Queued(_)), "{first:?}");
    assert_eq!(second, Flushed::Nothing);
    assert_eq!(queued(&db).await.len(), 1);
    store.close().await;
}

async fn a_debounced_reply_to_a_waiting_mail_of_a_known_thread_joins_that_thread(db: TestDb) {
    use crate::hooks::{mailgun_form, post_unsigned};
    let app = app_with_agent(&db).await;
    let mail = serde_json::json!({
        "agentId": "support-bot", "kind": "email", "verify": {"scheme": "none"},
        "prompt": "{{ email.text }}", "debounceSeconds": 1,
    });
    store_trigger(&db, "mail", mail, &[]).await;
    let form = "application/x-www-form-urlencoded";
    let (status, _) = post_unsigned(&app, "mail", form, mailgun_form("a@x", None, "first")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let first = sessions_queued(&db, 1).await;
    assert_eq!(first.len(), 1);
    // B answers A (a known thread) and waits; C answers B while B still waits.
    post_unsigned(&app, "mail", form, mailgun_form("b@x", Some("a@x"), "second")).await;
    post_unsigned(&app, "mail", form, mailgun_form("c@x", Some("b@x"), "third")).await;
    let queued = sessions_queued(&db, 3).await;
    let conversations: Vec<&str> = queued.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        queued.len(),
        3,
        "B and C are bursts of their own keys: {queued:?}"
    );
    assert!(
        conversations.iter().all(|c| *c == first[0].0),
        "one thread, one conversation: {queued:?}"
    );
}

async fn two_mails_of_a_new_thread_inside_the_window_are_one_session_of_one_conversation(db: TestDb) {
    use crate::hooks::{mailgun_form, post_unsigned};
    let app = app_with_agent(&db).await;
    let mail = serde_json::json!({
        "agentId": "support-bot", "kind": "email", "verify": {"scheme": "none"},
        "prompt": "{{ email.text }}", "debounceSeconds": 1,
    });
    store_trigger(&db, "mail", mail, &[]).await;
    let form = "application/x-www-form-urlencoded";
    // A starts a thread nobody knows yet; B answers A while A still waits.
    post_unsigned(&app, "mail", form, mailgun_form("a@x", None, "first")).await;
    post_unsigned(&app, "mail", form, mailgun_form("b@x", Some("a@x"), "second")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !db
        .fetch_strings("SELECT delivery_id FROM trigger_deliveries WHERE status = 'waiting'")
        .await
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "the burst flushes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = queued(&db).await;
    assert_eq!(queued.len(), 1, "one burst, one session: {queued:?}");
    assert!(
        queued[0].1.contains("first") && queued[0].1.contains("second"),
        "{queued:?}"
    );
}
