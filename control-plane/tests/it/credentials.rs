//! Credentials `agentctl serve` generates when none is configured: printed once, on the first start, and
//! still accepted after a restart.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{TestDb, lines, terminate};
use crate::on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");
const KEY_LINE: &str = "agentctl: generated internal API key (INTERNAL_API_KEY): ";
const TOKEN_LINE: &str = "agentctl: generated API token (AGENTCTL_TOKEN): ";

on_both_backends!(generated_credentials_are_printed_on_the_first_start_only_and_survive_a_restart);

/// One `agentctl serve` process with no credentials configured.
struct Serve {
    /// `None` once stopped.
    child: Option<Child>,
    addr: String,
    /// Every line of stderr, complete once the process has exited.
    stderr: tokio::task::JoinHandle<Vec<String>>,
}

impl Serve {
    /// Starts `serve` on `url` and waits (30 s at most) until it listens; answers it and the stderr lines
    /// up to that point.
    async fn start(url: &str) -> (Self, Vec<String>) {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("INTERNAL_API_KEY")
            .env_remove("AGENTCTL_API_TOKENS")
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<(String, Vec<String>)>();
        let stderr = tokio::task::spawn_blocking(move || {
            let mut ready = Some(ready_tx);
            let mut all = Vec::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let line = line.expect("a line");
                all.push(line.clone());
                if let Some(rest) = line.split("addr=").nth(1)
                    && let Some(tx) = ready.take()
                {
                    let addr = rest.split_whitespace().next().expect("an address").to_owned();
                    let _ = tx.send((addr, all.clone()));
                }
            }
            all
        });
        let Ok(Ok((addr, so_far))) = tokio::time::timeout(Duration::from_secs(30), ready_rx).await else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not start listening within 30 s: {:?}", stderr.await);
        };
        (
            Self {
                child: Some(child),
                addr,
                stderr,
            },
            so_far,
        )
    }

    /// SIGTERM, then waits for the exit (10 s at most); answers every line it wrote to stderr.
    async fn stop(mut self) -> Vec<String> {
        let child = self.child.take().expect("running");
        let status = terminate(child).await;
        assert_eq!(status.code(), Some(0));
        (&mut self.stderr).await.expect("stderr reader")
    }

    async fn status(&self, path: &str, credential: &str) -> StatusCode {
        let http = reqwest::Client::new();
        let url = format!("http://{}{path}", self.addr);
        let request = if path.starts_with("/api/internal") {
            let batch = serde_json::json!({"runtimeId": "rt-1", "events": lines("s-1", 0, 1)});
            http.post(url).json(&batch)
        } else {
            http.get(url)
        };
        request
            .bearer_auth(credential)
            .send()
            .await
            .expect("send")
            .status()
    }
}

impl Drop for Serve {
    /// A failed assertion must not leave the server running: its stderr reader would keep the test's
    /// runtime from shutting down.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn printed(lines: &[String], prefix: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {lines:#?}"))
        .to_owned()
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn generated_credentials_are_printed_on_the_first_start_only_and_survive_a_restart(db: TestDb) {
    let (first, printed_lines) = Serve::start(&db.url).await;
    let key = printed(&printed_lines, KEY_LINE);
    let token = printed(&printed_lines, TOKEN_LINE);
    assert!(key.starts_with("ak_") && token.starts_with("at_") && key != token);
    assert_eq!(
        first.status("/api/internal/v1/events", &key).await,
        StatusCode::OK
    );
    assert_eq!(first.status("/api/v1/sessions", &token).await, StatusCode::OK);
    first.stop().await;

    let (second, _) = Serve::start(&db.url).await;
    assert_eq!(
        second.status("/api/internal/v1/events", &key).await,
        StatusCode::OK
    );
    assert_eq!(second.status("/api/v1/sessions", &token).await, StatusCode::OK);
    assert_eq!(
        second.status("/api/v1/sessions", &key).await,
        StatusCode::UNAUTHORIZED,
        "the two kinds stay apart"
    );
    let output = second.stop().await.join("\n");
    assert!(!output.contains(&key) && !output.contains(&token), "{output}");
    assert!(!output.contains("generated internal API key ("), "{output}");

    // Only digests are at rest.
    let kept = db
        .fetch_strings("SELECT sha256 FROM generated_credentials ORDER BY kind")
        .await;
    assert_eq!(kept, [hex_sha256(&token), hex_sha256(&key)]);
    if let Some(dir) = db.sqlite_dir() {
        for file in std::fs::read_dir(dir).expect("read dir") {
            let bytes = std::fs::read(file.expect("entry").path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&key) && !text.contains(&token));
        }
    }
}
