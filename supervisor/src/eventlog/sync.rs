//! The fsync loop: running sessions' logs reach stable storage once a second.
//!
//! A crash of the supervisor loses nothing (written records are in the page cache); this bounds what a
//! power loss can take. Syncing happens outside the sessions' locks, on a blocking thread, so a slow disk
//! never stalls a session's output.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use protocol::SessionId;
use tokio_util::sync::CancellationToken;

/// How often the logs of running sessions are flushed to stable storage.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// An open log to sync: its session, its file and how long it is now.
pub(crate) type SyncTarget = (SessionId, Arc<File>, u64);

/// Every `SYNC_EVERY`, fsyncs the logs `open_logs` lists that grew since their last sync, until `stop`.
pub(crate) async fn sync_logs(open_logs: impl Fn() -> Vec<SyncTarget>, stop: CancellationToken) {
    let mut synced: HashMap<SessionId, u64> = HashMap::new();
    let mut tick = tokio::time::interval(SYNC_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let open = open_logs();
        // Finished sessions were synced by their task; forget them.
        synced.retain(|id, _| open.iter().any(|(open_id, _, _)| open_id == id));
        let targets: Vec<_> = open
            .into_iter()
            .filter(|(id, _, len)| synced.get(id) != Some(len))
            .collect();
        let done = tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .filter_map(|(id, file, len)| match file.sync_data() {
                    Ok(()) => Some((id, len)),
                    Err(err) => {
                        tracing::error!(session_id = %id, error = %err, "sync event log");
                        None
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        synced.extend(done);
    }
}
