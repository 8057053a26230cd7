//! What a shipper uses of the supervisor, and nothing more.

use std::path::PathBuf;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::session::table::SessionTable;

/// What a shipper uses of the supervisor.
#[derive(Debug)]
pub(crate) struct ShipContext {
    /// This runtime's name, in every batch and heartbeat.
    pub(crate) runtime_id: String,
    pub(crate) metrics: Arc<Metrics>,
    /// For heartbeats (the running sessions) and commands (the session to cancel).
    pub(crate) sessions: Arc<SessionTable>,
    /// `<state>/dead-letter`.
    pub(crate) dead_letter_dir: PathBuf,
}
