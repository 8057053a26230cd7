//! `agentctl serve --retention` (issue 14): old finished sessions go with their events and the rows only
//! they own, in bounded batches; queued, running and young ones stay, as do a session whose reply is owed
//! and what a live conversation's next turn reads; an idle conversation goes whole. Data is written through the ingest API as a runtime would;
//! the server that sweeps is a second one on the same database, so its first sweep (at start) finds it all.

use std::time::{Duration, Instant};

use control_plane::retention::Retention;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{definition, put};
use crate::helpers::{KEY, Options, TOKEN, TestApp, TestDb, spawn_app_with_options};
use crate::logged_serve::LoggedServe;
use crate::on_both_backends;

pub const HOUR_MS: i64 = 3_600_000;
const SDK_ID: &str = "46a3fd50-0000-4000-8000-000000000000";

/// A server with `--retention` (1 h) or without.
pub async fn serve(db: &TestDb, retention: Option<Duration>) -> TestApp {
    spawn_app_with_options(
        db,
        Options {
            retention: Retention(retention),
            ..Options::default()
        },
    )
    .await
}

/// An event stamped `at_ms`.
pub fn event(sid: &str, seq: u64, source: &str, kind: &str, data: Value, at_ms: i64) -> Value {
    json!({"sessionId": sid, "seq": seq, "ts": control_plane::time::rfc3339_ms(at_ms), "source": source,
        "type": kind, "data": data})
}

/// A whole session of `lines` text events, started and finished at `at_ms` (`finished`: with its
/// `session.finished`).
pub fn session(sid: &str, lines: u64, at_ms: i64, finished: bool) -> Vec<Value> {
    let mut events = vec![event(
        sid,
        0,
        "supervisor",
        "session.started",
        json!({"pid": 7, "runtimeId": "rt-a", "runner": "x"}),
        at_ms,
    )];
    for seq in 1..=lines {
        events.push(event(
            sid,
            seq,
            "agent",
            "text",
            json!({"text": format!("line {seq}")}),
            at_ms,
        ));
    }
    if finished {
        events.push(event(
            sid,
            lines + 1,
            "supervisor",
            "session.finished",
            json!({"status": "succeeded", "exitCode": 0}),
            at_ms,
        ));
    }
    events
}

/// Ingests `events` in batches of 5,000, each answered 200 with nothing rejected.
pub async fn ingest_all(app: &TestApp, events: &[Value]) {
    for chunk in events.chunks(5_000) {
        let (status, answer) = app.ingest("rt-a", chunk).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer.get("rejected").is_none(), "{answer}");
    }
}

/// The value of one counter of `GET /metrics`.
pub async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Waits (at most a minute) until the server has deleted `sessions` sessions.
pub async fn until_deleted(app: &TestApp, sessions: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let deleted = counter(app, "agentctl_retention_deleted_sessions_total").await;
        if deleted >= sessions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{deleted} of {sessions} sessions deleted after a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(app: &TestApp, sid: &str) -> StatusCode {
    app.get(&format!("/api/v1/sessions/{sid}")).await.0
}

pub async fn claim(app: &TestApp) -> Vec<Value> {
    let (status, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "rt-a", "labels": {"pool": "default"}, "free": 10, "waitSeconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["jobs"].as_array().expect("jobs").clone()
}

/// Queues a turn of support-bot (`conversation`: continuing that one).
async fn queue(app: &TestApp, sid: &str, conversation: Option<&str>) {
    let mut body = json!({"prompt": "hello", "sessionId": sid});
    if let Some(c) = conversation {
        body["conversationId"] = c.into();
    }
    let (status, answer) = app
        .post_public("/api/v1/agents/support-bot/sessions", &body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

/// Queues, claims and runs a turn that saves a complete state, finishing at `at_ms`.
async fn turn(app: &TestApp, sid: &str, conversation: Option<&str>, at_ms: i64) {
    turn_saving(app, sid, conversation, at_ms, true).await;
}

/// Like `turn`; with `complete` false the state's last piece never came (a turn cancelled mid-save).
async fn turn_saving(app: &TestApp, sid: &str, conversation: Option<&str>, at_ms: i64, complete: bool) {
    queue(app, sid, conversation).await;
    let jobs = claim(app).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let piece = json!({"type": "conversation.state", "sdkSessionId": SDK_ID,
        "configDir": "/w/.claude", "seq": 0, "path": "t.jsonl", "data": format!("state of {sid}\n"),
        "last": complete});
    let events = vec![
        event(
            sid,
            0,
            "supervisor",
            "session.started",
            json!({"agentId": "support-bot", "pid": 7, "runtimeId": "rt-a", "runner": "x"}),
            at_ms,
        ),
        event(sid, 1, "agent", "conversation.state", piece, at_ms),
        event(
            sid,
            2,
            "supervisor",
            "session.finished",
            json!({"status": "succeeded", "exitCode": 0}),
            at_ms,
        ),
    ];
    ingest_all(app, &events).await;
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    let rows = db.fetch_strings(&format!("SELECT CAST(({sql}) AS TEXT)")).await;
    rows[0].parse().expect("a count")
}

async fn old_sessions_go_with_their_events_and_the_rest_stays(db: TestDb) {
    let now = control_plane::time::now_ms();
    let old = now - 2 * HOUR_MS;
    let seeder = serve(&db, None).await;
    let (code, answer) = put(&seeder, "support-bot", &definition()).await;
    assert_eq!(code, StatusCode::CREATED, "{answer}");
    // 30 old sessions of 1,000 lines and one of 60,000 (more than one transaction may delete).
    let mut events = Vec::new();
    for i in 0..30 {
        events.extend(session(&format!("old-{i}"), 1_000, old, true));
    }
    events.extend(session("old-big", 60_000, old, true));
    let old_events = events.len() as u64;
    events.extend(session("young", 10, now, true));
    events.extend(session("running", 10, old, false));
    events.extend(session("owed", 10, old, true));
    ingest_all(&seeder, &events).await;
    // The reply of `owed` is not sent yet (its next attempt a day away, so the reply worker leaves it).
    db.execute(&format!(
        "INSERT INTO trigger_replies (session_id, trigger_id, delivery_id, status, next_ms) \
         VALUES ('owed', 't', 'd', 'pending', {})",
        now + 24 * HOUR_MS
    ))
    .await;
    // A live conversation of two old turns and a young one that saved no complete state: the second
    // holds the state its next turn reads, so it stays though it is old; the first goes.
    turn(&seeder, "k-1", None, old).await;
    turn(&seeder, "k-2", Some("k-1"), old).await;
    turn_saving(&seeder, "k-3", Some("k-1"), now, false).await;
    // An idle conversation (every turn old and finished): it goes whole.
    turn(&seeder, "d-1", None, old).await;
    turn(&seeder, "d-2", Some("d-1"), old).await;
    // A one-turn conversation, old: it goes.
    turn(&seeder, "one", None, old).await;
    // A conversation with a queued turn: the old turn before it holds that turn's state.
    turn(&seeder, "q-1", None, old).await;
    queue(&seeder, "q-2", Some("q-1")).await;
    // A session still queued, in a conversation of its own.
    queue(&seeder, "queued", None).await;
    seeder.stop().await;

    let app = serve(&db, Some(Duration::from_secs(3_600))).await;
    until_deleted(&app, 35).await;
    let mut kept = Vec::new();
    for sid in ["young", "running", "owed", "k-2", "k-3", "q-1", "q-2", "queued"] {
        kept.push((sid, status(&app, sid).await));
    }
    assert_eq!(
        counter(&app, "agentctl_retention_deleted_sessions_total").await,
        35,
        "{kept:?}"
    );
    assert_eq!(
        counter(&app, "agentctl_retention_deleted_events_total").await,
        old_events + 4 * 3,
        "the old sessions' events, k-1's, d-1's, d-2's and one's"
    );
    for gone in ["old-0", "old-29", "old-big", "k-1", "d-1", "d-2", "one"] {
        assert_eq!(status(&app, gone).await, StatusCode::NOT_FOUND, "{gone}");
    }
    for kept in ["young", "running", "owed", "k-2", "k-3", "q-1", "q-2", "queued"] {
        assert_eq!(status(&app, kept).await, StatusCode::OK, "{kept}");
    }
    for table in ["events", "conversation_state", "session_jobs", "trigger_replies"] {
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE session_id LIKE 'old-%' OR session_id LIKE 'd-%' \
                     OR session_id IN ('k-1', 'one')"
                )
            )
            .await,
            0,
            "no {table} rows of deleted sessions are left"
        );
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE session_id = 'young'").await,
        12
    );
    // The idle conversation is gone: a turn for it is refused as for any unknown conversation.
    let (code, answer) = app
        .post_public(
            "/api/v1/agents/support-bot/sessions",
            &json!({"prompt": "hello", "sessionId": "d-3", "conversationId": "d-1"}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{answer}");
    // The live conversations go on: k-4 continues from k-2's state, q-2 from q-1's.
    queue(&app, "k-4", Some("k-1")).await;
    let mut jobs = claim(&app).await;
    jobs.sort_by_key(|j| j["sessionId"].as_str().map(str::to_owned));
    let carried: Vec<(String, String)> = jobs
        .iter()
        .map(|j| {
            (
                j["sessionId"].as_str().unwrap_or_default().to_owned(),
                j["conversation"]["files"][0]["content"]
                    .as_str()
                    .unwrap_or("none")
                    .to_owned(),
            )
        })
        .collect();
    let want = |s: &str, c: &str| (s.to_owned(), c.to_owned());
    assert_eq!(
        carried,
        vec![
            want("k-4", "state of k-2\n"),
            want("q-2", "state of q-1\n"),
            want("queued", "none"),
        ]
    );
    app.stop().await;
}

async fn retention_off_deletes_nothing(db: TestDb) {
    let ancient = control_plane::time::now_ms() - 300 * 24 * HOUR_MS;
    let seeder = serve(&db, None).await;
    ingest_all(&seeder, &session("ancient", 10, ancient, true)).await;
    seeder.stop().await;
    let events = "SELECT COUNT(*) FROM events WHERE session_id = 'ancient'";
    // The real binary with its defaults (no --retention, no AGENTCTL_RETENTION). A sweep would run at
    // start; give it time to.
    let off = LoggedServe::spawn_with(&db, &[], "info").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(count(&db, events).await, 12, "the default deletes nothing");
    off.stop().await;
    // The same binary and database with --retention: the same session goes, so the check above can fail.
    let on = LoggedServe::spawn_with(&db, &["--retention", "1h"], "info").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db, events).await > 0 {
        assert!(
            Instant::now() < deadline,
            "--retention 1h deleted nothing in a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    on.stop().await;
}

on_both_backends!(
    old_sessions_go_with_their_events_and_the_rest_stays,
    retention_off_deletes_nothing,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_retention_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agentctl.db").display());
    for (args, env) in [
        (vec!["--retention", "forever"], None),
        (vec!["--retention", "10ms"], None),
        (vec![], Some("soon")),
    ] {
        let mut command = std::process::Command::new(crate::cli::BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .args(&args)
            .env("INTERNAL_API_KEY", KEY)
            .env("NO_COLOR", "1")
            .env_remove("AGENTCTL_RETENTION")
            .stdin(std::process::Stdio::null());
        if let Some(value) = env {
            command.env("AGENTCTL_RETENTION", value);
        }
        let child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let pid = child.id().to_string();
        let Ok(output) = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await
        else {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
            panic!("serve {args:?} {env:?} started instead of refusing --retention");
        };
        let output = output.expect("join").expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains("--retention"), "{args:?} {env:?}: {stderr}");
    }
    assert!(
        !dir.path().join("agentctl.db").exists(),
        "refused before opening the database"
    );
}
