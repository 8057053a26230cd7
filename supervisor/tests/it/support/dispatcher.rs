//! A stand-in control plane, for what the real `agentctl serve` never does: hand out jobs it would have
//! refused at `PUT` or queue time (invalid, or of a newer or older protocol), hand out a job again while it
//! runs, and answer every claim at once instead of long-polling (`drain.rs`'s first test also counts the
//! claims and heartbeats it got). Everything else runs against the real one (`support::ControlPlane`).
//! It hands out the jobs a test queues (`POST /api/internal/v1/claim`, long-polled, at most `free` per
//! answer), stores and acks the events it is sent, and answers heartbeats with no command.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{CP_KEY, Options, eventually};

#[derive(Default)]
struct Inner {
    queue: VecDeque<Value>,
    /// Every claim request, with when it arrived.
    claims: Vec<(Instant, Value)>,
    heartbeats: Vec<Value>,
    events: BTreeMap<String, Vec<Value>>,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    queued: Notify,
    /// Answer every claim at once instead of long-polling (a control plane that does not wait).
    impatient: std::sync::atomic::AtomicBool,
}

/// The stand-in control plane, serving until dropped.
pub(crate) struct Dispatcher {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    pub(crate) async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/api/internal/v1/claim", post(claim))
            .route("/api/internal/v1/events", post(events))
            .route("/api/internal/v1/heartbeat", post(heartbeat))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared, server }
    }

    /// Supervisor options that ship to and claim from this stand-in.
    pub(crate) fn supervisor(&self) -> Options {
        Options::default()
            .arg("--control-plane-url")
            .arg(&format!("http://{}", self.addr))
            .env("INTERNAL_API_KEY", CP_KEY)
    }

    /// From now on, answers every claim at once, empty when nothing is queued.
    pub(crate) fn answer_at_once(&self) {
        self.shared
            .impatient
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap()
    }

    /// Queues a job (an `ExecuteRequest`) for the next claim.
    pub(crate) fn queue(&self, job: Value) {
        self.lock().queue.push_back(job);
        self.shared.queued.notify_waiters();
    }

    /// The jobs not handed out yet.
    pub(crate) fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Every claim request so far, with when it arrived.
    pub(crate) fn claims(&self) -> Vec<(Instant, Value)> {
        self.lock().claims.clone()
    }

    pub(crate) fn heartbeats(&self) -> Vec<Value> {
        self.lock().heartbeats.clone()
    }

    /// The events received of a session, in seq order.
    pub(crate) fn events(&self, session: &str) -> Vec<Value> {
        let mut events = self.lock().events.get(session).cloned().unwrap_or_default();
        events.sort_by_key(|e| e["seq"].as_u64());
        events.dedup_by_key(|e| e["seq"].as_u64());
        events
    }

    /// Waits until `session.finished` of the session arrived; answers its data.
    pub(crate) async fn finished(&self, session: &str) -> Value {
        let mut data = Value::Null;
        let arrived = eventually(Duration::from_secs(30), async || {
            data = self
                .events(session)
                .into_iter()
                .find(|e| e["type"] == "session.finished")
                .map(|e| e["data"].clone())
                .unwrap_or(Value::Null);
            !data.is_null()
        })
        .await;
        assert!(arrived, "no session.finished of {session} arrived");
        data
    }

    /// The types of the session's events, in order.
    pub(crate) fn types(&self, session: &str) -> Vec<String> {
        self.events(session)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn claim(State(shared): State<Arc<Shared>>, Json(request): Json<Value>) -> Json<Value> {
    shared
        .inner
        .lock()
        .unwrap()
        .claims
        .push((Instant::now(), request.clone()));
    let free = request["free"].as_u64().unwrap_or(0) as usize;
    let wait = if shared.impatient.load(std::sync::atomic::Ordering::Relaxed) {
        0
    } else {
        request["waitSeconds"].as_u64().unwrap_or(0)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let queued = shared.queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        {
            let mut inner = shared.inner.lock().unwrap();
            let n = free.min(inner.queue.len());
            if n > 0 {
                let jobs: Vec<Value> = inner.queue.drain(..n).collect();
                return Json(json!({ "jobs": jobs }));
            }
        }
        if tokio::time::timeout_at(deadline, queued).await.is_err() {
            return Json(json!({ "jobs": [] }));
        }
    }
}

async fn events(State(shared): State<Arc<Shared>>, body: Bytes) -> Json<Value> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut text)
        .unwrap();
    let batch: Value = serde_json::from_slice(&text).unwrap();
    let mut acked = serde_json::Map::new();
    let mut inner = shared.inner.lock().unwrap();
    for event in batch["events"].as_array().unwrap() {
        let session = event["sessionId"].as_str().unwrap().to_owned();
        let seq = event["seq"].as_u64().unwrap();
        inner
            .events
            .entry(session.clone())
            .or_default()
            .push(event.clone());
        let highest = acked.get(&session).and_then(Value::as_u64).unwrap_or(0).max(seq);
        acked.insert(session, highest.into());
    }
    Json(json!({ "acked": acked, "commands": [] }))
}

async fn heartbeat(State(shared): State<Arc<Shared>>, Json(beat): Json<Value>) -> Json<Value> {
    shared.inner.lock().unwrap().heartbeats.push(beat);
    Json(json!({ "commands": [] }))
}
