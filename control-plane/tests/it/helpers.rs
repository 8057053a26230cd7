//! Test support: a fresh database per test (SQLite file or PostgreSQL database), an app on port 0, typed
//! request helpers, and event fixtures (hand-written ones, and sessions recorded through the real system).

use std::net::SocketAddr;
use std::time::Duration;

use control_plane::connections::Limits;
use control_plane::http::auth::{Auth, Secret};
use control_plane::server::{Application, ServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

pub const KEY: &str = "test-internal-key";
pub const TOKEN: &str = "test-api-token";
/// The secrets key of test servers (32 bytes, base64), so every replica of a test shares it.
pub const SECRETS_KEY: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// The two backends every store and HTTP test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin URL and the database name, to break and mend the database.
    pub admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("create temp dir");
                let url = format!("sqlite://{}", dir.path().join("agentctl.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    admin: None,
                })
            }
            Kind::Postgres => {
                let Ok(admin) = std::env::var("DATABASE_URL") else {
                    if std::env::var("AGENTCTL_SKIP_POSTGRES").as_deref() == Ok("1") {
                        eprintln!("skipped: AGENTCTL_SKIP_POSTGRES=1");
                        return None;
                    }
                    panic!(
                        "DATABASE_URL is not set: the PostgreSQL variant of this test needs a server. \
                         Run `eval \"$(scripts/pg.sh start)\"` first, or set AGENTCTL_SKIP_POSTGRES=1 to skip"
                    );
                };
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.expect("close admin connection");
                let (base, _) = admin.rsplit_once('/').expect("DATABASE_URL has a database path");
                let base = base.to_owned();
                Some(Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    admin: Some((admin, name)),
                })
            }
        }
    }

    /// Runs `sql` on the test database directly, past the store (to write rows the store never would).
    pub async fn execute(&self, sql: &str) {
        if self.admin.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("execute");
            conn.close().await.expect("close");
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("execute");
            conn.close().await.expect("close");
        }
    }

    /// The first column of every row `sql` selects, as text, read past the store.
    pub async fn fetch_strings(&self, sql: &str) -> Vec<String> {
        if self.admin.is_some() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
            let rows = sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("fetch");
            conn.close().await.expect("close");
            rows
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect");
            let rows = sqlx::query_scalar(sql).fetch_all(&mut conn).await.expect("fetch");
            conn.close().await.expect("close");
            rows
        }
    }

    /// The SQLite database's directory (database, WAL and shared-memory files); `None` on PostgreSQL.
    pub fn sqlite_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }

    /// PostgreSQL: refuse new connections to the test database (superusers too) and end the open ones.
    pub async fn break_database(&self) {
        let (admin, name) = self.admin.as_ref().expect("postgres only");
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect admin");
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            .execute(&mut conn)
            .await
            .expect("limit connections");
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(name)
            .execute(&mut conn)
            .await
            .expect("terminate backends");
    }

    pub async fn mend_database(&self) {
        let (admin, name) = self.admin.as_ref().expect("postgres only");
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect admin");
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .execute(&mut conn)
            .await
            .expect("allow connections");
    }
}

impl Drop for TestDb {
    /// PostgreSQL: drops the test's database, ending the connections still open to it (an app the test did
    /// not stop). The SQLite file goes with its temporary directory.
    fn drop(&mut self) {
        let Some((admin, name)) = self.admin.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which must not block on itself: a thread of its own with a
        // runtime of its own does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                })
                .map_err(|e| format!("drop database {name}: {e}"))
        })
        .join();
        // Not a panic: a panic while the test is already panicking would abort the whole test binary.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("TestDb: {error}"),
            Err(_) => eprintln!("TestDb: the thread dropping the database panicked"),
        }
    }
}

/// Runs each named `async fn(TestDb)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::helpers::TestDb::new($crate::helpers::Kind::Sqlite).await.expect("sqlite");
                    super::$name(db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::helpers::TestDb::new($crate::helpers::Kind::Postgres).await else {
                        return;
                    };
                    super::$name(db).await;
                }
            )*
        }
    };
}

#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(db, Duration::from_secs(30)).await
}

pub async fn spawn_app_with(db: &TestDb, heartbeat_timeout: Duration) -> TestApp {
    spawn_app_on(db, "127.0.0.1:0".parse().expect("an address"), heartbeat_timeout).await
}

pub async fn spawn_app_on(db: &TestDb, listen: SocketAddr, heartbeat_timeout: Duration) -> TestApp {
    try_spawn_app_on(db, listen, heartbeat_timeout)
        .await
        .expect("build app")
}

/// Like [`spawn_app`], but a server that does not start is the caller's to look at.
pub async fn try_spawn_app(db: &TestDb) -> anyhow::Result<TestApp> {
    try_spawn_app_on(
        db,
        "127.0.0.1:0".parse().expect("an address"),
        Duration::from_secs(30),
    )
    .await
}

/// Like [`spawn_app`], with the accept loop's limits given.
pub async fn spawn_app_limited(db: &TestDb, limits: Limits) -> TestApp {
    spawn_app_with_options(
        db,
        Options {
            limits,
            ..Options::default()
        },
    )
    .await
}

async fn try_spawn_app_on(
    db: &TestDb,
    listen: SocketAddr,
    heartbeat_timeout: Duration,
) -> anyhow::Result<TestApp> {
    let options = Options {
        heartbeat_timeout,
        ..Options::default()
    };
    try_spawn_app_with_options(db, listen, options).await
}

/// What a test server may be started with besides its database.
#[derive(Debug, Clone)]
pub struct Options {
    pub heartbeat_timeout: Duration,
    /// `--claim-lease`.
    pub claim_lease: Duration,
    /// [`SECRETS_KEY`] unless a test wants the server without one.
    pub secrets_key: control_plane::secrets::KeySource,
    /// The accept loop's limits.
    pub limits: Limits,
    /// Whether the web UI is served (`--no-ui` when false).
    pub ui: bool,
    /// `--retention` (off unless a test sets it).
    pub retention: control_plane::retention::Retention,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            heartbeat_timeout: Duration::from_secs(30),
            claim_lease: Duration::from_secs(30),
            secrets_key: control_plane::secrets::KeySource::Env(SECRETS_KEY.into()),
            limits: Limits::default(),
            ui: true,
            retention: control_plane::retention::Retention::default(),
        }
    }
}

pub async fn spawn_app_with_options(db: &TestDb, options: Options) -> TestApp {
    let listen = "127.0.0.1:0".parse().expect("an address");
    try_spawn_app_with_options(db, listen, options)
        .await
        .expect("build app")
}

async fn try_spawn_app_with_options(
    db: &TestDb,
    listen: SocketAddr,
    options: Options,
) -> anyhow::Result<TestApp> {
    let Options {
        heartbeat_timeout,
        claim_lease,
        secrets_key,
        limits,
        ui,
        retention,
    } = options;
    let config = ServerConfig {
        listen,
        database_url: db.url.clone(),
        auth: Auth {
            internal_keys: vec![Secret::new(KEY)],
            api_tokens: vec![Secret::new(TOKEN)],
            disabled: false,
        },
        heartbeat_timeout,
        secrets_key,
        claim_lease,
    };
    let app = Application::build(config)
        .await?
        .limit_connections(limits)
        .serve_ui(ui)
        .retention(retention);
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        app.run(async move {
            let _ = stopped.await;
        })
        .await
        .expect("app runs");
    });
    Ok(TestApp {
        addr,
        http: reqwest::Client::new(),
        stop: Some(stop),
        done: Some(done),
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            tokio::time::timeout(Duration::from_secs(10), done)
                .await
                .expect("app stops within 10 s")
                .expect("app task");
        }
    }

    /// `POST /api/internal/v1/events`.
    pub async fn ingest(&self, runtime: &str, events: &[Value]) -> (StatusCode, Value) {
        self.post_internal(
            "/api/internal/v1/events",
            &json!({"runtimeId": runtime, "events": events}),
        )
        .await
    }

    /// `POST /api/internal/v1/events` with events given as JSON text, sent as they are (not re-encoded).
    pub async fn ingest_raw(&self, runtime: &str, events: &[&str]) -> (StatusCode, Value) {
        let body = format!(
            r#"{{"runtimeId":{},"events":[{}]}}"#,
            Value::from(runtime),
            events.join(",")
        );
        let response = self
            .http
            .post(self.url("/api/internal/v1/events"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_internal(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A public `POST` with a JSON body.
    pub async fn post_public(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every stored event of the session, by paging the public API.
    pub async fn all_events(&self, sid: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let path = match after {
                Some(a) => format!("/api/v1/sessions/{sid}/events?limit=1000&after={a}"),
                None => format!("/api/v1/sessions/{sid}/events?limit=1000"),
            };
            let (status, page) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let events = page["events"].as_array().expect("events").clone();
            if events.is_empty() {
                return out;
            }
            after = page["nextAfter"].as_u64();
            out.extend(events);
        }
    }
}

pub fn ts(seq: u64) -> String {
    format!("2026-11-25T12:{:02}:{:02}.000Z", (seq / 60) % 60, seq % 60)
}

/// An agent event with the given data.
pub fn ev(sid: &str, seq: u64, kind: &str, data: Value) -> Value {
    json!({"sessionId": sid, "seq": seq, "ts": ts(seq), "source": "agent", "type": kind, "data": data})
}

pub fn sup(sid: &str, seq: u64, kind: &str, data: Value) -> Value {
    json!({"sessionId": sid, "seq": seq, "ts": ts(seq), "source": "supervisor", "type": kind, "data": data})
}

/// `n` plain text events from `from`.
pub fn lines(sid: &str, from: u64, n: u64) -> Vec<Value> {
    (from..from + n)
        .map(|seq| ev(sid, seq, "text", json!({"text": format!("line {seq}")})))
        .collect()
}

#[derive(Debug, Clone, Copy)]
pub enum Ending {
    Succeeded,
    Failed,
    Cancelled,
    Running,
}

/// A session as the supervisor ships it: `session.started`, the SDK messages of `fixture`, and the end.
pub fn transcript(sid: &str, runtime: &str, fixture: &str, ending: Ending) -> Vec<Value> {
    let text = match fixture {
        "success" => include_str!("fixtures/success.jsonl"),
        "failed" => include_str!("fixtures/failed.jsonl"),
        "cancelled" => include_str!("fixtures/cancelled.jsonl"),
        other => panic!("no fixture {other}"),
    };
    let mut events = vec![sup(
        sid,
        0,
        "session.started",
        json!({"agentId": "reviewer", "pid": 4242, "runtimeId": runtime, "runner": "node /opt/agent-runner/run.mjs"}),
    )];
    for line in text.lines() {
        let message: Value = serde_json::from_str(line).expect("fixture line is JSON");
        let kind = message["type"]
            .as_str()
            .expect("SDK messages have a type")
            .to_owned();
        events.push(ev(sid, events.len() as u64, &kind, message));
    }
    let finished = match ending {
        Ending::Succeeded => Some(
            json!({"status": "succeeded", "exitCode": 0, "signal": null, "durationMs": 102400,
            "numTurns": 6, "totalCostUsd": 0.0831, "error": null, "stderrTail": null}),
        ),
        Ending::Failed => Some(
            json!({"status": "failed", "exitCode": 1, "signal": null, "durationMs": 4200,
            "numTurns": 2, "totalCostUsd": 0.0123, "error": "Reached maximum number of turns (2)", "stderrTail": "error: max turns"}),
        ),
        Ending::Cancelled => {
            events.push(sup(
                sid,
                events.len() as u64,
                "session.cancel_requested",
                json!({}),
            ));
            Some(
                json!({"status": "cancelled", "exitCode": null, "signal": "SIGTERM", "durationMs": 9000,
                "numTurns": null, "totalCostUsd": null, "error": "cancelled", "stderrTail": null}),
            )
        }
        Ending::Running => None,
    };
    if let Some(data) = finished {
        events.push(sup(sid, events.len() as u64, "session.finished", data));
    }
    events
}

/// One session as the real supervisor shipped it: `scripts/record-fixtures.sh` ran the real Agent SDK through
/// `agent-supervisor` against `fake-anthropic` and saved the session's events (`fixtures/recorded-NAME.jsonl`).
#[derive(Debug)]
pub struct Recorded {
    /// The events as recorded, one JSON text each.
    pub lines: Vec<&'static str>,
    /// The same, parsed.
    pub events: Vec<Value>,
}

/// The recorded session `name`: `success`, `failed` or `cancelled`.
pub fn recorded(name: &str) -> Recorded {
    let text = match name {
        "success" => include_str!("fixtures/recorded-success.jsonl"),
        "failed" => include_str!("fixtures/recorded-failed.jsonl"),
        "cancelled" => include_str!("fixtures/recorded-cancelled.jsonl"),
        other => panic!("no recorded fixture {other}"),
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let events = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a recorded event is JSON"))
        .collect();
    Recorded { lines, events }
}

impl Recorded {
    pub fn session_id(&self) -> &str {
        self.events[0]["sessionId"].as_str().expect("sessionId")
    }

    /// The one event of this type, whose `data.subtype` is `subtype` when given.
    #[track_caller]
    pub fn only(&self, kind: &str, subtype: Option<&str>) -> &Value {
        let mut found = self
            .events
            .iter()
            .filter(|e| e["type"] == kind && subtype.is_none_or(|s| e["data"]["subtype"] == s));
        let event = found
            .next()
            .unwrap_or_else(|| panic!("the recording has no {kind} {subtype:?}"));
        assert!(
            found.next().is_none(),
            "the recording has several {kind} {subtype:?}"
        );
        event
    }

    /// The last event of this type, if any.
    pub fn last(&self, kind: &str) -> Option<&Value> {
        self.events.iter().rev().find(|e| e["type"] == kind)
    }

    /// The index of the first event of this type.
    #[track_caller]
    pub fn position(&self, kind: &str) -> usize {
        self.events
            .iter()
            .position(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("the recording has no {kind}"))
    }
}

/// Polls `check` until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends SIGTERM to an `agentctl serve` child and waits (10 s at most) for it to exit.
pub async fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("serve stops within 10 s")
    .expect("join")
    .expect("wait")
}
