//! `GET /api/v1/runtimes` and what heartbeats report of a runtime (labels, capacity, state). Every test
//! runs on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Ending, TestDb, eventually, spawn_app, spawn_app_with, transcript};

crate::on_both_backends!(
    runtimes_are_listed_with_labels_capacity_running_sessions_and_state,
    a_runtime_whose_heartbeats_stopped_is_listed_lost,
    a_heartbeat_that_says_lost_is_refused_and_changes_nothing,
);

/// The list without the heartbeat time (which a test cannot know), for comparing.
fn without_times(list: &Value) -> Value {
    let mut list = list.clone();
    for runtime in list["runtimes"].as_array_mut().expect("runtimes") {
        let at = runtime
            .as_object_mut()
            .expect("a runtime")
            .remove("lastHeartbeatAt")
            .expect("lastHeartbeatAt");
        assert!(
            humantime::parse_rfc3339(at.as_str().expect("text")).is_ok(),
            "lastHeartbeatAt is RFC 3339: {at}"
        );
    }
    list
}

async fn runtimes_are_listed_with_labels_capacity_running_sessions_and_state(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest(
        "rt-gpu",
        &transcript("s-1", "rt-gpu", "cancelled", Ending::Running),
    )
    .await;
    app.ingest(
        "rt-gpu",
        &transcript("s-2", "rt-gpu", "cancelled", Ending::Running),
    )
    .await;
    app.ingest(
        "rt-gpu",
        &transcript("s-3", "rt-gpu", "success", Ending::Succeeded),
    )
    .await;
    let (status, _) = app
        .post_internal(
            "/api/internal/v1/heartbeat",
            &json!({"runtimeId": "rt-gpu", "version": "0.2.0", "sessions": ["s-1", "s-2"],
                    "labels": {"pool": "gpu", "zone": "eu-1"}, "capacity": 4, "state": "active"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A supervisor of before labels sends none of the new fields.
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-old", "version": "0.1.0", "sessions": []}),
    )
    .await;
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-leaving", "version": "0.2.0", "sessions": [],
                "labels": {"pool": "default"}, "capacity": 16, "state": "draining"}),
    )
    .await;

    let (status, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        without_times(&list),
        json!({"runtimes": [
            {"runtimeId": "rt-gpu", "version": "0.2.0", "labels": {"pool": "gpu", "zone": "eu-1"},
             "capacity": 4, "running": 2, "state": "active"},
            {"runtimeId": "rt-leaving", "version": "0.2.0", "labels": {"pool": "default"},
             "capacity": 16, "running": 0, "state": "draining"},
            {"runtimeId": "rt-old", "version": "0.1.0", "labels": {}, "capacity": null, "running": 0,
             "state": "active"},
        ]})
    );
    // A later heartbeat replaces what the earlier one said.
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-gpu", "version": "0.2.0", "sessions": ["s-1", "s-2"],
                "labels": {"pool": "gpu"}, "capacity": 4, "state": "draining"}),
    )
    .await;
    let (_, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(list["runtimes"][0]["labels"], json!({"pool": "gpu"}));
    assert_eq!(list["runtimes"][0]["state"], "draining");
    // The list is the public API's: it takes the API token, not the internal key, and nothing else.
    let response = app
        .http
        .get(app.url("/api/v1/runtimes"))
        .bearer_auth(crate::helpers::KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn a_runtime_whose_heartbeats_stopped_is_listed_lost(db: TestDb) {
    let app = spawn_app_with(&db, Duration::from_millis(400)).await;
    let beat = |id: &str| {
        json!({"runtimeId": id, "version": "0.2.0", "sessions": [], "labels": {}, "capacity": 2,
               "state": "draining"})
    };
    app.post_internal("/api/internal/v1/heartbeat", &beat("rt-quiet"))
        .await;
    let state_of = |list: &Value, id: &str| -> Value {
        list["runtimes"]
            .as_array()
            .expect("runtimes")
            .iter()
            .find(|r| r["runtimeId"] == id)
            .map(|r| r["state"].clone())
            .unwrap_or(Value::Null)
    };
    let (_, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(state_of(&list, "rt-quiet"), "draining");
    eventually(Duration::from_secs(10), || async {
        app.post_internal("/api/internal/v1/heartbeat", &beat("rt-alive"))
            .await;
        let (_, list) = app.get("/api/v1/runtimes").await;
        (state_of(&list, "rt-quiet") == "lost").then_some(list)
    })
    .await;
    let (_, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(
        state_of(&list, "rt-alive"),
        "draining",
        "a heartbeating runtime is what it says"
    );
    // It comes back: it is what it reports again.
    app.post_internal("/api/internal/v1/heartbeat", &beat("rt-quiet"))
        .await;
    let (_, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(state_of(&list, "rt-quiet"), "draining");
    app.stop().await;
}

async fn a_heartbeat_that_says_lost_is_refused_and_changes_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    app.post_internal(
        "/api/internal/v1/heartbeat",
        &json!({"runtimeId": "rt-1", "version": "0.2.0", "sessions": [], "state": "active"}),
    )
    .await;
    for (body, field) in [
        (
            json!({"runtimeId": "rt-1", "version": "0.2.0", "sessions": [], "state": "lost"}),
            "state",
        ),
        (
            json!({"runtimeId": "rt-1", "version": "0.2.0", "sessions": [], "state": "sleeping"}),
            "state",
        ),
        (
            json!({"runtimeId": "rt-1", "version": "0.2.0", "sessions": [], "labels": {"pool": 1}}),
            "labels.pool",
        ),
        (
            json!({"runtimeId": "rt-1", "version": "0.2.0", "sessions": [], "capacity": -1}),
            "capacity",
        ),
    ] {
        let (status, answer) = app.post_internal("/api/internal/v1/heartbeat", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let (_, list) = app.get("/api/v1/runtimes").await;
    assert_eq!(list["runtimes"][0]["state"], "active");
    app.stop().await;
}
