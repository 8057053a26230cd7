//! Heartbeats to a destination every few seconds, and the commands (cancel) its answers carry.

use std::sync::Arc;
use std::time::Duration;

use protocol::{Heartbeat, RuntimeState, SessionId};
use tokio_util::sync::CancellationToken;

use super::commands::apply;
use super::shipper::Shipper;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// Heartbeats every few seconds, whether or not events flow, until the supervisor stops; and once more
/// the moment the runtime begins to drain, so the control plane lists it `draining` at once.
pub(super) async fn heartbeats(shipper: Arc<Shipper>, draining: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drain = shipper.context.drain.clone();
    let mut reported_drain = false;
    loop {
        tokio::select! {
            () = draining.cancelled() => return,
            () = drain.cancelled(), if !reported_drain => {
                reported_drain = true;
                heartbeat(&shipper).await;
            }
            _ = tick.tick() => heartbeat(&shipper).await,
        }
    }
}

async fn heartbeat(shipper: &Shipper) {
    let context = &shipper.context;
    // Only the sessions shipped to this destination: a request's `storage` must not learn of others.
    let sessions: Vec<SessionId> = shipper.running_sessions();
    let beat = Heartbeat {
        runtime_id: context.runtime_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        sessions,
        labels: context.labels.clone(),
        capacity: Some(context.capacity),
        state: if context.drain.is_cancelled() {
            RuntimeState::Draining
        } else {
            RuntimeState::Active
        },
    };
    if let Some(answer) = shipper.transport.heartbeat(&beat).await {
        apply(&answer.commands, &shipper.transport.dest().display(), |id| {
            shipper.shipped_session(id)
        });
    }
}
