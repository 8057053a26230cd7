//! One integration binary: HTTP-level tests against a real server on port 0 (`http`), the binary's own
//! contract (`binary`), and the real Claude Agent SDK running against it (`sdk`).

mod binary;
mod http;
mod logging;
mod sdk;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fake_anthropic::{Config, Scenarios, Server};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on a free port, recording into its own temp dir; stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub record: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl TestServer {
    /// With the built-in scenarios when `scenario_json` is `None`.
    pub async fn start(scenario_json: Option<&str>) -> Self {
        let scenarios = match scenario_json {
            Some(json) => Scenarios::from_json(json).expect("test scenario file is valid"),
            None => Scenarios::builtin(),
        };
        let dir = tempfile::tempdir().expect("create temp dir");
        let record = dir.path().join("requests.jsonl");
        let config = Config {
            scenarios,
            record: Some(record.clone()),
        };
        let server = Server::bind("127.0.0.1:0".parse().expect("valid address"), config)
            .await
            .expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs until stopped");
        });
        Self {
            addr,
            record,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every line of the record file, parsed.
    pub fn recorded(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("record lines are JSON"))
            .collect()
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task does not panic");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
