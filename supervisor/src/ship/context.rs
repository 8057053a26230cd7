//! What a shipper uses of the supervisor, and nothing more.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// What a shipper uses of the supervisor.
#[derive(Debug)]
pub(crate) struct ShipContext {
    /// This runtime's name, in every batch and heartbeat.
    pub(crate) runtime_id: String,
    pub(crate) metrics: Arc<Metrics>,
    /// `<state>/dead-letter`.
    pub(crate) dead_letter_dir: PathBuf,
    /// What heartbeats report of the runtime: its labels, its capacity (`--max-sessions`), and, once this
    /// token is cancelled, that it is draining.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) capacity: usize,
    pub(crate) drain: CancellationToken,
}
