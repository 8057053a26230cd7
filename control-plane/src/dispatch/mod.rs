//! Dispatch by pull (DESIGN.md §9): what the agent routes and the claim route share, and the background
//! tasks that keep the queue moving.
//!
//! - `bell`: the queue's wake-up: a session became claimable (queued, requeued, or the previous session of
//!   its conversation finished). In-process a watch channel; between replicas a PostgreSQL NOTIFY sent at
//!   once (not batched like the follow doorbell: a waiting claimer answers on it).
//! - `lease`: the sweeper that puts claimed sessions whose `session.started` did not arrive within the
//!   lease back in the queue, in their place, and fails them after the last attempt.

pub mod bell;
pub mod lease;

use std::time::Duration;

use crate::secrets::SecretsKey;
pub use bell::Bell;

/// Claims of one session before it is `failed`.
pub const MAX_ATTEMPTS: i64 = 3;
/// Longest long-poll of a claim.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// What the agent and claim routes need besides the store.
#[derive(Debug)]
pub struct Dispatch {
    /// Seals agents' secrets; `None` on PostgreSQL without a configured key (agents with secrets refused).
    pub secrets_key: Option<SecretsKey>,
    /// How long a claimed session may stay `pending` before it goes back to the queue.
    pub lease: Duration,
    pub bell: Bell,
    /// Where agents' `packages.npm` are resolved when a version is made (`--npm-registry`).
    pub npm_registry: crate::agents::packages::NpmRegistry,
}

/// Appends the gauge of queued sessions per agent to the metrics text; a database error leaves it out.
pub async fn render_queued(store: &crate::store::Store, out: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "# HELP agentctl_sessions_queued sessions waiting to be claimed, per agent\n# TYPE agentctl_sessions_queued gauge"
    );
    match store.queued_per_agent().await {
        Ok(rows) => {
            for (agent, n) in rows {
                // Agent ids are [A-Za-z0-9._-]: nothing to escape in a label value.
                let _ = writeln!(out, "agentctl_sessions_queued{{agent_id=\"{agent}\"}} {n}");
            }
        }
        Err(error) => tracing::warn!(%error, "count queued sessions for /metrics"),
    }
}
