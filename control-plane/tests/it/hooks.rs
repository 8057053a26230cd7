//! `POST /hooks/{id}` through the real routes (DESIGN §10): verified, stored and deduplicated before the
//! answer, sessions queued in their conversation. Signatures are computed here, never by the code under test.

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{SECRETS_KEY, TestApp, TestDb, spawn_app};
use crate::logged_serve::LoggedServe;
use crate::on_both_backends;

/// A Standard Webhooks signing secret: `whsec_` and the key in base64.
pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A Twilio auth token.
pub const AUTH_TOKEN: &str = "12345-twilio-auth-token";

/// Stores a trigger past the routes (its definition as JSON, its signing secrets sealed like the PUT
/// seals them), so these tests depend on the hook alone.
pub async fn store_trigger(db: &TestDb, id: &str, mut definition: Value, secrets: &[&str]) {
    use control_plane::triggers::secrets::{owner, verify_secret};
    definition["id"] = json!(id);
    let key = control_plane::secrets::SecretsKey::from_base64(SECRETS_KEY).expect("a key");
    let q = |s: &str| s.replace('\'', "''");
    let agent = definition["agentId"].as_str().expect("agentId").to_owned();
    db.execute(&format!(
        "INSERT INTO triggers (trigger_id, agent_id, definition, created_at, updated_at) VALUES \
         ('{id}', '{agent}', '{}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        q(&definition.to_string())
    ))
    .await;
    for (i, secret) in secrets.iter().enumerate() {
        let name = verify_secret(i);
        let sealed = key.seal(&owner(id), &name, secret);
        db.execute(&format!(
            "INSERT INTO trigger_secrets (trigger_id, name, sealed, updated_at) VALUES \
             ('{id}', '{name}', '{sealed}', '2026-01-01T00:00:00.000Z')"
        ))
        .await;
    }
}

/// A server with the agent `support-bot`.
pub async fn app_with_agent(db: &TestDb) -> TestApp {
    let app = spawn_app(db).await;
    let (status, body) = crate::agents::put(&app, "support-bot", &crate::agents::definition()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app
}

/// A webhook trigger signed with Standard Webhooks.
pub fn webhook_trigger(prompt: &str, conversation: Option<&str>) -> Value {
    json!({
        "agentId": "support-bot", "kind": "webhook",
        "verify": {"scheme": "standard-webhooks"},
        "prompt": prompt, "conversation": conversation,
    })
}

/// Posts `body` to the hook, signed the Standard Webhooks way with message id `msg_id` (a wrong `secret`
/// to test refusals).
pub async fn post_signed(
    app: &TestApp,
    trigger: &str,
    msg_id: &str,
    body: &str,
    secret: &str,
) -> (StatusCode, String) {
    post_signed_to(&app.http, &app.url(""), trigger, msg_id, body, secret).await
}

/// [`post_signed`] to the server at `base` (`http://host:port`).
pub async fn post_signed_to(
    http: &reqwest::Client,
    base: &str,
    trigger: &str,
    msg_id: &str,
    body: &str,
    secret: &str,
) -> (StatusCode, String) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .to_string();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key");
    mac.update(format!("{msg_id}.{ts}.{body}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let response = http
        .post(format!("{base}/hooks/{trigger}"))
        .header("content-type", "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", ts)
        .header("webhook-signature", format!("v1,{signature}"))
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.text().await.expect("a body"))
}

/// Twilio's signature: base64 HMAC-SHA1 of the URL and the sorted form parameters.
pub fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(AUTH_TOKEN.as_bytes()).expect("any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts an SMS form the way Twilio does, signed.
pub async fn post_sms(app: &TestApp, trigger: &str, params: &[(&str, &str)]) -> (StatusCode, String) {
    let url = app.url(&format!("/hooks/{trigger}"));
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let response = app
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", twilio_signature(&url, params))
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.text().await.expect("a body"))
}

pub fn sms_trigger(debounce_seconds: u32) -> Value {
    json!({
        "agentId": "support-bot", "kind": "sms", "verify": {"scheme": "twilio"},
        "prompt": "SMS from {{ sms.from }}: {{ sms.body }}", "debounceSeconds": debounce_seconds,
    })
}

/// `(status, session_id, error, verified)` of every delivery of a trigger, oldest first, read past the store.
pub async fn deliveries(db: &TestDb, trigger: &str) -> Vec<String> {
    db.fetch_strings(&format!(
        "SELECT status || '|' || COALESCE(session_id, '-') || '|' || COALESCE(error, '-') || '|' || \
         CAST(verified AS TEXT) || '|' || COALESCE(context, '-') FROM trigger_deliveries \
         WHERE trigger_id = '{trigger}' ORDER BY id"
    ))
    .await
}

/// The prompts of the sessions queued, oldest first, with their conversation.
pub async fn queued(db: &TestDb) -> Vec<(String, String)> {
    let rows = db
        .fetch_strings(
            "SELECT s.conversation_id || '|' || j.request FROM sessions s \
             JOIN session_jobs j ON j.session_id = s.session_id ORDER BY s.id",
        )
        .await;
    rows.iter()
        .map(|r| {
            let (conversation, request) = r.split_once('|').expect("two parts");
            let request: Value = serde_json::from_str(request).expect("a request");
            (
                conversation.to_owned(),
                request["prompt"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

on_both_backends!(
    a_signed_webhook_queues_a_session_with_its_rendered_prompt,
    refused_unknown_and_disabled_requests_start_nothing_and_are_recorded_where_a_trigger_exists,
    a_redelivery_of_one_provider_id_answers_200_and_starts_nothing,
    fifty_concurrent_copies_of_one_delivery_start_exactly_one_session,
    two_webhooks_with_one_conversation_key_become_one_conversation_in_arrival_order,
    bad_input_is_answered_with_its_problem_and_recorded_without_anything_half_written,
    a_delivery_answered_2xx_survives_a_kill_9_and_its_session_is_queued_after_the_restart,
    a_trigger_that_replies_owes_a_pending_reply_and_a_deleted_agent_is_answered_410,
    an_email_thread_by_in_reply_to_is_one_conversation_and_attachments_become_session_files,
    a_trigger_put_through_the_api_takes_deliveries_signed_with_its_secret,
    a_mailgun_multipart_mail_with_an_attachment_is_verified_by_its_signature_parts,
);

async fn a_signed_webhook_queues_a_session_with_its_rendered_prompt(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(
        &db,
        "orders",
        webhook_trigger("Order {{ body.order }} by {{ body.customer }}", None),
        &[WHSEC],
    )
    .await;
    let (status, answer) = post_signed(
        &app,
        "orders",
        "msg_1",
        r#"{"order": 42, "customer": "Ada"}"#,
        WHSEC,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(answer["status"], "queued", "{answer}");
    let session = answer["sessionId"].as_str().expect("a session id");
    let (_, shown) = app.get(&format!("/api/v1/sessions/{session}")).await;
    assert_eq!(shown["status"], "queued", "{shown}");
    assert_eq!(shown["agentId"], "support-bot", "{shown}");
    assert_eq!(
        queued(&db).await,
        [(session.to_owned(), "Order 42 by Ada".to_owned())]
    );
    let rows = deliveries(&db, "orders").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with(&format!("queued|{session}|-|1|")), "{rows:?}");
}

async fn refused_unknown_and_disabled_requests_start_nothing_and_are_recorded_where_a_trigger_exists(
    db: TestDb,
) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "orders", webhook_trigger("{{ body }}", None), &[WHSEC]).await;
    let mut disabled = webhook_trigger("{{ body }}", None);
    disabled["enabled"] = json!(false);
    store_trigger(&db, "paused", disabled, &[WHSEC]).await;

    let wrong = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (status, answer) = post_signed(&app, "orders", "msg_1", r#"{"secret": "payload"}"#, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(answer["error"]["code"], "signature_refused", "{answer}");
    assert_eq!(
        answer["error"]["message"], "no secret of the trigger matched the signature",
        "{answer}"
    );
    assert_eq!(
        deliveries(&db, "orders").await,
        ["refused|-|no secret of the trigger matched the signature|0|-"],
        "recorded, without the body"
    );

    let (status, _) = post_signed(&app, "nobody", "msg_1", "{}", WHSEC).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(deliveries(&db, "nobody").await.is_empty());

    let (status, answer) = post_signed(&app, "paused", "msg_1", "{}", WHSEC).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(deliveries(&db, "paused").await, ["disabled|-|-|1|-"]);
    // Disabled only after verification: an unsigned request learns nothing about the trigger.
    let (status, _) = post_signed(&app, "paused", "msg_2", "{}", wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(queued(&db).await.is_empty());
}

async fn a_redelivery_of_one_provider_id_answers_200_and_starts_nothing(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "orders", webhook_trigger("{{ body.n }}", None), &[WHSEC]).await;
    let (status, first) = post_signed(&app, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again) = post_signed(&app, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let again: Value = serde_json::from_str(&again).expect("JSON");
    assert_eq!(
        (again["status"].clone(), again["sessionId"].clone()),
        (json!("duplicate"), Value::Null)
    );
    let (status, _) = post_signed(&app, "orders", "msg_2", r#"{"n": 2}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "another id is another delivery");
    let prompts: Vec<String> = queued(&db).await.into_iter().map(|(_, p)| p).collect();
    assert_eq!(prompts, ["1", "2"]);
    let statuses: Vec<String> = deliveries(&db, "orders")
        .await
        .iter()
        .map(|r| r.split('|').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(statuses, ["queued", "duplicate", "queued"]);
}

async fn fifty_concurrent_copies_of_one_delivery_start_exactly_one_session(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "orders", webhook_trigger("{{ body.n }}", None), &[WHSEC]).await;
    let app = std::sync::Arc::new(app);
    let copies: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { post_signed(&app, "orders", "msg_once", r#"{"n": 1}"#, WHSEC).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for copy in copies {
        statuses.push(copy.await.expect("joined").0);
    }
    let accepted = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count();
    let duplicates = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((accepted, duplicates), (1, 49), "{statuses:?}");
    assert_eq!(queued(&db).await.len(), 1);
    assert_eq!(deliveries(&db, "orders").await.len(), 50);
}

async fn two_webhooks_with_one_conversation_key_become_one_conversation_in_arrival_order(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(
        &db,
        "tickets",
        webhook_trigger("{{ body.text }}", Some("ticket-{{ body.ticket }}")),
        &[WHSEC],
    )
    .await;
    let (s1, a1) = post_signed(&app, "tickets", "m1", r#"{"ticket": 7, "text": "first"}"#, WHSEC).await;
    let (s2, a2) = post_signed(&app, "tickets", "m2", r#"{"ticket": 7, "text": "second"}"#, WHSEC).await;
    let (s3, _) = post_signed(&app, "tickets", "m3", r#"{"ticket": 8, "text": "other"}"#, WHSEC).await;
    assert_eq!(
        (s1, s2, s3),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED, StatusCode::ACCEPTED),
        "{a1} {a2}"
    );
    let first: Value = serde_json::from_str(&a1).expect("JSON");
    let conversation = first["sessionId"].as_str().expect("a session");
    let (status, shown) = app.get(&format!("/api/v1/conversations/{conversation}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let sessions = shown["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{shown}");
    let queued = queued(&db).await;
    assert_eq!(queued[0], (conversation.to_owned(), "first".to_owned()));
    assert_eq!(queued[1], (conversation.to_owned(), "second".to_owned()));
    assert_ne!(queued[2].0, conversation, "another key, another conversation");
}

async fn bad_input_is_answered_with_its_problem_and_recorded_without_anything_half_written(db: TestDb) {
    let app = app_with_agent(&db).await;
    store_trigger(&db, "hook", webhook_trigger("{{ body }}", None), &[WHSEC]).await;
    store_trigger(
        &db,
        "broken",
        webhook_trigger("line one\n{{ body.missing.deeper }}", None),
        &[WHSEC],
    )
    .await;
    store_trigger(&db, "sms", sms_trigger(0), &[AUTH_TOKEN]).await;

    // A webhook's body that is not JSON is kept as text: fine.
    let (status, answer) = post_signed(&app, "hook", "m1", "{not json", WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(queued(&db).await[0].1, "{not json");

    let (status, answer) = post_signed(&app, "broken", "m1", r#"{"a": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let rows = deliveries(&db, "broken").await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].starts_with("invalid|-|prompt template: line 2: "),
        "{rows:?}"
    );

    // A signed SMS form without its sender: verified, then refused by the parser, naming the field.
    let (status, answer) = post_sms(
        &app,
        "sms",
        &[("MessageSid", "SM1"), ("To", "+15559999"), ("Body", "hi")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.contains("From"), "{answer}");
    let rows = deliveries(&db, "sms").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].starts_with("invalid|-|") && rows[0].contains("From"),
        "{rows:?}"
    );

    let big = "x".repeat(25 * 1024 * 1024);
    let response = app
        .http
        .post(app.url("/hooks/hook"))
        .body(big)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let rows = deliveries(&db, "hook").await;
    assert_eq!(
        rows.last().map(String::as_str),
        Some("invalid|-|body is over 16 MiB|0|-")
    );

    assert_eq!(
        queued(&db).await.len(),
        1,
        "only the text webhook started a session"
    );
    let orphans = db
        .fetch_strings(
            "SELECT a.delivery_id FROM trigger_attachments a LEFT JOIN trigger_deliveries d \
             ON d.delivery_id = a.delivery_id WHERE d.delivery_id IS NULL",
        )
        .await;
    assert!(orphans.is_empty(), "{orphans:?}");
}

async fn a_delivery_answered_2xx_survives_a_kill_9_and_its_session_is_queued_after_the_restart(db: TestDb) {
    let http = reqwest::Client::new();
    let mut serve = LoggedServe::spawn_with(&db, &[], "info").await;
    let response = http
        .put(format!("{}/api/v1/agents/support-bot", serve.base()))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&crate::agents::definition())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    store_trigger(
        &db,
        "orders",
        webhook_trigger("order {{ body.n }}", None),
        &[WHSEC],
    )
    .await;
    let (status, answer) =
        post_signed_to(&http, &serve.base(), "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    serve.kill_9();

    let serve = LoggedServe::spawn_with(&db, &[], "info").await;
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let session = answer["sessionId"].as_str().expect("a session");
    let shown: Value = http
        .get(format!("{}/api/v1/sessions/{session}", serve.base()))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown["status"], "queued", "{shown}");
    assert_eq!(queued(&db).await, [(session.to_owned(), "order 1".to_owned())]);
    let rows = deliveries(&db, "orders").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with(&format!("queued|{session}|")), "{rows:?}");
    // A redelivery after the restart is still a duplicate.
    let (status, _) = post_signed_to(&http, &serve.base(), "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_trigger_that_replies_owes_a_pending_reply_and_a_deleted_agent_is_answered_410(db: TestDb) {
    let app = app_with_agent(&db).await;
    let mut replying = webhook_trigger("{{ body.n }}", None);
    replying["reply"] = json!({"kind": "webhook", "url": "http://127.0.0.1:9/answers"});
    store_trigger(&db, "orders", replying, &[WHSEC]).await;
    let (status, answer) = post_signed(&app, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let owed = db
        .fetch_strings("SELECT session_id || '|' || delivery_id || '|' || status FROM trigger_replies")
        .await;
    assert_eq!(
        owed,
        [format!(
            "{}|{}|pending",
            answer["sessionId"].as_str().unwrap_or_default(),
            answer["deliveryId"].as_str().unwrap_or_default()
        )]
    );
    let (_, list) = app.get("/api/v1/triggers/orders/deliveries").await;
    assert_eq!(list["deliveries"][0]["reply"]["status"], "pending", "{list}");

    let response = app
        .http
        .delete(app.url("/api/v1/agents/support-bot"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send");
    assert!(response.status().is_success(), "{}", response.status());
    let (status, answer) = post_signed(&app, "orders", "msg_2", r#"{"n": 2}"#, WHSEC).await;
    assert_eq!(status, StatusCode::GONE, "{answer}");
    let rows = deliveries(&db, "orders").await;
    assert_eq!(
        rows.last().map(String::as_str),
        Some("invalid|-|agent support-bot was deleted: it takes no new sessions|1|-"),
        "recorded, nothing half-written"
    );
    assert_eq!(queued(&db).await.len(), 1);
}

/// Posts a body with its content type, unsigned (a trigger with scheme `none`).
pub async fn post_unsigned(
    app: &TestApp,
    trigger: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url(&format!("/hooks/{trigger}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn mailgun_form(message_id: &str, in_reply_to: Option<&str>, text: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("recipient", "support@inbound.example.com")
        .append_pair("sender", "alice@example.com")
        .append_pair("from", "Alice <alice@example.com>")
        .append_pair("subject", "Invoice 1042")
        .append_pair("body-plain", text)
        .append_pair("Message-Id", &format!("<{message_id}>"));
    if let Some(parent) = in_reply_to {
        form.append_pair("In-Reply-To", &format!("<{parent}>"));
    }
    form.finish()
}

async fn an_email_thread_by_in_reply_to_is_one_conversation_and_attachments_become_session_files(db: TestDb) {
    let app = app_with_agent(&db).await;
    let mail = json!({
        "agentId": "support-bot", "kind": "email", "verify": {"scheme": "none"},
        "prompt": "{{ email.subject }}: {{ email.text }}",
    });
    store_trigger(&db, "mail", mail, &[]).await;
    let form = "application/x-www-form-urlencoded";
    let (s1, first) = post_unsigned(&app, "mail", form, mailgun_form("a@x", None, "first")).await;
    let (s2, _) = post_unsigned(&app, "mail", form, mailgun_form("b@x", Some("a@x"), "second")).await;
    // A reply to the second mail: found by the key the continued thread filed for it.
    let (s3, _) = post_unsigned(&app, "mail", form, mailgun_form("c@x", Some("b@x"), "third")).await;
    let (s4, again) = post_unsigned(&app, "mail", form, mailgun_form("c@x", Some("b@x"), "third")).await;
    assert_eq!(
        (s1, s2, s3, s4),
        (
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::OK
        ),
        "202 unless the scheme is Mailgun's; a duplicate 200: {first}"
    );
    assert_eq!(
        again["status"], "duplicate",
        "the Message-Id deduplicates: {again}"
    );
    let conversation = first["sessionId"].as_str().expect("a session");
    assert_eq!(
        queued(&db).await,
        [
            (conversation.to_owned(), "Invoice 1042: first".to_owned()),
            (conversation.to_owned(), "Invoice 1042: second".to_owned()),
            (conversation.to_owned(), "Invoice 1042: third".to_owned()),
        ]
    );

    let fixture = include_str!("../../src/triggers/inbound/tests/fixtures/mailgun_multipart.txt");
    let (head, body) = fixture.split_once("\n\n").expect("a fixture");
    let content_type = head.strip_prefix("Content-Type: ").expect("its content type");
    let (status, answer) = post_unsigned(&app, "mail", content_type, body.replace('\n', "\r\n")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let session = answer["sessionId"].as_str().expect("a session");
    let request = db
        .fetch_strings(&format!(
            "SELECT request FROM session_jobs WHERE session_id = '{session}'"
        ))
        .await;
    let request: Value = serde_json::from_str(&request[0]).expect("a request");
    let files = request["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{request}");
    assert!(
        files[0]["path"]
            .as_str()
            .unwrap_or_default()
            .starts_with("attachments/"),
        "{request}"
    );
    assert_eq!(files[0]["encoding"], "base64");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(files[0]["content"].as_str().unwrap_or_default())
        .expect("base64");
    assert!(pdf.starts_with(b"%PDF-1.4"), "the attachment's bytes");
    let stored = db.fetch_strings("SELECT path FROM trigger_attachments").await;
    assert_eq!(stored, [files[0]["path"].as_str().unwrap_or_default().to_owned()]);
}

async fn a_trigger_put_through_the_api_takes_deliveries_signed_with_its_secret(db: TestDb) {
    let app = app_with_agent(&db).await;
    let mut definition = webhook_trigger("Order {{ body.n }}", None);
    definition["verify"]["secrets"] = json!([WHSEC]);
    let response = app
        .http
        .put(app.url("/api/v1/triggers/orders"))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&definition)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let (status, answer) = post_signed(&app, "orders", "msg_1", r#"{"n": 3}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(queued(&db).await[0].1, "Order 3");
}

async fn a_mailgun_multipart_mail_with_an_attachment_is_verified_by_its_signature_parts(db: TestDb) {
    let app = app_with_agent(&db).await;
    let key = "key-mailgun-signing-7e1d";
    let mail = json!({
        "agentId": "support-bot", "kind": "email", "verify": {"scheme": "mailgun"},
        "prompt": "{{ email.text }}",
    });
    store_trigger(&db, "mail", mail, &[key]).await;
    let fixture = include_str!("../../src/triggers/inbound/tests/fixtures/mailgun_multipart.txt");
    let (head, body) = fixture.split_once("\n\n").expect("a fixture");
    let content_type = head.strip_prefix("Content-Type: ").expect("its content type");
    // The fixture's signature parts, made valid for now with `key`.
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(format!("{timestamp}9d1c").as_bytes());
    let signature = ::hex::encode(mac.finalize().into_bytes());
    let signed = body
        .replace("1764580400", &timestamp)
        .replace("\nab12\n", &format!("\n{signature}\n"))
        .replace('\n', "\r\n");
    let wrong = signed.replace(&signature, &"0".repeat(64));
    let (status, answer) = post_unsigned(&app, "mail", content_type, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, answer) = post_unsigned(&app, "mail", content_type, signed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "queued", "{answer}");
    let rows = deliveries(&db, "mail").await;
    assert!(
        rows[0].starts_with("refused|-|no secret of the trigger matched"),
        "{rows:?}"
    );
    assert!(
        rows[1].starts_with("queued|") && rows[1].contains("|1|"),
        "verified: {rows:?}"
    );
}
