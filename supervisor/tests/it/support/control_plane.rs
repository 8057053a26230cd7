//! The control plane a supervisor ships to: `agentctl serve` in this test process, in a tokio runtime of
//! its own, so that a test can kill it as `kill -9` would, restart it on the same address and database, or
//! stop it gracefully; and what a test reads back from it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use control_plane::http::auth::{Auth, Secret};
use control_plane::http::hooks::HookSettings;
use control_plane::secrets::KeySource;
use control_plane::server::{Application, ServerConfig};
use control_plane::triggers::replier::ReplierSettings;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Options, eventually, free_addr};

/// The key supervisors present to the control plane's internal API.
pub(crate) const CP_KEY: &str = "internal-key-0123456789";
/// The token of the control plane's public API.
pub(crate) const CP_TOKEN: &str = "api-token-0123456789";

/// Supervisor options that ship to the control plane at `cp`.
pub(crate) fn shipping_to(cp: SocketAddr) -> Options {
    Options::default()
        .arg("--control-plane-url")
        .arg(&format!("http://{cp}"))
        .env("INTERNAL_API_KEY", CP_KEY)
}

/// A SQLite database file in a directory of its own, kept across control-plane restarts.
#[derive(Debug)]
pub(crate) struct SqliteDb(tempfile::TempDir);

impl SqliteDb {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("temp dir"))
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}", self.0.path().join("agentctl.db").display())
    }

    /// The directory of the database file (and its WAL).
    pub(crate) fn dir(&self) -> &Path {
        self.0.path()
    }
}

/// What a test may set beyond a plain `start`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) heartbeat_timeout: Duration,
    /// `AGENTCTL_SECRETS_KEY` (base64): PostgreSQL has no generated key, and triggers seal their secrets.
    pub(crate) secrets_key: Option<String>,
    /// Where trigger replies go (`--twilio-api-url`, …): the providers' real APIs unless a test says.
    pub(crate) replies: ReplierSettings,
    /// `--public-url`, `--hook-body-max`: how `POST /hooks/{id}` reads and which URL it takes as signed.
    pub(crate) hooks: HookSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heartbeat_timeout: Duration::from_secs(60),
            secrets_key: None,
            replies: ReplierSettings::default(),
            hooks: HookSettings::default(),
        }
    }
}

/// A secrets key for control planes on PostgreSQL.
pub(crate) const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

enum Stop {
    /// Drop the runtime with every connection and request in flight.
    Kill,
    /// Let the server finish its requests (SQLite checkpoints its WAL into the file).
    Graceful,
}

/// `agentctl serve`, running until killed, stopped or dropped (dropping kills it).
pub(crate) struct ControlPlane {
    pub(crate) addr: SocketAddr,
    pub(crate) database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<Stop>>,
    thread: Option<std::thread::JoinHandle<()>>,
    client: reqwest::Client,
    /// The database of a control plane that `start` made itself.
    _own_db: Option<SqliteDb>,
}

impl ControlPlane {
    /// On a free port, with a fresh SQLite database of its own.
    pub(crate) async fn start() -> Self {
        let db = SqliteDb::new();
        let mut cp = Self::start_on(free_addr(), &db.url()).await;
        cp._own_db = Some(db);
        cp
    }

    /// On `addr` with the database at `database_url`, retrying while the address or the database is still
    /// held by a control plane killed a moment ago.
    pub(crate) async fn start_on(addr: SocketAddr, database_url: &str) -> Self {
        Self::start_with(addr, database_url, Duration::from_secs(60)).await
    }

    /// Like `start_on`, with this `--heartbeat-timeout`.
    pub(crate) async fn start_with(
        addr: SocketAddr,
        database_url: &str,
        heartbeat_timeout: Duration,
    ) -> Self {
        let settings = Settings {
            heartbeat_timeout,
            ..Settings::default()
        };
        Self::start_configured(addr, database_url, &settings).await
    }

    /// On `addr` with the database at `database_url` and these settings, retrying like `start_on`.
    pub(crate) async fn start_configured(addr: SocketAddr, database_url: &str, settings: &Settings) -> Self {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Self::try_start(addr, database_url, settings).await {
                Ok(cp) => return cp,
                Err(err) if Instant::now() < deadline => {
                    eprintln!("control plane did not start yet: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("start the control plane: {err}"),
            }
        }
    }

    async fn try_start(addr: SocketAddr, database_url: &str, settings: &Settings) -> Result<Self, String> {
        let config = ServerConfig {
            listen: addr,
            database_url: database_url.to_owned(),
            auth: Auth {
                internal_keys: vec![Secret::new(CP_KEY)],
                api_tokens: vec![Secret::new(CP_TOKEN)],
                disabled: false,
            },
            heartbeat_timeout: settings.heartbeat_timeout,
            secrets_key: match &settings.secrets_key {
                Some(key) => KeySource::Env(key.clone()),
                None => KeySource::Default,
            },
            claim_lease: Duration::from_secs(30),
        };
        let (replies, hooks) = (settings.replies.clone(), settings.hooks.clone());
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Stop>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let app = match rt.block_on(Application::build(config)) {
                Ok(app) => app.reply_settings(replies).hook_settings(hooks),
                Err(err) => {
                    let _ = ready_tx.send(Err(format!("{err:#}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(app.local_addr()));
            let shutdown = CancellationToken::new();
            let server = rt.spawn(app.run(shutdown.clone().cancelled_owned()));
            // A dropped sender (the test panicked) is a kill too.
            if let Ok(Stop::Graceful) = rt.block_on(stop_rx) {
                shutdown.cancel();
                let _ = rt.block_on(server);
            }
            rt.shutdown_background();
        });
        match ready_rx.await {
            Ok(Ok(addr)) => Ok(Self {
                addr,
                database_url: database_url.to_owned(),
                stop: Some(stop_tx),
                thread: Some(thread),
                client: reqwest::Client::builder()
                    .no_proxy()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .expect("an HTTP client"),
                _own_db: None,
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the control plane thread panicked".into())
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Abruptly: no draining, no graceful shutdown (the database is left as a crash leaves it).
    pub(crate) fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Kill);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Gracefully, waiting until it has stopped.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Stop::Graceful);
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Every stored event of a session, from the public API, paged; `None` while the control plane does not
    /// answer (an unknown session has no events).
    pub(crate) async fn try_events(&self, id: &str) -> Option<Vec<Value>> {
        let mut all = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = format!("{}/api/v1/sessions/{id}/events?limit=1000", self.url());
            if let Some(after) = after {
                url.push_str(&format!("&after={after}"));
            }
            let response = self.client.get(url).bearer_auth(CP_TOKEN).send().await.ok()?;
            if response.status() == 404 {
                return Some(all);
            }
            if !response.status().is_success() {
                return None;
            }
            let page: Value = response.json().await.ok()?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            let Some(last) = events.last() else {
                return Some(all);
            };
            after = last["seq"].as_u64();
            all.extend(events);
        }
    }

    /// Every stored event of a session; the control plane must be answering.
    pub(crate) async fn events(&self, id: &str) -> Vec<Value> {
        self.try_events(id)
            .await
            .unwrap_or_else(|| panic!("the control plane did not answer for the events of {id}"))
    }

    /// Waits until the control plane holds as many events of `id` as `local` (the supervisor's log), then
    /// returns what it holds (fewer after a minute: the caller's comparison says what is missing).
    pub(crate) async fn wait_delivered(&self, local: &[Value], id: &str) -> Vec<Value> {
        let mut stored = Vec::new();
        eventually(Duration::from_secs(60), async || {
            stored = self.try_events(id).await.unwrap_or_default();
            stored.len() >= local.len()
        })
        .await;
        stored
    }

    /// The session as the public API shows it (`null` when unknown).
    pub(crate) async fn session(&self, id: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/api/v1/sessions/{id}", self.url()))
            .bearer_auth(CP_TOKEN)
            .send()
            .await
            .expect("the control plane answers");
        response.json().await.unwrap_or(Value::Null)
    }

    /// A request to the public API, with its token.
    pub(crate) fn public(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(CP_TOKEN)
    }

    /// Creates or replaces agent `id` from `definition`; anything but a 2xx fails the test.
    pub(crate) async fn put_agent(&self, id: &str, definition: &Value) {
        let response = self
            .public(reqwest::Method::PUT, &format!("/api/v1/agents/{id}"))
            .json(definition)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "PUT agent {id}: {status} {}",
            response.text().await.unwrap()
        );
    }

    /// Queues session `session` of agent `agent` with `prompt`; anything but 202 fails the test.
    pub(crate) async fn queue(&self, agent: &str, session: &str, prompt: &str) {
        let response = self
            .public(reqwest::Method::POST, &format!("/api/v1/agents/{agent}/sessions"))
            .json(&serde_json::json!({"prompt": prompt, "sessionId": session}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, 202, "queue {session}: {}", response.text().await.unwrap());
    }

    /// Creates or replaces trigger `id` from `definition`; anything but a 2xx fails the test.
    pub(crate) async fn put_trigger(&self, id: &str, definition: &Value) {
        let response = self
            .public(reqwest::Method::PUT, &format!("/api/v1/triggers/{id}"))
            .json(definition)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "PUT trigger {id}: {status} {}",
            response.text().await.unwrap()
        );
    }

    /// Posts `body` to `POST /hooks/{trigger}` as a provider does (no bearer token), with these headers;
    /// answers the status, the content type and the body.
    pub(crate) async fn post_hook(
        &self,
        trigger: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> (u16, String, String) {
        let mut request = self
            .client
            .post(format!("{}/hooks/{trigger}", self.url()))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the control plane answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap_or_default())
    }

    /// A public-API GET that must succeed, as JSON.
    pub(crate) async fn get(&self, path: &str) -> Value {
        let response = self
            .public(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the control plane answers");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// The rows of a session in the database (the API could hide duplicate rows).
    pub(crate) async fn rows(&self, id: &str) -> i64 {
        let store = control_plane::store::Store::connect_lazy(&self.database_url)
            .await
            .expect("open the control plane's database");
        let n = store
            .count_events(&protocol::SessionId::parse(id).unwrap())
            .await
            .expect("count rows");
        store.close().await;
        n
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
    }
}
