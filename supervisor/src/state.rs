//! The state the routes, the session tasks and recovery share: the configuration and what start-up decided,
//! the session table, the reaper, the metrics, the shippers and the shutdown tokens.
//!
//! Named `state` (it was `runtime`): "runtime" is the tokio runtime and the runtime *container* this
//! process is PID 1 of. `AppState` is what axum's `with_state` carries. Tasks that need less get less:
//! shippers get a `ShipContext`, output pumps the metrics and the table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::process::{Reaper, RunAs};
use crate::secret::Secret;
use crate::session::table::SessionTable;
use crate::ship::destination::Destination;
use crate::ship::shippers::Shippers;
use crate::startup::Runner;

#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) runtime_id: String,
    pub(crate) started: Instant,
    pub(crate) reaper: Reaper,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) runner: Runner,
    pub(crate) run_as: Option<RunAs>,
    /// The API token; `None` with `--no-auth`.
    pub(crate) token: Option<Secret>,
    /// Credential-proxy mode: the proxy's loopback URL, set as every agent's `ANTHROPIC_BASE_URL`.
    pub(crate) anthropic_proxy: Option<String>,
    /// The supervisor's secrets (token, control-plane key, Anthropic key): redacted from every session's
    /// events.
    pub(crate) secrets: Vec<Secret>,
    /// The configured control plane, where sessions without `storage` are shipped.
    pub(crate) control_plane: Option<Destination>,
    /// This runtime's `--label`s, validated.
    pub(crate) labels: BTreeMap<String, String>,
    /// Cancelled when the runtime begins to drain (`POST /drain`, SIGTERM with `--drain-timeout`, and at
    /// shutdown): claim nothing more, admit nothing new, heartbeat `draining`.
    pub(crate) drain: CancellationToken,
    /// Set before `drain` is cancelled when the drain is the end of a runtime's life (`--max-jobs` used up,
    /// `--exit-when-idle`): sessions run to their end and every event is delivered before the exit.
    pub(crate) final_drain: AtomicBool,
    /// Cancelled at the first SIGTERM/SIGINT: stop admitting, stop every session.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled at the second signal: skip the grace period, SIGKILL now.
    pub(crate) kill_now: CancellationToken,
    /// Every session task; shutdown waits for all of them.
    pub(crate) tasks: TaskTracker,
    /// Delivery to the control plane (and to requests' `storage`).
    pub(crate) shippers: Shippers,
    pub(crate) sessions: Arc<SessionTable>,
    /// Jobs' npm packages, installed once per lockfile (`--npm-registry`).
    pub(crate) npm: crate::packages::NpmCache,
}

impl AppState {
    pub(crate) fn sessions_dir(&self) -> PathBuf {
        self.config.state_dir.join("sessions")
    }
}
