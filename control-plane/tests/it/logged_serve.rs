//! A real `agentctl serve` process whose every stderr line is kept (the secret-leak scans read them with the
//! text of everything its database holds), which a test may also `kill -9`.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Connection;

use crate::helpers::{KEY, SECRETS_KEY, TOKEN, TestDb, terminate};

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

pub struct LoggedServe {
    /// `None` once killed or stopped.
    child: Option<Child>,
    /// `host:port` it listens on.
    pub addr: String,
    lines: Option<tokio::task::JoinHandle<Vec<String>>>,
}

impl LoggedServe {
    /// With debug logging, so a scan sees everything it could log.
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, &[], "debug").await
    }

    /// With more `serve` flags and a log filter.
    pub async fn spawn_with(db: &TestDb, args: &[&str], rust_log: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
            .args(args)
            .env("INTERNAL_API_KEY", KEY)
            .env("AGENTCTL_API_TOKENS", TOKEN)
            .env("AGENTCTL_SECRETS_KEY", SECRETS_KEY)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
        let lines = tokio::task::spawn_blocking(move || {
            let mut addr_tx = Some(addr_tx);
            let mut all = Vec::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let line = line.expect("a line");
                if let Some(rest) = line.split("addr=").nth(1)
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(rest.split_whitespace().next().expect("an address").to_owned());
                }
                all.push(line);
            }
            all
        });
        let mut serve = Self {
            child: Some(child),
            addr: String::new(),
            lines: Some(lines),
        };
        match tokio::time::timeout(Duration::from_secs(30), addr_rx).await {
            Ok(Ok(addr)) => serve.addr = addr,
            _ => {
                serve.kill_9();
                panic!("serve did not start listening within 30 s");
            }
        }
        serve
    }

    /// `http://host:port`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGKILL: no drain, no shutdown hook.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Stops it (SIGTERM); every line it wrote to stderr.
    pub async fn stop(mut self) -> Vec<String> {
        if let Some(child) = self.child.take() {
            terminate(child).await;
        }
        let lines = self.lines.take().expect("stderr lines");
        lines.await.expect("stderr lines")
    }
}

impl Drop for LoggedServe {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every row of every table as text (PostgreSQL), or the database files' bytes (SQLite: every page and the
/// write-ahead log, so nothing in any column or freed page escapes the scan).
pub async fn database_text(db: &TestDb) -> String {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut text = String::new();
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        text.push_str(&rows.join("\n"));
    }
    conn.close().await.expect("close");
    text
}
