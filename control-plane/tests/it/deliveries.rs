//! A trigger's deliveries read back, replayed and previewed (DESIGN §10).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestDb;
use crate::hooks::{WHSEC, app_with_agent, post_signed, queued, store_trigger, webhook_trigger};
use crate::on_both_backends;

on_both_backends!(
    deliveries_are_listed_newest_first_in_pages_joined_by_the_cursor,
    a_replay_queues_a_second_session_in_the_same_conversation_and_a_refused_delivery_has_nothing_to_replay,
    a_preview_renders_the_templates_against_a_sample_and_names_a_template_error_s_line,
    the_cli_lists_a_trigger_s_deliveries_and_replays_one,
);

async fn deliveries_are_listed_newest_first_in_pages_joined_by_the_cursor(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "orders", webhook_trigger("{{ body.n }}", None), &[WHSEC]).await;
    for n in 0..5 {
        let (status, _) = post_signed(
            &app,
            "orders",
            &format!("msg_{n}"),
            &format!(r#"{{"n": {n}}}"#),
            WHSEC,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    post_signed(&app, "orders", "msg_4", r#"{"n": 4}"#, WHSEC).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/triggers/orders/deliveries?limit=2".to_owned();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for d in page["deliveries"].as_array().expect("deliveries") {
            seen.push(format!(
                "{}:{}:{}",
                d["providerId"].as_str().unwrap_or("-"),
                d["status"].as_str().unwrap_or("-"),
                d["duplicate"]
            ));
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/triggers/orders/deliveries?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "msg_4:duplicate:true",
            "msg_4:queued:false",
            "msg_3:queued:false",
            "msg_2:queued:false",
            "msg_1:queued:false",
            "msg_0:queued:false",
        ]
    );
    let (status, _) = app.get("/api/v1/triggers/nobody/deliveries").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.get("/api/v1/triggers/orders/deliveries?cursor=zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn a_replay_queues_a_second_session_in_the_same_conversation_and_a_refused_delivery_has_nothing_to_replay(
    db: TestDb,
) {
    let app = app_with_agent(&db).await;
    store_trigger(
        &db,
        "orders",
        webhook_trigger("order {{ body.n }}", None),
        &[WHSEC],
    )
    .await;
    let (_, answer) = post_signed(&app, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let delivery = answer["deliveryId"].as_str().expect("a delivery id");
    let first = answer["sessionId"].as_str().expect("a session");
    let (status, replayed) = app
        .post_public(&format!("/api/v1/deliveries/{delivery}/replay"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{replayed}");
    assert_eq!(replayed["conversationId"], first, "{replayed}");
    assert_ne!(replayed["sessionId"], first);
    assert_eq!(
        queued(&db).await,
        [
            (first.to_owned(), "order 1".to_owned()),
            (first.to_owned(), "order 1".to_owned())
        ]
    );

    post_signed(
        &app,
        "orders",
        "msg_2",
        "{}",
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    let (_, list) = app.get("/api/v1/triggers/orders/deliveries?limit=1").await;
    let refused = list["deliveries"][0]["deliveryId"]
        .as_str()
        .expect("the refused one");
    assert_eq!(list["deliveries"][0]["status"], "refused", "{list}");
    let (status, body) = app
        .post_public(&format!("/api/v1/deliveries/{refused}/replay"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("refused"),
        "{body}"
    );
    let (status, _) = app
        .post_public("/api/v1/deliveries/nope/replay", &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_preview_renders_the_templates_against_a_sample_and_names_a_template_error_s_line(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(
        &db,
        "tickets",
        webhook_trigger("Ticket {{ body.id }}: {{ body.text }}", Some("t-{{ body.id }}")),
        &[WHSEC],
    )
    .await;
    store_trigger(
        &db,
        "broken",
        webhook_trigger("ok\nstill ok\n{{ body.nope.deeper }}", None),
        &[WHSEC],
    )
    .await;
    let sample = json!({"body": {"id": 7, "text": "help"}, "headers": {"content-type": "application/json"}});
    let (status, preview) = app.post_public("/api/v1/triggers/tickets/preview", &sample).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview,
        json!({"prompt": "Ticket 7: help", "conversationKey": "key:t-7"})
    );
    let (status, error) = app.post_public("/api/v1/triggers/broken/preview", &sample).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("prompt: line 3: "),
        "{error}"
    );
    // Nothing stored, no bearer token no preview.
    assert!(
        db.fetch_strings("SELECT delivery_id FROM trigger_deliveries")
            .await
            .is_empty()
    );
    let response = app
        .http
        .post(app.url("/api/v1/triggers/tickets/preview"))
        .json(&sample)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn the_cli_lists_a_trigger_s_deliveries_and_replays_one(db: TestDb) {
    use crate::cli::agentctl;
    let app = app_with_agent(&db).await;
    store_trigger(
        &db,
        "orders",
        webhook_trigger("order {{ body.n }}", None),
        &[WHSEC],
    )
    .await;
    let (_, answer) = post_signed(&app, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let delivery = answer["deliveryId"].as_str().expect("a delivery");
    let session = answer["sessionId"].as_str().expect("a session");
    post_signed(
        &app,
        "orders",
        "msg_2",
        "{}",
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;

    let run = agentctl(&app, &["triggers", "deliveries", "orders"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_eq!(
        (lines[0][2], lines[0][3], lines[0][6]),
        ("refused", "-", "no secret of the trigger matched the signature")
    );
    assert_eq!(
        (lines[1][0], lines[1][2], lines[1][3], lines[1][4]),
        (delivery, "queued", session, "msg_1")
    );
    let run = agentctl(
        &app,
        &["triggers", "deliveries", "orders", "--limit", "1", "-o", "json"],
    )
    .await;
    let page: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert!(page["nextCursor"].is_string(), "{page}");

    let run = agentctl(&app, &["triggers", "replay", delivery]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("delivery/{delivery} replayed: session ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with(&format!(" queued in conversation {session}\n")),
        "{}",
        run.stdout
    );
    let run = agentctl(&app, &["triggers", "replay", "../x"]).await;
    assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
    let run = agentctl(&app, &["triggers", "replay", lines[0][0]]).await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("nothing to replay"), "{}", run.stderr);
}
