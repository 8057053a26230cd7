//! One destination's delivery loop: read batches from the tracked sessions' logs, send them (two in flight
//! while there is a backlog), apply the outcomes in read order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use protocol::{IngestResponse, SessionId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::LINGER;
use super::backoff::{Backoff, MISCONFIGURED_CAP};
use super::batch::{self, Batch, Tracked};
use super::context::ShipContext;
use super::destination::Destination;
use super::transport::{SendError, Transport};
use crate::session::entry::SessionEntry;

/// Requests in flight per destination while the logs hold a backlog (one otherwise, so events trickling in
/// still gather into batches): the next batch is read, sent and parsed while the previous one commits.
const MAX_IN_FLIGHT: usize = 2;
/// A misconfigured destination is logged at most this often (every attempt is counted in a metric).
const MISCONFIGURED_LOG_EVERY: Duration = Duration::from_secs(60);

/// Ships the events of the sessions tracked for one destination.
#[derive(Debug)]
pub(crate) struct Shipper {
    pub(crate) transport: Transport,
    pub(super) context: Arc<ShipContext>,
    tracked: Mutex<Vec<Tracked>>,
    /// The sessions shipped here that have not finished: the only ones this destination's heartbeats
    /// list and its commands may touch (a request's `storage` is another caller's server).
    shipped: Mutex<Vec<Arc<SessionEntry>>>,
    wake: Notify,
    /// When a misconfiguration was last logged.
    misconfigured_logged: Mutex<Option<Instant>>,
}

/// What became of a batch (or of a part of it, after a 413).
enum Outcome {
    Accepted {
        batch: Batch,
        response: IngestResponse,
    },
    /// Never to be accepted: dead-lettered when settled.
    Refused {
        batch: Batch,
        status: u16,
        reason: String,
    },
}

impl Shipper {
    pub(super) fn new(dest: Destination, context: Arc<ShipContext>) -> Self {
        Self {
            transport: Transport::new(dest),
            context,
            tracked: Mutex::new(Vec::new()),
            shipped: Mutex::new(Vec::new()),
            wake: Notify::new(),
            misconfigured_logged: Mutex::new(None),
        }
    }

    fn tracked(&self) -> MutexGuard<'_, Vec<Tracked>> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts shipping a session's events (from after `acked`).
    pub(crate) fn track(&self, entry: Arc<SessionEntry>, acked: Option<u64>) {
        if !entry.status().is_finished() {
            self.shipped().push(entry.clone());
        }
        let tracked = Tracked::new(entry, acked);
        self.tracked().push(tracked);
        self.wake.notify_one();
    }

    /// The cursor of `id` while this shipper tracks it.
    pub(super) fn cursor_of(&self, id: &SessionId) -> Option<super::cursor::Cursor> {
        self.tracked()
            .iter()
            .find(|t| t.session_id() == id)
            .map(|t| t.cursor())
    }

    fn shipped(&self) -> MutexGuard<'_, Vec<Arc<SessionEntry>>> {
        self.shipped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sessions shipped here that are still running, for a heartbeat.
    pub(super) fn running_sessions(&self) -> Vec<SessionId> {
        let mut shipped = self.shipped();
        shipped.retain(|entry| !entry.status().is_finished());
        shipped.iter().map(|entry| entry.id.clone()).collect()
    }

    /// `id`, if it is a running session shipped here.
    pub(super) fn shipped_session(&self, id: &SessionId) -> Option<Arc<SessionEntry>> {
        self.shipped().iter().find(|entry| &entry.id == id).cloned()
    }

    pub(super) async fn run(self: Arc<Self>, draining: CancellationToken) {
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

    async fn next_batch(&self) -> Option<Batch> {
        let mut tracked = std::mem::take(&mut *self.tracked());
        let batch = batch::assemble(&mut tracked).await;
        self.tracked().extend(tracked);
        batch
    }

    fn all_finished(&self) -> bool {
        self.tracked().iter().all(Tracked::is_done)
    }

    /// Sends `batch` until it is accepted or refused for good, splitting it on 413; answers what became of
    /// each part, in log order, for [`Shipper::settle`].
    async fn deliver(&self, batch: Batch) -> Vec<Outcome> {
        let mut backoff = Backoff::default();
        let mut slow = Backoff::capped_at(MISCONFIGURED_CAP);
        let mut outcomes = Vec::new();
        let mut queue = vec![batch];
        let url = self.transport.dest().display();
        while let Some(batch) = queue.pop() {
            loop {
                let body = batch.body(&self.context.runtime_id);
                let (reason, after) = match self.transport.send_batch(&body).await {
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
                    Err(SendError::Misconfigured { status, body }) => {
                        let wait = slow.next(None);
                        self.misconfigured(&url, status, &body, wait);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    Err(SendError::Retry { reason, after }) => (reason, after),
                };
                let wait = backoff.next(after);
                tracing::warn!(url = %url, %reason, ?wait, events = batch.len(), "delivery failed; retrying");
                self.context
                    .metrics
                    .delivery_retries
                    .fetch_add(1, Ordering::Relaxed);
                // During shutdown the deadline of `Shippers::drain` bounds the retries.
                tokio::time::sleep(wait).await;
            }
        }
        outcomes
    }

    /// Counts an attempt refused as misconfigured, and logs it (at most once a minute, since a
    /// misconfiguration lasts until an operator acts). The URL is shown without credentials.
    fn misconfigured(&self, url: &str, status: u16, body: &str, wait: Duration) {
        self.context
            .metrics
            .delivery_misconfigured
            .fetch_add(1, Ordering::Relaxed);
        let mut logged = self
            .misconfigured_logged
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if logged.is_some_and(|at| at.elapsed() < MISCONFIGURED_LOG_EVERY) {
            return;
        }
        *logged = Some(Instant::now());
        let body: String = body.chars().take(200).collect();
        tracing::error!(
            url = %url, status, %body, ?wait,
            "destination is misconfigured (wrong URL or credentials?): keeping every event and retrying"
        );
    }

    fn settle(&self, outcomes: Vec<Outcome>) {
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted { batch, response } => {
                    self.context
                        .metrics
                        .events_delivered
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.reject(&response);
                    self.advance(&batch);
                    super::commands::apply(&response.commands, &url_of(self), |id| self.shipped_session(id));
                }
                Outcome::Refused {
                    batch,
                    status,
                    reason,
                } => {
                    super::dead_letter::dead_letter(
                        &self.context,
                        &url_of(self),
                        &batch,
                        status,
                        &reason,
                        |id| self.shipped_session(id),
                    );
                    self.advance(&batch);
                }
            }
        }
    }

    /// Stops shipping the sessions the answer refused, reporting each once (a second batch in flight may
    /// hold the same session and be refused too).
    fn reject(&self, response: &IngestResponse) {
        if response.rejected.is_empty() {
            return;
        }
        let url = url_of(self);
        for (session_id, detail) in &response.rejected {
            let mut tracked = self.tracked();
            let Some(at) = tracked.iter().position(|t| t.session_id() == session_id) else {
                continue;
            };
            let mut t = tracked.swap_remove(at);
            drop(tracked);
            t.reject();
            let entry = self.shipped_session(session_id);
            self.shipped().retain(|e| &e.id != session_id);
            super::rejection::report(&url, session_id, detail, entry);
        }
    }

    /// Moves the cursors past `batch`.
    fn advance(&self, batch: &Batch) {
        let mut tracked = self.tracked();
        for (session_id, (last_seq, end)) in batch.last_seqs() {
            if let Some(t) = tracked.iter_mut().find(|t| t.session_id() == &session_id) {
                t.acked(last_seq, end);
            }
        }
        // Sessions fully delivered and finished need no more attention.
        tracked.retain(|t| !t.is_done());
    }
}

/// The destination's URL as logs may show it.
fn url_of(shipper: &Shipper) -> String {
    shipper.transport.dest().display()
}
