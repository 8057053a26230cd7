//! A real `agentctl serve` process with debug logging, whose every stderr line is kept, and the text of
//! everything its database holds: what the secret-leak scans read.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Connection;

use crate::helpers::{KEY, SECRETS_KEY, TOKEN, TestDb, terminate};

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

pub struct LoggedServe {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
    lines: tokio::task::JoinHandle<Vec<String>>,
}

impl LoggedServe {
    pub async fn spawn(db: &TestDb) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
            .env("INTERNAL_API_KEY", KEY)
            .env("AGENTCTL_API_TOKENS", TOKEN)
            .env("AGENTCTL_SECRETS_KEY", SECRETS_KEY)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "debug")
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
        let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
            .await
            .expect("serve listens within 30 s")
            .expect("an address");
        Self { child, addr, lines }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops it; every line it wrote to stderr.
    pub async fn stop(self) -> Vec<String> {
        terminate(self.child).await;
        self.lines.await.expect("stderr lines")
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
