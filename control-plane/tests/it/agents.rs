//! Agent definitions through the real routes (DESIGN §9): versions, bad input, deletion, and secrets that
//! never come back in clear.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TOKEN, TestApp, TestDb, spawn_app};
use crate::on_both_backends;

pub const SECRET: &str = "crm-token-5f1e2d3c4b5a";

pub async fn put(app: &TestApp, id: &str, body: &Value) -> (StatusCode, Value) {
    let response = app
        .http
        .put(app.url(&format!("/api/v1/agents/{id}")))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn definition() -> Value {
    json!({
        "id": "support-bot", "description": "Answers support mail", "model": "claude-test",
        "maxTurns": 5, "allowedTools": ["Bash", "Skill"],
        "skills": [{"name": "refunds", "files": {"SKILL.md": "---\nname: refunds\ndescription: Refund rules\n---\nBody\n"}}],
        "files": [{"path": "policies/refunds.md", "content": "30 days", "encoding": "utf8"}],
        "env": {"TZ": "Europe/Berlin"},
        "secrets": {"CRM_TOKEN": SECRET},
        "timeoutSeconds": 600,
        "runtimeSelector": {"pool": "default"}
    })
}

async fn versions_are_immutable_and_an_unchanged_put_keeps_the_version(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, first) = put(&app, "support-bot", &definition()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["version"], 1);
    assert!(
        first["createdAt"].is_string() && first["updatedAt"].is_string(),
        "{first}"
    );
    assert_eq!(first["secrets"]["CRM_TOKEN"]["set"], true, "{first}");

    let (status, again) = put(&app, "support-bot", &definition()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["version"], 1, "an unchanged body keeps the version");

    // GET → edit → PUT round-trips: the secret shown as {"set": true} keeps its value.
    let (_, mut shown) = app.get("/api/v1/agents/support-bot").await;
    shown["maxTurns"] = json!(7);
    let (status, second) = put(&app, "support-bot", &shown).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["version"], 2);
    assert_eq!(
        second["secrets"]["CRM_TOKEN"], first["secrets"]["CRM_TOKEN"],
        "kept, same updatedAt"
    );

    let (_, v1) = app.get("/api/v1/agents/support-bot?version=1").await;
    assert_eq!(
        (v1["version"].clone(), v1["maxTurns"].clone()),
        (json!(1), json!(5))
    );
    let (_, latest) = app.get("/api/v1/agents/support-bot").await;
    assert_eq!(
        (latest["version"].clone(), latest["maxTurns"].clone()),
        (json!(2), json!(7))
    );
    let (_, versions) = app.get("/api/v1/agents/support-bot/versions").await;
    let numbers: Vec<&Value> = versions["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(numbers, [&json!(1), &json!(2)], "{versions}");
    let (_, list) = app.get("/api/v1/agents").await;
    assert_eq!(list["agents"].as_array().expect("agents").len(), 1, "{list}");
    let (status, _) = app.get("/api/v1/agents/support-bot?version=9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn bad_definitions_are_refused_naming_the_field_and_change_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    let with = |patch: Value| {
        let mut body = definition();
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (with(json!({"maxturns": 3})), "maxturns"),
        (
            with(json!({"skills": [{"name": "Bad_Name", "files": {"SKILL.md": "x"}}]})),
            "skills[0].name",
        ),
        (with(json!({"env": {"LD_PRELOAD": "/x.so"}})), "env.LD_PRELOAD"),
        (with(json!({"secrets": {"1BAD": "value-1234"}})), "secrets.1BAD"),
        (with(json!({"id": "someone-else"})), "id"),
        (with(json!({"permissionMode": "yolo"})), "permissionMode"),
    ];
    for (body, field) in cases {
        let (status, answer) = put(&app, "support-bot", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{field}: {message}");
    }
    let (status, answer) = put(&app, "bad id!", &definition()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let huge = with(json!({"description": "x".repeat(5 * 1024 * 1024)}));
    let (status, _) = put(&app, "support-bot", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = app.get("/api/v1/agents/support-bot").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    let response = app
        .http
        .put(app.url("/api/v1/agents/support-bot"))
        .json(&definition())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn a_deleted_agent_takes_no_sessions_and_its_history_stays_readable(db: TestDb) {
    let app = spawn_app(&db).await;
    put(&app, "support-bot", &definition()).await;
    let response = app
        .http
        .delete(app.url("/api/v1/agents/support-bot"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/v1/agents/support-bot").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v1) = app.get("/api/v1/agents/support-bot?version=1").await;
    assert_eq!((status, v1["version"].clone()), (StatusCode::OK, json!(1)));
    let (_, versions) = app.get("/api/v1/agents/support-bot/versions").await;
    assert!(versions["deletedAt"].is_string(), "{versions}");
    let (_, list) = app.get("/api/v1/agents").await;
    assert_eq!(list["agents"], json!([]));
    let (status, answer) = app
        .post_public("/api/v1/agents/support-bot/sessions", &json!({"prompt": "hi"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // Put again: the next version, so a session's version always names one definition.
    let (status, back) = put(&app, "support-bot", &definition()).await;
    assert_eq!((status, back["version"].clone()), (StatusCode::CREATED, json!(2)));
    app.stop().await;
}

/// Without a configured key: SQLite generates one beside the database file (0600); PostgreSQL refuses
/// agents with secrets, naming the flag, since its replicas must share one key.
async fn without_a_configured_key_sqlite_keeps_one_and_postgres_refuses_secrets(db: TestDb) {
    let options = crate::helpers::Options {
        secrets_key: control_plane::secrets::KeySource::Default,
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with_options(&db, options).await;
    let (status, answer) = put(&app, "support-bot", &definition()).await;
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let key = std::fs::metadata(format!("{path}.secrets-key")).expect("a generated key");
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
            0o600
        );
    } else {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("secrets.CRM_TOKEN") && message.contains("--secrets-key-file"),
            "{message}"
        );
        let mut plain = definition();
        plain["secrets"] = json!({});
        let (status, answer) = put(&app, "support-bot", &plain).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "an agent without secrets needs no key: {answer}"
        );
    }
    app.stop().await;
}

on_both_backends!(
    without_a_configured_key_sqlite_keeps_one_and_postgres_refuses_secrets,
    versions_are_immutable_and_an_unchanged_put_keeps_the_version,
    bad_definitions_are_refused_naming_the_field_and_change_nothing,
    a_deleted_agent_takes_no_sessions_and_its_history_stays_readable,
);
