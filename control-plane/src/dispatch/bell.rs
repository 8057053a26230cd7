//! The queue's wake-up for waiting claimers.
//!
//! A claimer never trusts a ring: it only says "claim again", and the claim transaction decides. Sources:
//! this replica's queue changes ([`Bell::ring`]), other replicas' (a NOTIFY on [`QUEUE_CHANNEL`], sent at
//! once, heard by [`spawn_listener`]), and ingest commits (the follow hub: a finished session may let the
//! next of its conversation run), coalesced so that a busy ingest does not turn every waiting claimer into
//! a busy loop. A reconnected listener rings, since notifications in between are gone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::follow::Hub;
use crate::store::Store;

/// The NOTIFY channel of the queue between replicas.
pub const QUEUE_CHANNEL: &str = "agentctl_queue";
/// Ingest wake-ups reach claimers at most this often.
const INGEST_COALESCE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct Bell {
    tx: Arc<watch::Sender<u64>>,
    store: Store,
}

impl Bell {
    pub fn new(store: Store) -> Self {
        let (tx, _) = watch::channel(0);
        Self {
            tx: Arc::new(tx),
            store,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// Wakes this replica's claimers only.
    pub fn ring_local(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes every replica's claimers: call after the transaction that made a session claimable committed.
    pub async fn ring(&self) {
        self.ring_local();
        if let Err(error) = self.store.notify(QUEUE_CHANNEL, "").await {
            // The other replicas' claimers fall back to their safety poll.
            tracing::warn!(%error, "ring the queue bell");
        }
    }
}

/// Starts the listener of other replicas' rings (PostgreSQL) and the forwarding of ingest commits.
pub fn spawn(bell: Bell, hub: &Hub, shutdown: CancellationToken, tasks: &TaskTracker) {
    let rx = hub.subscribe();
    let (b, t) = (bell.clone(), shutdown.clone());
    tasks.spawn(async move { forward_ingest(b, rx, t).await });
    if bell.store.has_doorbell() {
        tasks.spawn(async move { listen(bell, shutdown).await });
    }
}

async fn forward_ingest(
    bell: Bell,
    mut rx: broadcast::Receiver<crate::follow::Wake>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            got = rx.recv() => {
                if matches!(got, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
        }
        bell.ring_local();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(INGEST_COALESCE) => {}
        }
        // Whatever arrived meanwhile is covered by the next claim.
        while rx.try_recv().is_ok() {}
    }
}

async fn listen(bell: Bell, shutdown: CancellationToken) {
    loop {
        let mut listener = match bell.store.listener(QUEUE_CHANNEL).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "listen for the queue bell");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        bell.ring_local();
        loop {
            let got = tokio::select! {
                () = shutdown.cancelled() => return,
                got = listener.try_recv() => got,
            };
            match got {
                Ok(_) => bell.ring_local(),
                Err(error) => {
                    tracing::warn!(%error, "queue bell listener");
                    bell.ring_local();
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
