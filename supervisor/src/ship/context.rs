//! What a shipper uses of the supervisor, and nothing more.

use std::path::PathBuf;
use std::sync::Arc;

use crate::metrics::Metrics;

/// What a shipper uses of the supervisor.
#[derive(Debug)]
pub(crate) struct ShipContext {
    /// This runtime's name, in every batch and heartbeat.
    pub(crate) runtime_id: String,
    pub(crate) metrics: Arc<Metrics>,
    /// `<state>/dead-letter`.
    pub(crate) dead_letter_dir: PathBuf,
}
