//! Ingest: validation of event batches and the group-commit writer.
//!
//! Every accepted batch goes through a small pool of writer tasks per replica (one on SQLite). While
//! transactions commit, the batches that arrive meanwhile queue up; the next free writer stores all of them
//! (up to [`GROUP_MAX_EVENTS`]) in one transaction, so the cost of a commit (a WAL flush) is shared by every
//! sender instead of paid by each.
//! A request is answered only after the transaction holding its batch committed: never 200 for something
//! not stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::{ErrorDetail, Event, EventBatch, SessionId};
use tokio::sync::{mpsc, oneshot};

use crate::event_time;
use crate::follow::Hub;
use crate::metrics::Metrics;
use crate::store::{Backend, BatchOutcome, IngestBatch, Store, StoreError};
use crate::time;

/// A group commit holds at most this many events (and always at least one batch).
pub const GROUP_MAX_EVENTS: usize = 5_000;
/// Concurrent group commits per replica on PostgreSQL.
const POSTGRES_WRITERS: usize = 3;

/// Why a batch is refused before it reaches the store; the message names the index and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// The largest seq stored: 2^53, so that every seq is exact as a JSON number (a double) for any client.
pub const MAX_SEQ: u64 = 1 << 53;

/// A batch that parsed, split into what goes to the store and the sessions refused by validation.
#[derive(Debug)]
pub struct Checked {
    /// The events of every session not refused.
    pub batch: IngestBatch,
    /// Sessions with an invalid event: none of their events is stored, the rest of the batch is.
    pub rejected: BTreeMap<SessionId, ErrorDetail>,
    /// How many events the sessions of `rejected` had in the batch.
    pub rejected_events: usize,
}

/// Parses and checks a batch. A body that is not a batch at all (not JSON, a missing field, a malformed
/// session id, an empty `runtimeId`) is refused whole; an invalid event refuses only its session. Times far
/// from `now_ms` are clamped (`crate::event_time`).
pub fn parse_batch(body: &[u8], now_ms: i64) -> Result<Checked, Invalid> {
    // The plain parser is the fast path; only a body that fails is parsed again to name the bad field.
    let batch: EventBatch = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(_) => return Err(explain(body)),
    };
    check_batch(batch, now_ms)
}

/// Parses a body known to be invalid again, tracking the path, to say where it is wrong.
fn explain(body: &[u8]) -> Invalid {
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, EventBatch>(de) {
        Ok(_) => Invalid("invalid body".into()),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Invalid(format!("invalid body: malformed JSON: {inner}"))
            } else if path == "." || path == "?" {
                Invalid(format!("invalid body: {inner}"))
            } else {
                Invalid(format!("{path}: {inner}"))
            }
        }
    }
}

fn check_batch(mut batch: EventBatch, now_ms: i64) -> Result<Checked, Invalid> {
    if batch.runtime_id.is_empty() || batch.runtime_id.len() > 256 {
        return Err(Invalid("runtimeId: must be 1 to 256 characters".into()));
    }
    let mut rejected = BTreeMap::new();
    for (i, e) in batch.events.iter_mut().enumerate() {
        if rejected.contains_key(&e.session_id) {
            continue;
        }
        if let Some(problem) = event_problem(i, e, now_ms) {
            rejected.insert(
                e.session_id.clone(),
                ErrorDetail {
                    code: "invalid_event".into(),
                    message: problem,
                },
            );
        }
    }
    let mut events = batch.events;
    let before = events.len();
    if !rejected.is_empty() {
        events.retain(|e| !rejected.contains_key(&e.session_id));
    }
    Ok(Checked {
        rejected_events: before - events.len(),
        batch: IngestBatch {
            runtime_id: batch.runtime_id,
            events,
            states: Vec::new(),
        },
        rejected,
    })
}

/// Why the control plane does not store event `i` of a batch, naming the field. A valid event whose time
/// is far from `now_ms` gets the server's (the agent's own kept in `data`).
fn event_problem(i: usize, e: &mut Event, now_ms: i64) -> Option<String> {
    if e.seq > MAX_SEQ {
        return Some(format!("events[{i}].seq: must be at most {MAX_SEQ}"));
    }
    let Some(ts_ms) = time::parse_rfc3339_ms(&e.ts) else {
        return Some(format!(
            "events[{i}].ts: {:?} is not an RFC 3339 time in UTC (2026-11-25T12:00:00.123Z)",
            e.ts
        ));
    };
    // The supervisor applies the same rule before it logs an event (`protocol::event_type_problem`).
    if let Some(problem) = protocol::event_type_problem(&e.kind) {
        return Some(format!("events[{i}].type: {problem}"));
    }
    if !event_time::keeps_its_time(ts_ms, now_ms) {
        e.data = event_time::with_client_time(&e.data, &e.ts);
        e.ts = time::rfc3339_ms(now_ms);
    }
    None
}

struct Job {
    batch: IngestBatch,
    reply: oneshot::Sender<Result<BatchOutcome, StoreError>>,
}

/// Handle on the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("events", &self.batch.events.len())
            .finish()
    }
}

impl Ingestor {
    /// Starts the writers. They stop once every handle is dropped and the queue is drained.
    ///
    /// PostgreSQL gets several writers, so one group's rows are sent while another's commit waits for its
    /// WAL flush; row locks taken in session-id order keep them from interfering (the same rule that lets
    /// replicas share a database). SQLite has one write connection, so one writer.
    pub fn spawn(store: Store, hub: Hub, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers = match store.backend() {
            Backend::Postgres => POSTGRES_WRITERS,
            Backend::Sqlite => 1,
        };
        for _ in 0..writers {
            tokio::spawn(writer(rx.clone(), store.clone(), hub.clone(), metrics.clone()));
        }
        Self { tx }
    }

    pub async fn submit(&self, batch: IngestBatch) -> Result<BatchOutcome, StoreError> {
        if batch.events.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { batch, reply })
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
        rx.await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?
    }
}

async fn writer(
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    store: Store,
    hub: Hub,
    metrics: Arc<Metrics>,
) {
    loop {
        // Take a group under the lock, commit it without: the next writer gathers meanwhile.
        let mut batches = Vec::new();
        let mut replies = Vec::new();
        let mut events = 0;
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            events += first.batch.events.len();
            batches.push(first.batch);
            replies.push(first.reply);
            while events < GROUP_MAX_EVENTS {
                match rx.try_recv() {
                    Ok(job) => {
                        events += job.batch.events.len();
                        batches.push(job.batch);
                        replies.push(job.reply);
                    }
                    Err(_) => break,
                }
            }
        }
        let started = std::time::Instant::now();
        let committed = store.commit_group(&batches, time::now_ms()).await;
        tracing::debug!(
            batches = batches.len(),
            events,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "group commit"
        );
        match committed {
            Ok(result) => {
                Metrics::add(&metrics.group_commits, 1);
                hub.publish(result.touched);
                for (reply, outcome) in replies.into_iter().zip(result.outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // A batch that breaks the whole transaction (a database error that is not about availability)
            // must not take its neighbours down with it: store each alone.
            Err(StoreError::Database(error)) if batches.len() > 1 => {
                tracing::warn!(error = %error, batches = batches.len(), "group commit failed; storing batches one by one");
                for (batch, reply) in batches.iter().zip(replies) {
                    let result = store
                        .commit_group(std::slice::from_ref(batch), time::now_ms())
                        .await;
                    let outcome = result.map(|mut r| {
                        Metrics::add(&metrics.group_commits, 1);
                        hub.publish(std::mem::take(&mut r.touched));
                        r.outcomes.remove(0)
                    });
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(clone_error(&error)));
                }
            }
        }
    }
}

/// `sqlx::Error` is not `Clone`: every request of a failed group gets an equivalent error.
fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(e) => StoreError::Unavailable(sqlx::Error::Protocol(e.to_string())),
        StoreError::Database(e) => StoreError::Database(sqlx::Error::Protocol(e.to_string())),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::UnsupportedUrl(u) => StoreError::UnsupportedUrl(u.clone()),
    }
}
