//! Every shipper of this supervisor, one per destination, and the little each one needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::context::ShipContext;
use super::cursor::Cursor;
use super::destination::Destination;
use super::shipper::Shipper;
use crate::session::entry::SessionEntry;

/// Every shipper of this supervisor.
#[derive(Debug)]
pub(crate) struct Shippers {
    context: Arc<ShipContext>,
    by_dest: Mutex<HashMap<Destination, Arc<Shipper>>>,
    /// Cancelled when the supervisor stops: shippers then deliver what is left and return.
    draining: CancellationToken,
    tasks: TaskTracker,
}

impl Shippers {
    pub(crate) fn new(context: ShipContext) -> Self {
        Self {
            context: Arc::new(context),
            by_dest: Mutex::default(),
            draining: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// The shipper for `dest`, started on first use.
    pub(crate) fn for_destination(&self, dest: Destination) -> Arc<Shipper> {
        let mut map = self.by_dest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shipper) = map.get(&dest) {
            return shipper.clone();
        }
        let shipper = Arc::new(Shipper::new(dest.clone(), self.context.clone()));
        map.insert(dest, shipper.clone());
        let task = shipper.clone();
        let draining = self.draining.clone();
        self.tasks.spawn(async move { task.run(draining).await });
        let task = shipper.clone();
        let draining = self.draining.clone();
        self.tasks
            .spawn(async move { super::heartbeat::heartbeats(task, draining).await });
        shipper
    }

    /// How far the session's destination confirmed its events: the cursor of the shipper tracking it,
    /// else the one it left on disk (a shipper stops tracking a session once it delivered all of it, and
    /// a session of an earlier incarnation may be tracked by none).
    pub(crate) fn cursor(&self, entry: &SessionEntry) -> Cursor {
        let shippers: Vec<Arc<Shipper>> = self
            .by_dest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        // A shipper takes its tracked sessions out while it reads a batch: then the disk answers, which
        // is never ahead of the shipper.
        shippers
            .iter()
            .find_map(|shipper| shipper.cursor_of(&entry.id))
            .unwrap_or_else(|| super::cursor::on_disk(&entry.log_path))
    }

    /// Waits until every shipper delivered everything, or `deadline` passes.
    pub(crate) async fn drain(&self, deadline: Duration) {
        self.draining.cancel();
        self.tasks.close();
        if tokio::time::timeout(deadline, self.tasks.wait()).await.is_err() {
            tracing::warn!(
                ?deadline,
                "gave up delivering events at shutdown; they stay in the local log"
            );
        }
    }
}
