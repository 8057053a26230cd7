//! Wake-ups for live followers (SSE).
//!
//! Followers never trust a wake-up's content: it only says "look again", and they re-read the events by seq
//! from the store. That keeps three sources interchangeable:
//! - in-process: the ingest writer publishes the sessions it just committed to a broadcast channel;
//! - between replicas (PostgreSQL): every 100 ms at most, each replica sends one NOTIFY carrying the
//!   sessions it committed since the last one (the doorbell); each replica listens and republishes locally.
//!   A listener that lost its connection wakes everyone, because notifications sent meanwhile are gone;
//! - a poll every [`POLL_INTERVAL`] covers whatever both missed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::Store;

pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
const DOORBELL_INTERVAL: Duration = Duration::from_millis(100);
/// NOTIFY payloads are limited to 8000 bytes.
const DOORBELL_PAYLOAD_MAX: usize = 7_500;

#[derive(Debug, Clone)]
pub enum Wake {
    Sessions(Arc<[String]>),
    /// Something may have been missed: every follower re-reads.
    All,
}

impl Wake {
    pub fn concerns(&self, session_id: &str) -> bool {
        match self {
            Self::Sessions(ids) => ids.iter().any(|id| id == session_id),
            Self::All => true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<Wake>,
    /// Sessions committed here since the last doorbell; `None` when there is no other replica to tell.
    pending: Option<Arc<Mutex<BTreeSet<String>>>>,
}

impl Hub {
    pub fn new(with_doorbell: bool) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            pending: with_doorbell.then(|| Arc::new(Mutex::new(BTreeSet::new()))),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Wake> {
        self.tx.subscribe()
    }

    /// Tells local followers, and (through the doorbell) the other replicas, that these sessions changed.
    pub fn publish(&self, sessions: Vec<String>) {
        if sessions.is_empty() {
            return;
        }
        if let Some(pending) = &self.pending {
            pending
                .lock()
                .expect("doorbell set lock is never held across a panic")
                .extend(sessions.iter().cloned());
        }
        self.publish_local(Wake::Sessions(sessions.into()));
    }

    fn publish_local(&self, wake: Wake) {
        // No receiver is fine: nobody follows.
        let _ = self.tx.send(wake);
    }

    fn take_pending(&self) -> Vec<String> {
        match &self.pending {
            Some(p) => {
                std::mem::take(&mut *p.lock().expect("doorbell set lock is never held across a panic"))
                    .into_iter()
                    .collect()
            }
            None => Vec::new(),
        }
    }

    /// Waits until `session_id` may have changed: a wake-up for it, a lost wake-up, or the poll interval.
    pub async fn wait(rx: &mut broadcast::Receiver<Wake>, session_id: &str) {
        let deadline = tokio::time::sleep(POLL_INTERVAL);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                got = rx.recv() => match got {
                    Ok(wake) if wake.concerns(session_id) => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => {
                        (&mut deadline).await;
                        return;
                    }
                },
            }
        }
    }
}

/// Starts the doorbell sender and listener (PostgreSQL only).
pub fn spawn_doorbell(hub: Hub, store: Store, shutdown: CancellationToken, tasks: &TaskTracker) {
    if !store.has_doorbell() {
        return;
    }
    let (h, s, t) = (hub.clone(), store.clone(), shutdown.clone());
    tasks.spawn(async move { ring_loop(h, s, t).await });
    tasks.spawn(async move { listen_loop(hub, store, shutdown).await });
}

async fn ring_loop(hub: Hub, store: Store, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(DOORBELL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let sessions = hub.take_pending();
        for payload in payloads(&sessions) {
            if let Err(error) = store.ring_doorbell(&payload).await {
                // Followers elsewhere fall back to polling; nothing is lost.
                tracing::warn!(error = %error, "ring follow doorbell");
            }
        }
    }
}

/// JSON arrays of session ids, each under the NOTIFY payload limit.
fn payloads(sessions: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 2;
    for s in sessions {
        if size + s.len() + 3 > DOORBELL_PAYLOAD_MAX && !current.is_empty() {
            out.push(serde_json::to_string(&current).expect("strings serialise"));
            current.clear();
            size = 2;
        }
        size += s.len() + 3;
        current.push(s);
    }
    if !current.is_empty() {
        out.push(serde_json::to_string(&current).expect("strings serialise"));
    }
    out
}

async fn listen_loop(hub: Hub, store: Store, shutdown: CancellationToken) {
    loop {
        let mut listener = match store.doorbell_listener().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %error, "listen for follow doorbell");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        // Whatever was notified before this listener existed is unknown.
        hub.publish_local(Wake::All);
        loop {
            let got = tokio::select! {
                () = shutdown.cancelled() => return,
                got = listener.try_recv() => got,
            };
            match got {
                Ok(Some(notification)) => match serde_json::from_str::<Vec<String>>(notification.payload()) {
                    Ok(ids) => hub.publish_local(Wake::Sessions(ids.into())),
                    Err(_) => hub.publish_local(Wake::All),
                },
                // The connection was lost and re-established: notifications in between are gone.
                Ok(None) => hub.publish_local(Wake::All),
                Err(error) => {
                    tracing::warn!(error = %error, "follow doorbell listener");
                    hub.publish_local(Wake::All);
                    break;
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doorbell_payloads_stay_under_the_notify_limit() {
        let sessions: Vec<String> = (0..1000).map(|i| format!("session-{i:056}")).collect();
        let payloads = payloads(&sessions);
        assert!(payloads.len() > 1);
        let mut all = Vec::new();
        for p in &payloads {
            assert!(p.len() <= DOORBELL_PAYLOAD_MAX, "{} bytes", p.len());
            all.extend(serde_json::from_str::<Vec<String>>(p).unwrap());
        }
        assert_eq!(all, sessions);
    }
}
