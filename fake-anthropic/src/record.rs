//! `--record PATH`: every request received, appended as one JSON line, so tests can check what reached
//! the API (system prompt, model, tools, keys).

use std::path::Path;

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// The request headers worth recording: credentials, API version and betas, and the CLI's session labels.
const RECORDED_HEADERS: &[&str] = &[
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "user-agent",
    "x-claude-code-session-id",
    "x-claude-code-request-class",
];

#[derive(Debug)]
pub struct Recorder {
    /// Invariant: one line is written whole while the lock is held, so concurrent requests never interleave.
    file: Mutex<File>,
}

impl Recorder {
    pub async fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path).await?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends the line and flushes it, so a reader sees it as soon as the response is on its way.
    pub async fn append(&self, entry: &Value) -> std::io::Result<()> {
        let mut line = entry.to_string();
        line.push('\n');
        let mut file = self.file.lock().await;
        file.write_all(line.as_bytes()).await?;
        file.flush().await
    }
}

/// A record line: `{"method","path","query","headers":{…},"body": <JSON, or the raw text if not JSON>}`.
pub fn entry(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Map<String, Value> {
    let headers: Map<String, Value> = RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?;
            Some((
                (*name).to_owned(),
                Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            ))
        })
        .collect();
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(_) if body.is_empty() => Value::Null,
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    };
    let mut entry = Map::new();
    entry.insert("method".to_owned(), method.into());
    entry.insert("path".to_owned(), path.into());
    entry.insert("query".to_owned(), query.into());
    entry.insert("headers".to_owned(), Value::Object(headers));
    entry.insert("body".to_owned(), body);
    entry
}
