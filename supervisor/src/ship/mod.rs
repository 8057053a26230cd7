//! Delivery of events to the control plane (DESIGN.md §4): at-least-once shipping from the local log.
//!
//! One `Shipper` per destination (the configured control plane, or a request's `storage`). It has one
//! request in flight, or two while the logs hold more than a full batch: the control plane may then commit
//! a session's batches out of order (it acks only the gap-free prefix), but outcomes are applied here in
//! the order the batches were read. A session's cursor (the highest seq the destination confirmed) is kept
//! in `<state>/sessions/<id>.acked`; an event leaves the local log only in the sense that the cursor passes
//! it — the log itself is never edited.
//!
//! Invariants:
//! - Nothing is dropped silently: a batch is retried (transport errors, 408, 429, 5xx) until accepted,
//!   split on 413, and only a 400 moves it to the dead-letter directory, with a metric and an error log.
//! - The cursor only moves forward, and only past events the destination answered 2xx for (or that were
//!   dead-lettered).

mod backoff;
mod batch;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use protocol::{Command, IngestResponse, SessionId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::runtime::{Runtime, Secret};
use crate::session::SessionEntry;
use backoff::Backoff;
pub use batch::{Tracked, cursor_path};

/// Batches close at the first of these (reference/delivery-and-ingest.md §6).
pub const BATCH_MAX_BYTES: usize = 1 << 20;
pub const BATCH_MAX_EVENTS: usize = 2000;
pub const LINGER: Duration = Duration::from_millis(200);
/// Requests in flight per destination while the logs hold a backlog (one otherwise, so events trickling in
/// still gather into batches): the next batch is read, sent and parsed while the previous one commits.
const MAX_IN_FLIGHT: usize = 2;
/// Per attempt; the control plane answers within 10 s, so a slow commit is not retried while running.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub url: String,
    pub key: Option<String>,
}

/// Ships the events of the sessions tracked for one destination.
#[derive(Debug)]
pub struct Shipper {
    dest: Destination,
    client: reqwest::Client,
    runtime: std::sync::Weak<Runtime>,
    tracked: Mutex<Vec<Tracked>>,
    wake: Notify,
    dead_letter_dir: PathBuf,
}

/// Every shipper of this supervisor.
#[derive(Debug, Default)]
pub struct Shippers {
    by_dest: Mutex<HashMap<Destination, Arc<Shipper>>>,
    /// Cancelled when the supervisor stops: shippers then deliver what is left and return.
    pub draining: CancellationToken,
    pub tasks: tokio_util::task::TaskTracker,
}

/// What became of a batch (or of a part of it, after a 413).
enum Outcome {
    Accepted {
        batch: batch::Batch,
        response: IngestResponse,
    },
    /// Never to be accepted: dead-lettered when settled.
    Refused {
        batch: batch::Batch,
        status: u16,
        reason: String,
    },
}

/// Why a batch was not delivered.
enum SendError {
    /// Try again later, after at least this long if the server said so.
    Retry { reason: String, after: Option<Duration> },
    /// 413: send it in smaller pieces.
    TooLarge,
    /// 400 and other client errors: it will never be accepted.
    Rejected { status: u16, body: String },
}

impl Shippers {
    /// The shipper for `dest`, started on first use.
    pub fn for_destination(&self, runtime: &Arc<Runtime>, dest: Destination) -> Arc<Shipper> {
        let mut map = self.by_dest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shipper) = map.get(&dest) {
            return shipper.clone();
        }
        let shipper = Arc::new(Shipper {
            dest: dest.clone(),
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client with default TLS roots builds"),
            runtime: Arc::downgrade(runtime),
            tracked: Mutex::new(Vec::new()),
            wake: Notify::new(),
            dead_letter_dir: runtime.config.state_dir.join("dead-letter"),
        });
        map.insert(dest, shipper.clone());
        let task = shipper.clone();
        let draining = self.draining.clone();
        self.tasks.spawn(async move { task.run(draining).await });
        let task = shipper.clone();
        let draining = self.draining.clone();
        self.tasks.spawn(async move { task.heartbeats(draining).await });
        shipper
    }

    /// Waits until every shipper delivered everything, or `deadline` passes.
    pub async fn drain(&self, deadline: Duration) {
        self.draining.cancel();
        self.tasks.close();
        if tokio::time::timeout(deadline, self.tasks.wait()).await.is_err() {
            tracing::warn!(
                ?deadline,
                "gave up delivering events at shutdown; they stay in the local log"
            );
        }
    }
}

impl Shipper {
    /// Starts shipping a session's events (from after `acked`).
    pub fn track(&self, entry: Arc<SessionEntry>, acked: Option<u64>) {
        let tracked = Tracked::new(entry, acked);
        self.tracked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tracked);
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>, draining: CancellationToken) {
        // Oldest first: outcomes are applied in the order the batches were read, so a cursor never passes an
        // event whose batch is still on its way.
        let mut in_flight = FuturesOrdered::new();
        // Whether the last batch read came out full, i.e. the logs hold more than one batch.
        let mut backlog = false;
        loop {
            if in_flight.is_empty() || (backlog && in_flight.len() < MAX_IN_FLIGHT) {
                if let Some(batch) = self.next_batch().await {
                    backlog = batch.is_full();
                    in_flight.push_back(self.deliver(batch));
                    continue;
                }
                backlog = false;
            }
            if let Some(outcomes) = in_flight.next().await {
                self.settle(outcomes);
                continue;
            }
            if draining.is_cancelled() && self.all_finished() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    async fn next_batch(&self) -> Option<batch::Batch> {
        let mut tracked = std::mem::take(&mut *self.tracked.lock().unwrap_or_else(|p| p.into_inner()));
        let batch = batch::assemble(&mut tracked).await;
        self.tracked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tracked);
        batch
    }

    fn all_finished(&self) -> bool {
        self.tracked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .all(Tracked::is_done)
    }

    /// Sends `batch` until it is accepted or refused for good, splitting it on 413; answers what became of
    /// each part, in log order, for [`Shipper::settle`].
    async fn deliver(&self, batch: batch::Batch) -> Vec<Outcome> {
        let mut backoff = Backoff::default();
        let mut outcomes = Vec::new();
        let mut queue = vec![batch];
        while let Some(batch) = queue.pop() {
            loop {
                match self.send(&batch).await {
                    Ok(response) => {
                        outcomes.push(Outcome::Accepted { batch, response });
                        break;
                    }
                    Err(SendError::TooLarge) if batch.len() > 1 => {
                        let (first, second) = batch.split();
                        // Sent first-half first: the queue pops from the end.
                        queue.push(second);
                        queue.push(first);
                        break;
                    }
                    Err(SendError::TooLarge) => {
                        outcomes.push(Outcome::Refused {
                            batch,
                            status: 413,
                            reason: "a single event is larger than the control plane accepts".into(),
                        });
                        break;
                    }
                    Err(SendError::Rejected { status, body }) => {
                        outcomes.push(Outcome::Refused {
                            batch,
                            status,
                            reason: body,
                        });
                        break;
                    }
                    Err(SendError::Retry { reason, after }) => {
                        let wait = backoff.next(after);
                        tracing::warn!(url = %self.dest.url, %reason, ?wait, events = batch.len(), "delivery failed; retrying");
                        if let Some(runtime) = self.runtime.upgrade() {
                            runtime.metrics.delivery_retries.fetch_add(1, Ordering::Relaxed);
                        }
                        // During shutdown the deadline of `Shippers::drain` bounds the retries.
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        outcomes
    }

    fn settle(&self, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted { batch, response } => self.accepted(&batch, &response),
                Outcome::Refused {
                    batch,
                    status,
                    reason,
                } => self.dead_letter(&batch, status, &reason),
            }
        }
    }

    async fn send(&self, batch: &batch::Batch) -> Result<IngestResponse, SendError> {
        let Some(runtime) = self.runtime.upgrade() else {
            return Err(SendError::Retry {
                reason: "supervisor stopping".into(),
                after: None,
            });
        };
        let body = batch.body(&runtime.runtime_id);
        let mut request = self
            .client
            .post(format!(
                "{}/api/internal/v1/events",
                self.dest.url.trim_end_matches('/')
            ))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzip(&body));
        if let Some(key) = &self.dest.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| SendError::Retry {
            reason: error_chain(&e),
            after: None,
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status.is_success() {
            let text = response.bytes().await.map_err(|e| SendError::Retry {
                reason: error_chain(&e),
                after: None,
            })?;
            return serde_json::from_slice(&text).map_err(|e| SendError::Retry {
                reason: format!("unreadable answer: {e}"),
                after: None,
            });
        }
        let body = response.text().await.unwrap_or_default();
        match status.as_u16() {
            413 => Err(SendError::TooLarge),
            408 | 429 | 500..=599 => Err(SendError::Retry {
                reason: format!("{status}: {body}"),
                after: retry_after,
            }),
            // 401/403/409 are configuration problems that an operator can fix: keep retrying, slowly.
            401 | 403 | 409 => Err(SendError::Retry {
                reason: format!("{status}: {body}"),
                after: None,
            }),
            code => Err(SendError::Rejected { status: code, body }),
        }
    }

    fn accepted(&self, batch: &batch::Batch, response: &IngestResponse) {
        let runtime = self.runtime.upgrade();
        if let Some(runtime) = &runtime {
            runtime
                .metrics
                .events_delivered
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        self.advance(batch);
        if let Some(runtime) = &runtime {
            apply_commands(runtime, &response.commands);
        }
    }

    fn advance(&self, batch: &batch::Batch) {
        let mut tracked = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        for (session_id, (last_seq, end)) in batch.last_seqs() {
            if let Some(t) = tracked.iter_mut().find(|t| t.session_id() == &session_id) {
                t.acked(last_seq, end);
            }
        }
        // Sessions fully delivered and finished need no more attention.
        tracked.retain(|t| !t.is_done());
    }

    fn dead_letter(&self, batch: &batch::Batch, status: u16, reason: &str) {
        let runtime = self.runtime.upgrade();
        let runtime_id = runtime.as_ref().map_or("", |r| r.runtime_id.as_str());
        let path = self.dead_letter_dir.join(format!(
            "{}-{}.json",
            crate::session::now_ts(),
            batch.first_label()
        ));
        let written = std::fs::create_dir_all(&self.dead_letter_dir)
            .and_then(|()| std::fs::File::create(&path))
            .and_then(|mut f| f.write_all(&batch.body(runtime_id)));
        if let Some(runtime) = &runtime {
            runtime
                .metrics
                .delivery_dead_letters
                .fetch_add(1, Ordering::Relaxed);
        }
        tracing::error!(
            url = %self.dest.url, status, %reason, events = batch.len(), path = %path.display(),
            written = written.is_ok(), "control plane rejected a batch; moved it to the dead-letter directory"
        );
        // Say so in each session's own log too (when it is still open), so whoever reads the session sees
        // the gap and where the events went; the event itself is delivered like any other.
        // Not for a batch that holds such a report already: a receiver refusing it would otherwise be sent
        // a new report for every refusal, for as long as the session runs.
        if let Some(runtime) = runtime.as_ref().filter(|_| !batch.has_kind("delivery.rejected")) {
            let error: String = reason.chars().take(1000).collect();
            for (session_id, (first_seq, last_seq)) in batch.seq_ranges() {
                let Some(entry) = runtime.session(&session_id) else {
                    continue;
                };
                let data = serde_json::json!({
                    "status": status, "error": error, "firstSeq": first_seq, "lastSeq": last_seq,
                    "deadLetter": path.display().to_string(),
                });
                entry.with_log(|log| {
                    log.supervisor(&crate::session::now_ts(), "delivery.rejected", &data);
                    if let Err(err) = log.writer().commit() {
                        tracing::error!(session_id = %session_id, error = %err, "write event log");
                    }
                });
            }
        }
        self.advance(batch);
    }

    /// Heartbeats every few seconds, whether or not events flow, until the supervisor stops.
    async fn heartbeats(self: Arc<Self>, draining: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = draining.cancelled() => return,
                _ = tick.tick() => self.heartbeat().await,
            }
        }
    }

    async fn heartbeat(&self) {
        let Some(runtime) = self.runtime.upgrade() else {
            return;
        };
        let sessions: Vec<SessionId> = runtime
            .sessions()
            .iter()
            .filter(|e| !e.status().is_finished())
            .map(|e| e.id.clone())
            .collect();
        let beat = protocol::Heartbeat {
            runtime_id: runtime.runtime_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            sessions,
        };
        let mut request = self
            .client
            .post(format!(
                "{}/api/internal/v1/heartbeat",
                self.dest.url.trim_end_matches('/')
            ))
            .json(&beat);
        if let Some(key) = &self.dest.key {
            request = request.bearer_auth(key);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                if let Ok(answer) = response.json::<protocol::HeartbeatResponse>().await {
                    apply_commands(&runtime, &answer.commands);
                }
            }
            Ok(response) => {
                tracing::warn!(url = %self.dest.url, status = %response.status(), "heartbeat refused")
            }
            Err(err) => tracing::debug!(url = %self.dest.url, error = %error_chain(&err), "heartbeat failed"),
        }
    }
}

/// Carries out what the control plane asked for.
fn apply_commands(runtime: &Runtime, commands: &[Command]) {
    for command in commands {
        match command {
            Command::Cancel { session_id } => match runtime.session(session_id) {
                Some(entry) => {
                    entry.request_cancel();
                }
                None => {
                    tracing::warn!(session_id = %session_id, "control plane asked to cancel an unknown session")
                }
            },
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The configured control plane as a destination, if any.
pub fn configured(url: Option<&str>, key: Option<&Secret>) -> Option<Destination> {
    url.map(|url| Destination {
        url: url.to_owned(),
        key: key.map(|k| k.value.clone()),
    })
}
