//! The supervisor's shared state: configuration, the session table, the reaper and the shutdown tokens.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use protocol::SessionId;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::process::{Reaper, RunAs};
use crate::session::SessionEntry;

/// The agent command, resolved once at startup.
#[derive(Debug, Clone)]
pub struct Runner {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// As configured, for `session.started`.
    pub display: String,
}

/// A secret value of the supervisor's own, redacted from every event.
#[derive(Clone)]
pub struct Secret {
    pub name: &'static str,
    pub value: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, [hidden])", self.name)
    }
}

#[derive(Debug)]
pub struct Runtime {
    pub config: Config,
    pub runtime_id: String,
    pub started: Instant,
    pub reaper: Reaper,
    pub metrics: Metrics,
    pub runner: Runner,
    pub run_as: Option<RunAs>,
    /// The API token; `None` with `--no-auth`.
    pub token: Option<Secret>,
    /// Credential-proxy mode: the proxy's loopback URL, set as every agent's `ANTHROPIC_BASE_URL`.
    pub anthropic_proxy: Option<String>,
    /// The supervisor's secrets (token, control-plane key): redacted from every session's events.
    pub secrets: Vec<Secret>,
    /// Cancelled at the first SIGTERM/SIGINT: stop admitting, stop every session.
    pub shutdown: CancellationToken,
    /// Cancelled at the second signal: skip the grace period, SIGKILL now.
    pub kill_now: CancellationToken,
    /// Every session task; shutdown waits for all of them.
    pub tasks: TaskTracker,
    /// Delivery to the control plane (and to requests' `storage`).
    pub shippers: crate::ship::Shippers,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
pub struct Table {
    pub by_id: HashMap<SessionId, Arc<SessionEntry>>,
    /// Session ids in creation order.
    pub order: Vec<SessionId>,
    /// Sessions admitted and not yet finished (counted against `--max-sessions`).
    pub running: usize,
    /// Process groups of live agents: a pgid here is never signalled on behalf of another session.
    pub live_pgids: HashSet<u32>,
}

impl Runtime {
    pub fn new(
        config: Config,
        runtime_id: String,
        runner: Runner,
        run_as: Option<RunAs>,
        token: Option<Secret>,
        secrets: Vec<Secret>,
    ) -> Self {
        Self {
            config,
            runtime_id,
            started: Instant::now(),
            reaper: Reaper::new(),
            metrics: Metrics::default(),
            runner,
            run_as,
            token,
            anthropic_proxy: None,
            secrets,
            shutdown: CancellationToken::new(),
            kill_now: CancellationToken::new(),
            tasks: TaskTracker::new(),
            shippers: crate::ship::Shippers::default(),
            table: Mutex::new(Table::default()),
        }
    }

    pub fn table(&self) -> MutexGuard<'_, Table> {
        // Table updates are single inserts/removes; a panic cannot leave it half-changed.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn session(&self, id: &SessionId) -> Option<Arc<SessionEntry>> {
        self.table().by_id.get(id).cloned()
    }

    /// Every session, newest first.
    pub fn sessions(&self) -> Vec<Arc<SessionEntry>> {
        let table = self.table();
        table
            .order
            .iter()
            .rev()
            .filter_map(|id| table.by_id.get(id).cloned())
            .collect()
    }

    /// Bytes of local logs not yet confirmed by their destination: what `--spool-max` bounds.
    pub fn undelivered_bytes(&self) -> u64 {
        self.table().by_id.values().map(|e| e.undelivered_bytes()).sum()
    }

    pub fn running(&self) -> usize {
        self.table().running
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.config.state_dir.join("sessions")
    }
}
