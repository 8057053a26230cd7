//! The claim lease: a claimed session whose `session.started` has not arrived within the lease goes back
//! to the queue in its place (its row keeps its creation order), one attempt more; after
//! [`super::MAX_ATTEMPTS`] it is `failed` with the reason in `error`. The same sweep ends the lease of a
//! claimed session that started, observing its queue-to-start latency.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::Store;
use crate::time;

use super::{Bell, MAX_ATTEMPTS};

/// Sweeps expired leases until `shutdown`.
pub async fn sweep(
    store: Store,
    bell: Bell,
    metrics: Arc<Metrics>,
    lease: Duration,
    shutdown: CancellationToken,
) {
    let period = (lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.expire_leases(time::now_ms(), MAX_ATTEMPTS).await {
            Ok(expired) if !expired.requeued.is_empty() || !expired.failed.is_empty() => {
                tracing::warn!(
                    requeued = ?expired.requeued,
                    failed = ?expired.failed,
                    "claims not started within the lease"
                );
                Metrics::add(
                    &metrics.lease_expiries,
                    (expired.requeued.len() + expired.failed.len()) as u64,
                );
                // A requeued session is claimable again, and a failed one may let the next of its
                // conversation run.
                bell.ring().await;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "expire claim leases"),
        }
        match store.started_claims().await {
            Ok(started) => {
                for (_, waited) in started {
                    if let Some(ms) = waited {
                        metrics.observe_queue_to_start(ms);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "observe started claims"),
        }
    }
}
