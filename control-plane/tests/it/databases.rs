//! An agent's `databases` through the real routes (issue 15 part 2): each URL a write-only secret (never in
//! an answer), kept by `{"set": true}`, a new version when a URL or `readOnly` changes and none for an
//! unchanged body; a URL that does not parse refused naming `databases[i].url` without quoting it; a claimed
//! job carrying the URL in clear, and the URL not among the job's environment.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::put;
use crate::helpers::{TestApp, TestDb, spawn_app};
use crate::on_both_backends;

const PASSWORD: &str = "db-pass-7c1e9a2b";

fn url(db: &str) -> String {
    format!("postgres://crm_reader:{PASSWORD}@db.internal:5432/{db}")
}

fn agent(databases: Value) -> Value {
    json!({"model": "claude-test", "secrets": {"CRM_TOKEN": "crm-token-value-1"}, "databases": databases})
}

/// Fails when `answer` holds the password (and so any of the URLs) anywhere.
#[track_caller]
fn shows_no_url(answer: &Value) {
    let text = answer.to_string();
    assert!(!text.contains(PASSWORD), "the URL shows: {text}");
}

async fn get_all(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/agents/crm-bot",
        "/api/v1/agents/crm-bot?version=1",
        "/api/v1/agents",
        "/api/v1/agents/crm-bot/versions",
    ] {
        let (status, answer) = app.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
        out.push(answer);
    }
    out
}

async fn databases_round_trip_as_write_only_secrets(db: TestDb) {
    let app = spawn_app(&db).await;
    let body = agent(
        json!([{"name": "crm", "url": url("crm")}, {"name": "ledger", "url": url("ledger"), "readOnly": false}]),
    );
    let (status, first) = put(&app, "crm-bot", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    shows_no_url(&first);
    assert_eq!(first["version"], 1);
    let crm = &first["databases"][0];
    assert_eq!(
        (crm["name"].clone(), crm["readOnly"].clone()),
        (json!("crm"), json!(true)),
        "{first}"
    );
    assert_eq!(crm["url"]["set"], true, "{first}");
    assert!(crm["url"]["updatedAt"].is_string(), "{first}");
    assert_eq!(first["databases"][1]["readOnly"], false, "{first}");
    // A database's URL is no environment secret: `secrets` shows only the agent's own.
    assert_eq!(first["secrets"].as_object().map(|s| s.len()), Some(1), "{first}");

    // The same body (the same URLs): no new version.
    let (status, again) = put(&app, "crm-bot", &body).await;
    assert_eq!(
        (status, again["version"].clone()),
        (StatusCode::OK, json!(1)),
        "{again}"
    );
    // GET → PUT round-trips: `{"set": true}` keeps each URL, and the stored entry with its updatedAt.
    let (_, shown) = app.get("/api/v1/agents/crm-bot").await;
    let (status, kept) = put(&app, "crm-bot", &shown).await;
    assert_eq!(
        (status, kept["version"].clone()),
        (StatusCode::OK, json!(1)),
        "{kept}"
    );
    assert_eq!(kept["databases"], first["databases"]);

    // A new URL: a new version, its updatedAt moves, the other database's stays.
    let mut changed = shown.clone();
    changed["databases"][0]["url"] = json!(url("crm2"));
    let (_, second) = put(&app, "crm-bot", &changed).await;
    assert_eq!(second["version"], 2, "{second}");
    shows_no_url(&second);
    assert_ne!(second["databases"][0]["url"], first["databases"][0]["url"]);
    assert_eq!(second["databases"][1]["url"], first["databases"][1]["url"]);
    // readOnly changed: a new version.
    let mut writable = second.clone();
    writable["databases"][0]["readOnly"] = json!(false);
    let (_, third) = put(&app, "crm-bot", &writable).await;
    assert_eq!(third["version"], 3, "{third}");
    // A database left out is gone; `{"set": true}` for one never stored is refused.
    let (status, refused) = put(
        &app,
        "crm-bot",
        &agent(json!([{"name": "other", "url": {"set": true}}])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("databases[0].url"), "{refused}");
    let (_, fourth) = put(&app, "crm-bot", &agent(json!([]))).await;
    assert_eq!(fourth["version"], 4, "{fourth}");
    assert!(fourth.get("databases").is_none(), "{fourth}");
    for answer in get_all(&app).await {
        shows_no_url(&answer);
    }
    app.stop().await;
}

async fn a_bad_database_is_refused_naming_the_field_without_the_url(db: TestDb) {
    let app = spawn_app(&db).await;
    let cases = [
        (
            json!([{"name": "crm", "url": format!("mysql://u:{PASSWORD}@h/db")}]),
            "databases[0].url",
        ),
        (
            json!([{"name": "crm", "url": format!("not a url {PASSWORD}")}]),
            "databases[0].url",
        ),
        (
            json!([{"name": "a", "url": url("a")}, {"name": "crm", "url": format!("postgres://u:{PASSWORD}@[::1/db")}]),
            "databases[1].url",
        ),
        (json!([{"name": "Crm", "url": url("a")}]), "databases[0].name"),
        (
            json!([{"name": "a", "url": url("a")}, {"name": "a", "url": url("b")}]),
            "databases[1].name",
        ),
    ];
    for (databases, field) in cases {
        let (status, answer) = put(&app, "crm-bot", &agent(databases)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{field}: {message}");
        shows_no_url(&answer);
    }
    let mut clash = agent(json!([{"name": "files", "url": url("a")}]));
    clash["mcpServers"] = json!({"files": {"command": "mcp-files"}});
    let (status, answer) = put(&app, "crm-bot", &clash).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("mcpServers"), "{answer}");
    let (status, _) = app.get("/api/v1/agents/crm-bot").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
    app.stop().await;
}

async fn a_claimed_job_carries_each_url_in_clear_beside_the_environment(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut body = agent(json!([{"name": "crm", "url": url("crm")}]));
    body["runtimeSelector"] = json!({"pool": "db"});
    let (status, answer) = put(&app, "crm-bot", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, queued) = app
        .post_public(
            "/api/v1/agents/crm-bot/sessions",
            &json!({"prompt": "p", "sessionId": "s-db"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let (status, claimed) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "rt-1", "labels": {"pool": "db"}, "free": 1, "waitSeconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let job = &claimed["jobs"][0];
    assert_eq!(
        job["databases"],
        json!([{"name": "crm", "url": url("crm"), "readOnly": true}]),
        "{claimed}"
    );
    assert_eq!(job["env"], json!({"CRM_TOKEN": "crm-token-value-1"}), "{claimed}");
    let (_, session) = app.get("/api/v1/sessions/s-db").await;
    shows_no_url(&session);
    app.stop().await;
}

on_both_backends!(
    databases_round_trip_as_write_only_secrets,
    a_bad_database_is_refused_naming_the_field_without_the_url,
    a_claimed_job_carries_each_url_in_clear_beside_the_environment,
);
