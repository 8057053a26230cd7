//! Queued sessions and the claim route (DESIGN §9), driven with plain HTTP as a runtime would.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{SECRET, definition, put};
use crate::helpers::{Options, TestApp, TestDb, eventually, spawn_app, spawn_app_with_options, sup};
use crate::on_both_backends;

async fn queue(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post_public("/api/v1/agents/support-bot/sessions", &body)
        .await
}

async fn claim(app: &TestApp, runtime: &str, labels: Value, free: u32, wait: u64) -> Vec<Value> {
    let (status, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": runtime, "labels": labels, "free": free, "waitSeconds": wait}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["jobs"].as_array().expect("jobs").clone()
}

fn ids(jobs: &[Value]) -> Vec<String> {
    jobs.iter()
        .map(|j| j["sessionId"].as_str().expect("id").to_owned())
        .collect()
}

fn pool() -> Value {
    json!({"pool": "default", "zone": "a"})
}

async fn with_agent(db: &TestDb) -> TestApp {
    let app = spawn_app(db).await;
    let (status, answer) = put(&app, "support-bot", &definition()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    app
}

/// Starts and finishes a claimed session as its runtime would.
async fn finish(app: &TestApp, runtime: &str, sid: &str) {
    let events = [
        sup(
            sid,
            0,
            "session.started",
            json!({"agentId": "support-bot", "pid": 7, "runtimeId": runtime, "runner": "x"}),
        ),
        sup(
            sid,
            1,
            "session.finished",
            json!({"status": "succeeded", "exitCode": 0}),
        ),
    ];
    let (status, answer) = app.ingest(runtime, &events).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("rejected").is_none(), "{answer}");
}

async fn queuing_is_idempotent_and_checks_the_conversation(db: TestDb) {
    let app = with_agent(&db).await;
    let (status, first) = queue(&app, json!({"prompt": "hello", "sessionId": "s-1"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(
        first,
        json!({"sessionId": "s-1", "conversationId": "s-1", "agentVersion": 1, "status": "queued"})
    );
    let (status, again) = queue(&app, json!({"prompt": "hello", "sessionId": "s-1"})).await;
    assert_eq!((status, again), (StatusCode::OK, first.clone()));
    let (status, _) = queue(&app, json!({"prompt": "other", "sessionId": "s-1"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = queue(&app, json!({"prompt": "p", "conversationId": "nope"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, follow) = queue(
        &app,
        json!({"prompt": "more", "sessionId": "s-2", "conversationId": "s-1"}),
    )
    .await;
    assert_eq!(
        (status, follow["conversationId"].clone()),
        (StatusCode::ACCEPTED, json!("s-1"))
    );
    let mut other = definition();
    other["id"] = json!("other-bot");
    put(&app, "other-bot", &other).await;
    let (status, answer) = app
        .post_public(
            "/api/v1/agents/other-bot/sessions",
            &json!({"prompt": "p", "conversationId": "s-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, answer) = queue(&app, json!({"prompt": "p", "env": {"LD_PRELOAD": "x"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = queue(&app, json!({"prompt": "p", "bogus": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = app
        .post_public("/api/v1/agents/nobody/sessions", &json!({"prompt": "p"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    let (_, conversation) = app.get("/api/v1/conversations/s-1").await;
    assert_eq!(conversation["agentId"], "support-bot");
    let order: Vec<&Value> = conversation["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| &s["sessionId"])
        .collect();
    assert_eq!(order, [&json!("s-1"), &json!("s-2")], "{conversation}");
    assert_eq!(conversation["sessions"][1]["agentVersion"], 1);
    let (_, listed) = app.get("/api/v1/sessions?status=queued").await;
    assert_eq!(
        listed["sessions"].as_array().expect("sessions").len(),
        2,
        "{listed}"
    );

    // A queued session is cancelled at once and never claimed.
    let (status, cancelled) = app.post("/api/v1/sessions/s-1/cancel").await;
    assert_eq!(
        (status, cancelled["status"].clone()),
        (StatusCode::OK, json!("cancelled"))
    );
    let jobs = claim(&app, "rt-1", pool(), 10, 0).await;
    assert_eq!(ids(&jobs), ["s-2"], "s-1 never runs; its follow-up may");
    app.stop().await;
}

async fn a_claim_hands_the_resolved_job_to_one_runtime(db: TestDb) {
    let app = with_agent(&db).await;
    queue(
        &app,
        json!({"prompt": "hello", "sessionId": "s-1", "env": {"TICKET": "42", "CRM_TOKEN": "from-caller"}}),
    )
    .await;
    let jobs = claim(&app, "rt-1", pool(), 4, 0).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job["agentId"], "support-bot");
    assert_eq!(job["conversationId"], "s-1");
    assert_eq!(job["agentVersion"], 1);
    assert_eq!(job["options"]["maxTurns"], 5);
    assert_eq!(job["skills"][0]["name"], "refunds");
    assert_eq!(job["files"][0]["path"], "policies/refunds.md");
    assert_eq!(job["timeoutSeconds"], 600);
    assert_eq!(
        job["env"],
        json!({"TZ": "Europe/Berlin", "TICKET": "42", "CRM_TOKEN": SECRET}),
        "the agent's secret wins over the session's env"
    );
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(
        (session["status"].clone(), session["runtimeId"].clone()),
        (json!("pending"), json!("rt-1"))
    );
    assert!(claim(&app, "rt-2", pool(), 4, 0).await.is_empty(), "claimed once");
    // Another runtime's events for it are refused; its claimer's are stored.
    let (_, answer) = app
        .ingest(
            "rt-2",
            &[sup(
                "s-1",
                0,
                "session.started",
                json!({"agentId": "support-bot"}),
            )],
        )
        .await;
    assert_eq!(answer["rejected"]["s-1"]["code"], "runtime_conflict", "{answer}");
    finish(&app, "rt-1", "s-1").await;
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["status"], "succeeded");
    // The lease sweep sees it started: one queue-to-start observation, one claim.
    eventually(Duration::from_secs(10), || async {
        let text = metrics(&app).await;
        text.contains("agentctl_queue_to_start_seconds_count 1")
            .then_some(())
    })
    .await;
    assert!(metrics(&app).await.contains("agentctl_claims_total 1"));
    app.stop().await;
}

async fn a_job_waits_for_a_runtime_its_selector_matches(db: TestDb) {
    let app = with_agent(&db).await;
    queue(&app, json!({"prompt": "p", "sessionId": "s-1"})).await;
    assert!(
        claim(&app, "rt-cpu", json!({"pool": "gpu"}), 4, 1)
            .await
            .is_empty()
    );
    assert!(claim(&app, "rt-none", json!({}), 4, 0).await.is_empty());
    assert_eq!(ids(&claim(&app, "rt-ok", pool(), 4, 0).await), ["s-1"]);
    app.stop().await;
}

async fn sessions_of_a_conversation_run_one_at_a_time_in_order(db: TestDb) {
    let app = with_agent(&db).await;
    queue(&app, json!({"prompt": "1", "sessionId": "a-1"})).await;
    queue(
        &app,
        json!({"prompt": "2", "sessionId": "a-2", "conversationId": "a-1"}),
    )
    .await;
    queue(
        &app,
        json!({"prompt": "3", "sessionId": "a-3", "conversationId": "a-1"}),
    )
    .await;
    queue(&app, json!({"prompt": "x", "sessionId": "b-1"})).await;
    assert_eq!(ids(&claim(&app, "rt-1", pool(), 10, 0).await), ["a-1", "b-1"]);
    // A claimer waiting in long-poll gets a-2 the moment a-1 finishes.
    let waiting = {
        let app_url = app.url("/api/internal/v1/claim");
        let http = app.http.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer: Value = http
                .post(app_url)
                .bearer_auth(crate::helpers::KEY)
                .json(&json!({"runtimeId": "rt-2", "labels": pool(), "free": 10, "waitSeconds": 20}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    finish(&app, "rt-1", "a-1").await;
    let (answer, waited) = waiting.await.expect("claimer");
    assert_eq!(ids(answer["jobs"].as_array().expect("jobs")), ["a-2"]);
    assert!(
        waited < Duration::from_secs(15),
        "answered by the wake-up, not the timeout: {waited:?}"
    );
    assert!(
        claim(&app, "rt-1", pool(), 10, 0).await.is_empty(),
        "a-3 waits for a-2"
    );
    finish(&app, "rt-2", "a-2").await;
    assert_eq!(ids(&claim(&app, "rt-1", pool(), 10, 0).await), ["a-3"]);
    app.stop().await;
}

async fn an_unstarted_claim_is_requeued_in_its_place_and_fails_after_three(db: TestDb) {
    let options = Options {
        claim_lease: Duration::from_secs(1),
        ..Options::default()
    };
    let app = spawn_app_with_options(&db, options).await;
    put(&app, "support-bot", &definition()).await;
    queue(&app, json!({"prompt": "1", "sessionId": "s-1"})).await;
    queue(&app, json!({"prompt": "2", "sessionId": "s-2"})).await;
    for attempt in 1..=3 {
        let jobs = claim(&app, &format!("rt-{attempt}"), pool(), 1, 5).await;
        assert_eq!(
            ids(&jobs),
            ["s-1"],
            "attempt {attempt}: s-1 keeps its place before s-2"
        );
        if attempt < 3 {
            eventually(Duration::from_secs(10), || async {
                let (_, s) = app.get("/api/v1/sessions/s-1").await;
                (s["status"] == "queued").then_some(())
            })
            .await;
        }
    }
    let failed = eventually(Duration::from_secs(10), || async {
        let (_, s) = app.get("/api/v1/sessions/s-1").await;
        (s["status"] == "failed").then_some(s)
    })
    .await;
    assert!(
        failed["error"].as_str().expect("error").contains("3 times"),
        "{failed}"
    );
    assert_eq!(ids(&claim(&app, "rt-9", pool(), 5, 0).await), ["s-2"]);
    let (_, metrics) = (StatusCode::OK, metrics(&app).await);
    assert!(metrics.contains("agentctl_lease_expiries_total 3"), "{metrics}");
    app.stop().await;
}

async fn the_claim_route_refuses_bad_input(db: TestDb) {
    let app = with_agent(&db).await;
    let (status, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "rt-1", "free": 1, "waitSeconds": 31}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .expect("message")
            .contains("waitSeconds"),
        "{answer}"
    );
    let (status, answer) = app
        .post_internal("/api/internal/v1/claim", &json!({"runtimeId": "rt-1"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .expect("message")
            .contains("free"),
        "{answer}"
    );
    let (status, answer) = app
        .post_internal("/api/internal/v1/claim", &json!({"runtimeId": " ", "free": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let response = app
        .http
        .post(app.url("/api/internal/v1/claim"))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&json!({"runtimeId": "rt-1", "free": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the public token is not an internal key"
    );
    queue(&app, json!({"prompt": "p", "sessionId": "s-1"})).await;
    assert!(
        claim(&app, "rt-1", pool(), 0, 0).await.is_empty(),
        "free 0 claims nothing"
    );
    let (_, session) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(session["status"], "queued", "nothing changed");
    app.stop().await;
}

async fn a_claimed_session_of_a_silent_runtime_is_requeued_not_lost(db: TestDb) {
    let options = Options {
        heartbeat_timeout: Duration::from_secs(1),
        claim_lease: Duration::from_secs(3),
        ..Options::default()
    };
    let app = spawn_app_with_options(&db, options).await;
    put(&app, "support-bot", &definition()).await;
    queue(&app, json!({"prompt": "p", "sessionId": "s-1"})).await;
    assert_eq!(ids(&claim(&app, "rt-dead", pool(), 1, 0).await), ["s-1"]);
    // rt-dead never heartbeats again: the lease, not the heartbeat sweeper, decides.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = BTreeSet::new();
    loop {
        let (_, session) = app.get("/api/v1/sessions/s-1").await;
        let status = session["status"].as_str().expect("status").to_owned();
        if status == "queued" {
            break;
        }
        seen.insert(status);
        assert!(
            Instant::now() < deadline,
            "not requeued within 15 s; statuses seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!seen.contains("lost"), "statuses seen: {seen:?}");
    assert_eq!(ids(&claim(&app, "rt-alive", pool(), 1, 0).await), ["s-1"]);
    app.stop().await;
}

/// The gauge a Kubernetes autoscaler reads (deploy/kubernetes/): queued sessions per agent. Its query once
/// named a column both joined tables have, which both backends refuse, so the gauge was never rendered.
async fn the_metrics_count_the_queued_sessions_of_each_agent(db: TestDb) {
    let app = with_agent(&db).await;
    for sid in ["s-1", "s-2"] {
        let (status, answer) = queue(&app, json!({"prompt": "p", "sessionId": sid})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let text = metrics(&app).await;
    assert!(
        text.contains("agentctl_sessions_queued{agent_id=\"support-bot\"} 2"),
        "{text}"
    );
    assert_eq!(claim(&app, "rt-1", pool(), 1, 0).await.len(), 1);
    let text = metrics(&app).await;
    assert!(
        text.contains("agentctl_sessions_queued{agent_id=\"support-bot\"} 1"),
        "{text}"
    );
    app.stop().await;
}

async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text")
}

/// Claims concurrently from `claimers` tasks spread over `apps` until `n` sessions were handed out.
async fn claim_all(apps: &[&TestApp], claimers: usize, n: usize) -> BTreeMap<String, usize> {
    let mut tasks = Vec::new();
    for i in 0..claimers {
        let app = apps[i % apps.len()];
        let (url, http) = (app.url("/api/internal/v1/claim"), app.http.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut empty = 0;
            while empty < 3 {
                let answer: Value = http
                    .post(&url)
                    .bearer_auth(crate::helpers::KEY)
                    .json(&json!({"runtimeId": format!("rt-{i}"), "labels": pool(), "free": 3, "waitSeconds": 1}))
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json");
                let jobs = ids(answer["jobs"].as_array().expect("jobs"));
                if jobs.is_empty() {
                    empty += 1;
                }
                got.extend(jobs);
            }
            got
        }));
    }
    let mut counts = BTreeMap::new();
    for task in tasks {
        for id in task.await.expect("claimer") {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    assert_eq!(counts.len(), n, "every session claimed");
    counts
}

async fn concurrent_claimers_get_each_session_exactly_once(db: TestDb) {
    let app = with_agent(&db).await;
    for i in 0..50 {
        queue(&app, json!({"prompt": "p", "sessionId": format!("s-{i:02}")})).await;
    }
    let counts = claim_all(&[&app], 4, 50).await;
    let twice: BTreeSet<&String> = counts
        .iter()
        .filter(|(_, n)| **n != 1)
        .map(|(id, _)| id)
        .collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    app.stop().await;
}

on_both_backends!(
    queuing_is_idempotent_and_checks_the_conversation,
    a_claim_hands_the_resolved_job_to_one_runtime,
    a_job_waits_for_a_runtime_its_selector_matches,
    sessions_of_a_conversation_run_one_at_a_time_in_order,
    an_unstarted_claim_is_requeued_in_its_place_and_fails_after_three,
    concurrent_claimers_get_each_session_exactly_once,
    the_claim_route_refuses_bad_input,
    a_claimed_session_of_a_silent_runtime_is_requeued_not_lost,
    the_metrics_count_the_queued_sessions_of_each_agent,
);

/// Two replicas on one PostgreSQL: 50 sessions claimed by 4 claimers, each exactly once, and a claimer
/// waiting on one replica gets a job queued through the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_the_queue_and_wake_each_others_claimers() {
    let Some(db) = TestDb::new(crate::helpers::Kind::Postgres).await else {
        return;
    };
    let a = with_agent(&db).await;
    let b = spawn_app(&db).await;
    let waiting = {
        let (url, http) = (a.url("/api/internal/v1/claim"), a.http.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let answer: Value = http
                .post(url)
                .bearer_auth(crate::helpers::KEY)
                .json(&json!({"runtimeId": "rt-wait", "labels": pool(), "free": 1, "waitSeconds": 25}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            (answer, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = queue(&b, json!({"prompt": "p", "sessionId": "first"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (answer, waited) = waiting.await.expect("claimer");
    assert_eq!(ids(answer["jobs"].as_array().expect("jobs")), ["first"]);
    assert!(
        waited < Duration::from_secs(20),
        "woken by the other replica's ring: {waited:?}"
    );

    for i in 0..50 {
        let app = if i % 2 == 0 { &a } else { &b };
        queue(app, json!({"prompt": "p", "sessionId": format!("s-{i:02}")})).await;
    }
    let counts = claim_all(&[&a, &b], 4, 50).await;
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    a.stop().await;
    b.stop().await;
}
