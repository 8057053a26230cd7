//! Delivery to a real control plane (`agentctl serve` in-process, on SQLite): every event exactly as
//! logged, through an outage, cancel commands from the answers, the backlog at shutdown and after a crash.

use std::net::SocketAddr;
use std::time::Duration;

use control_plane::http::auth::{Auth, Secret};
use control_plane::server::{Application, ServerConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);
const KEY: &str = "internal-key-0123456789";
const TOKEN: &str = "api-token-0123456789";

struct ControlPlane {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ControlPlane {
    async fn start_at(listen: SocketAddr, dir: tempfile::TempDir) -> Self {
        let db = dir.path().join("agentctl.db");
        let config = ServerConfig {
            listen,
            database_url: format!("sqlite://{}", db.display()),
            auth: Auth {
                internal_keys: vec![Secret::new(KEY)],
                api_tokens: vec![Secret::new(TOKEN)],
                disabled: false,
            },
            heartbeat_timeout: Duration::from_secs(30),
        };
        let app = Application::build(config).await.expect("start the control plane");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        let task = tokio::spawn(async move {
            app.run(async move { shutdown.cancelled().await })
                .await
                .expect("control plane ran");
        });
        Self {
            addr,
            stop,
            task,
            db,
            _dir: dir,
        }
    }

    async fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().unwrap(), tempfile::tempdir().unwrap()).await
    }

    async fn stop(self) -> tempfile::TempDir {
        self.stop.cancel();
        let _ = self.task.await;
        let _ = &self.db;
        self._dir
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        let client = reqwest::Client::new();
        let mut all = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = format!("http://{}/api/v1/sessions/{id}/events?limit=1000", self.addr);
            if let Some(after) = after {
                url.push_str(&format!("&after={after}"));
            }
            let response = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
            if response.status() == 404 {
                return all;
            }
            let page: Value = response.json().await.unwrap();
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return all;
            }
            after = events.last().unwrap()["seq"].as_u64();
            all.extend(events);
        }
    }

    /// Waits until the control plane holds as many events of `id` as the supervisor's local log.
    async fn wait_delivered(&self, sup_events: &[Value], id: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let stored = self.events(id).await;
            if stored.len() >= sup_events.len() || std::time::Instant::now() > deadline {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn shipping_to(cp: SocketAddr) -> Options {
    Options::default()
        .arg("--control-plane-url")
        .arg(&format!("http://{cp}"))
        .env("INTERNAL_API_KEY", KEY)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_control_plane_stores_every_event_exactly_as_logged() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    sup.run_cmd(
        "s-ship",
        r#"seq 1 5000; echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1}'"#,
    )
    .await;
    sup.wait_finished("s-ship", WAIT).await;
    let local = sup.events("s-ship").await;
    let stored = cp.wait_delivered(&local, "s-ship").await;
    assert_eq!(stored.len(), local.len());
    assert_eq!(stored, local, "the control plane has exactly the local log");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_written_during_an_outage_arrive_once_it_is_over() {
    // Reserve an address, then start the control plane on it only after the session ran.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-outage", "seq 1 3000").await;
    sup.wait_finished("s-outage", WAIT).await;
    let local = sup.events("s-outage").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    let stored = cp.wait_delivered(&local, "s-outage").await;
    assert_eq!(stored, local);
    let (_, metrics) = sup.get("/metrics").await;
    let retries = metrics
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("supervisor_delivery_retries_total "))
        .unwrap()
        .to_owned();
    assert_ne!(
        retries, "supervisor_delivery_retries_total 0",
        "the outage was retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_on_the_control_plane_reaches_the_agent() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    sup.run_cmd("s-remote", "echo started; exec sleep 100").await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/sessions/s-remote/cancel", cp.addr);
    // The session must be known to the control plane before it can be cancelled there.
    let accepted = eventually(WAIT, || {
        let response = futures_util_block(client.post(&url).bearer_auth(TOKEN).send());
        response.is_ok_and(|r| r.status() == 202)
    })
    .await;
    assert!(accepted, "the control plane accepted the cancel");
    let session = sup.wait_finished("s-remote", WAIT).await;
    assert_eq!(session["status"], "cancelled", "{session}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backlog_is_delivered_before_a_sigterm_exit() {
    let cp = ControlPlane::start().await;
    let mut sup = shipping_to(cp.addr).arg("--grace").arg("2s").start();
    sup.run_cmd("s-term", "seq 1 20000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-term.log");
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("\"20000\"")))
        .await
    );
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sup.wait_exit(WAIT).success());
    let local = events_on_disk(&sup.state_dir(), "s-term");
    assert_eq!(local.last().unwrap()["type"], "session.finished");
    // Delivered before the exit: no waiting here.
    let stored = cp.events("s-term").await;
    assert_eq!(stored, local);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_crash_delivery_resumes_and_the_lost_session_is_reported() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-crash", "seq 1 2000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-crash.log");
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("\"2000\"")))
        .await
    );
    let sup = sup.kill_and_restart();
    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    let local = sup.events("s-crash").await;
    assert_eq!(local.last().unwrap()["data"]["status"], "lost");
    let stored = cp.wait_delivered(&local, "s-crash").await;
    assert_eq!(stored, local);
    let client = reqwest::Client::new();
    let session: Value = client
        .get(format!("http://{}/api/v1/sessions/s-crash", cp.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], json!("lost"), "{session}");
    drop(cp.stop().await);
}

/// Runs a future to completion from inside a synchronous `eventually` check.
fn futures_util_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_spool_blocks_the_agent_and_everything_drains_afterwards() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).arg("--spool-max").arg("256KiB").start();
    // 3 MB of output (more than the agent's 1 MiB pipe holds) against a 256 KiB cap, with the control
    // plane down.
    sup.run_cmd(
        "s-spool",
        "yes \"$(head -c 1000 /dev/zero | tr '\\0' x)\" | head -n 3000",
    )
    .await;
    let log = sup.state_dir().join("sessions/s-spool.log");
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(eventually(WAIT, || size() > 256 * 1024).await);
    // The agent is blocked: the log stops growing (past the cap by at most one read of output) and the
    // session keeps running.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let blocked_at = size();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(size(), blocked_at, "the log grew while the spool was full");
    assert!(
        blocked_at < 8 << 20,
        "the log is bounded near the cap: {blocked_at} bytes"
    );
    assert_eq!(sup.session("s-spool").await["status"], "running");

    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    sup.wait_finished("s-spool", WAIT).await;
    let local = sup.events("s-spool").await;
    let texts = agent_texts(&local);
    assert_eq!(texts.len(), 3000, "nothing was dropped");
    assert!(texts.iter().all(|t| t.len() == 1000));
    let stored = cp.wait_delivered(&local, "s-spool").await;
    assert_eq!(stored, local);
}

#[tokio::test(flavor = "multi_thread")]
async fn output_left_in_the_pipe_is_kept_when_a_blocked_agent_is_stopped() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).arg("--spool-max").arg("64KiB").start();
    // 20,000 lines fit in the agent's pipe; the full spool stops the supervisor reading them.
    sup.run_cmd("s-stuck", "seq 1 20000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-stuck.log");
    assert!(
        eventually(WAIT, || std::fs::metadata(&log)
            .is_ok_and(|m| m.len() > 64 * 1024))
        .await
    );
    assert_eq!(sup.post("/sessions/s-stuck/cancel", &json!({})).await.0, 202);
    let session = sup.wait_finished("s-stuck", WAIT).await;
    assert_eq!(session["status"], "cancelled");
    let texts = agent_texts(&sup.events("s-stuck").await);
    assert_eq!(
        texts.len(),
        20_000,
        "every line the agent wrote before it was stopped is kept"
    );
}
