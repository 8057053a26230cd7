//! Trigger definitions through the real routes (DESIGN §10): create, replace, read, list, delete; bad
//! bodies refused naming the field; signing secrets and reply credentials that never come back in clear,
//! in an answer, a log line of a real `agentctl serve` with debug logging, or a row.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, TestDb, spawn_app};
use crate::logged_serve::{LoggedServe, database_text};
use crate::on_both_backends;

pub const SIGNING_SECRET: &str = "mailgun-signing-key-9d8c7b6a";
pub const API_KEY: &str = "mailgun-api-key-1a2b3c4d5e";

pub async fn put(app: &TestApp, id: &str, body: &Value) -> (StatusCode, Value) {
    let response = app
        .http
        .put(app.url(&format!("/api/v1/triggers/{id}")))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete(app: &TestApp, path: &str) -> StatusCode {
    app.http
        .delete(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send")
        .status()
}

/// An email trigger of `support-bot` that answers through Mailgun.
pub fn definition() -> Value {
    json!({
        "id": "support-mail", "agentId": "support-bot", "kind": "email",
        "verify": {"scheme": "mailgun", "secrets": [SIGNING_SECRET], "toleranceSeconds": 600},
        "prompt": "New mail from {{ email.from }} about {{ email.subject }}:\n{{ email.text }}",
        "reply": {"kind": "mailgun", "from": "Support <support@example.com>", "credentials": {"apiKey": API_KEY}},
        "debounceSeconds": 0
    })
}

/// The agent every trigger here starts.
pub async fn put_agent(app: &TestApp) {
    let (status, answer) = crate::agents::put(app, "support-bot", &json!({"model": "claude-test"})).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

async fn a_trigger_round_trips_and_an_identical_put_changes_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    put_agent(&app).await;
    let (status, first) = put(&app, "support-mail", &definition()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["hookPath"], "/hooks/support-mail");
    assert_eq!(first["verify"]["secrets"][0]["set"], true, "{first}");
    assert_eq!(first["reply"]["credentials"]["apiKey"]["set"], true, "{first}");
    assert_eq!(first["enabled"], true);
    assert!(
        first["createdAt"].is_string() && first["updatedAt"].is_string(),
        "{first}"
    );

    let (status, again) = put(&app, "support-mail", &definition()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again["updatedAt"], first["updatedAt"],
        "an identical PUT stores nothing"
    );

    // GET → edit → PUT: what was shown as {"set": true} keeps its value; a second secret is a rotation.
    let (status, mut shown) = app.get("/api/v1/triggers/support-mail").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown, first);
    shown["debounceSeconds"] = json!(30);
    shown["verify"]["secrets"]
        .as_array_mut()
        .expect("secrets")
        .push(json!("mailgun-signing-key-next"));
    let (status, second) = put(&app, "support-mail", &shown).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["debounceSeconds"], 30);
    assert_eq!(second["createdAt"], first["createdAt"]);
    assert_eq!(
        second["verify"]["secrets"][0], first["verify"]["secrets"][0],
        "kept, same updatedAt"
    );
    assert_eq!(
        second["verify"]["secrets"].as_array().map(Vec::len),
        Some(2),
        "{second}"
    );
    assert_eq!(second["reply"]["credentials"], first["reply"]["credentials"]);
    let sealed = db
        .fetch_strings("SELECT name FROM trigger_secrets WHERE trigger_id = 'support-mail' ORDER BY name")
        .await;
    assert_eq!(
        sealed,
        ["reply.credentials.apiKey", "verify.secrets.0", "verify.secrets.1"]
    );

    // Omitted secrets keep what is stored, too.
    let mut omitted = definition();
    omitted["verify"]
        .as_object_mut()
        .expect("verify")
        .remove("secrets");
    omitted["reply"]
        .as_object_mut()
        .expect("reply")
        .remove("credentials");
    omitted["debounceSeconds"] = json!(30);
    let (status, third) = put(&app, "support-mail", &omitted).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third["verify"]["secrets"], second["verify"]["secrets"]);

    let (status, list) = app.get("/api/v1/triggers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["triggers"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["triggers"][0]["id"], "support-mail");

    assert_eq!(
        delete(&app, "/api/v1/triggers/support-mail").await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = app.get("/api/v1/triggers/support-mail").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        delete(&app, "/api/v1/triggers/support-mail").await,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get("/api/v1/triggers").await;
    assert_eq!(list["triggers"], json!([]));
    assert!(
        db.fetch_strings("SELECT name FROM trigger_secrets")
            .await
            .is_empty(),
        "a deleted trigger's secrets go with it"
    );
    app.stop().await;
}

async fn bad_triggers_are_refused_naming_the_field_and_change_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    put_agent(&app).await;
    let with = |patch: Value| {
        let mut body = definition();
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (with(json!({"id": "someone-else"})), "id"),
        (with(json!({"agentid": "x"})), "agentid"),
        (with(json!({"kind": "fax"})), "kind"),
        (with(json!({"kind": "sms"})), "verify.scheme"),
        (with(json!({"verify": {"scheme": "mailgun"}})), "verify.secrets"),
        (
            with(json!({"verify": {"scheme": "none", "secrets": ["x"]}})),
            "verify.secrets",
        ),
        (
            with(json!({"verify": {"scheme": "mailgun", "secrets": [{"set": true}]}})),
            "verify.secrets[0]",
        ),
        (
            with(json!({"verify": {"scheme": "hmac-sha256", "secrets": ["k"], "encoding": "hex"}})),
            "verify.header",
        ),
        (
            with(json!({"verify": {"scheme": "mailgun", "secrets": ["k"], "toleranceSeconds": 0}})),
            "verify.toleranceSeconds",
        ),
        (with(json!({"prompt": "Hello\n{{ email.from "})), "prompt: line 2"),
        (with(json!({"conversation": "{% for %}"})), "conversation: line 1"),
        (with(json!({"debounceSeconds": 7200})), "debounceSeconds"),
        (
            with(json!({"reply": {"kind": "twilio", "credentials": {"accountSid": "a", "authToken": "b"}}})),
            "reply.kind",
        ),
        (
            with(json!({"reply": {"kind": "mailgun", "from": "support@example.com"}})),
            "reply.credentials.apiKey",
        ),
        (
            with(
                json!({"reply": {"kind": "webhook", "url": "not a url", "credentials": {"secret": "whsec_c2VjcmV0"}}}),
            ),
            "reply.url",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = put(&app, "support-mail", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{field}: {message}");
        assert!(
            !message.contains(SIGNING_SECRET) && !message.contains(API_KEY),
            "{message}"
        );
    }
    let (status, answer) = put(&app, "bad id!", &definition()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = put(&app, "support-mail", &with(json!({"agentId": "nobody"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("nobody"), "{message}");
    let huge = with(json!({"prompt": "x".repeat(300 * 1024)}));
    let (status, _) = put(&app, "support-mail", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = app.get("/api/v1/triggers/support-mail").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    let response = app
        .http
        .put(app.url("/api/v1/triggers/support-mail"))
        .json(&definition())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .http
        .get(app.url("/api/v1/triggers"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn a_trigger_of_a_deleted_agent_is_refused(db: TestDb) {
    let app = spawn_app(&db).await;
    put_agent(&app).await;
    assert_eq!(
        delete(&app, "/api/v1/agents/support-bot").await,
        StatusCode::NO_CONTENT
    );
    let (status, answer) = put(&app, "support-mail", &definition()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("support-bot")),
        "{answer}"
    );
    app.stop().await;
}

async fn no_answer_log_line_or_row_holds_a_trigger_secret(db: TestDb) {
    let serve = LoggedServe::spawn(&db).await;
    let http = reqwest::Client::new();
    let url = |p: &str| serve.url(p);
    let agent = http
        .put(url("/api/v1/agents/support-bot"))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "claude-test"}))
        .send()
        .await
        .expect("put agent");
    assert_eq!(agent.status(), 201);
    let mut answers = Vec::new();
    let put = |body: serde_json::Value| {
        http.put(url("/api/v1/triggers/support-mail"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let created = put(definition()).await.expect("put");
    assert_eq!(created.status(), 201);
    answers.push(created.text().await.expect("text"));
    // Refused PUTs whose secrets would be in the message if errors echoed values.
    let mut bad = definition();
    bad["verify"]["scheme"] = json!("sendgrid");
    let refused = put(bad).await.expect("put");
    assert_eq!(refused.status(), 400);
    answers.push(refused.text().await.expect("text"));
    let mut bad = definition();
    bad["reply"]["credentials"]["authToken"] = json!(API_KEY);
    let refused = put(bad).await.expect("put");
    assert_eq!(refused.status(), 400);
    answers.push(refused.text().await.expect("text"));
    for path in ["/api/v1/triggers", "/api/v1/triggers/support-mail"] {
        let got = http.get(url(path)).bearer_auth(TOKEN).send().await.expect("get");
        answers.push(got.text().await.expect("text"));
    }
    for answer in &answers {
        for secret in [SIGNING_SECRET, API_KEY] {
            assert!(!answer.contains(secret), "an answer holds a secret: {answer}");
        }
    }
    let lines = serve.stop().await;
    assert!(lines.iter().any(|l| l.contains("trigger put")), "{lines:#?}");
    for line in &lines {
        for secret in [SIGNING_SECRET, API_KEY] {
            assert!(!line.contains(secret), "a log line holds a secret: {line}");
        }
    }
    let stored = database_text(&db).await;
    assert!(stored.contains("support-mail"), "the scan reads the rows");
    for secret in [SIGNING_SECRET, API_KEY] {
        assert!(!stored.contains(secret), "the database holds a secret in clear");
    }
}

on_both_backends!(
    no_answer_log_line_or_row_holds_a_trigger_secret,
    a_trigger_round_trips_and_an_identical_put_changes_nothing,
    bad_triggers_are_refused_naming_the_field_and_change_nothing,
    a_trigger_of_a_deleted_agent_is_refused,
);
