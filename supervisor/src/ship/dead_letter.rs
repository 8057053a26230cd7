//! Dead letters: a batch the destination will never accept is written to `<state>/dead-letter/`, counted,
//! logged, and reported in each of its sessions' own logs.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::SessionId;

use super::batch::Batch;
use super::context::ShipContext;
use crate::eventlog::now_ts;
use crate::session::entry::SessionEntry;

/// Dead-letters `batch`, which the destination at `url` refused with `status` and `reason`; its sessions
/// still running are found with `shipped_here`.
pub(super) fn dead_letter(
    context: &ShipContext,
    url: &str,
    batch: &Batch,
    status: u16,
    reason: &str,
    shipped_here: impl Fn(&SessionId) -> Option<Arc<SessionEntry>>,
) {
    let dir = &context.dead_letter_dir;
    let path = dir.join(format!("{}-{}.json", now_ts(), batch.first_label()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::File::create(&path))
        .and_then(|mut f| f.write_all(&batch.body(&context.runtime_id)));
    context
        .metrics
        .delivery_dead_letters
        .fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        url = %url, status, %reason, events = batch.len(), path = %path.display(),
        written = written.is_ok(), "control plane rejected a batch; moved it to the dead-letter directory"
    );
    // Say so in each session's own log too (when it is still open), so whoever reads the session sees
    // the gap and where the events went; the event itself is delivered like any other.
    // Not for a batch that holds such a report already: a receiver refusing it would otherwise be sent
    // a new report for every refusal, for as long as the session runs.
    if batch.has_kind("delivery.rejected") {
        return;
    }
    let error: String = reason.chars().take(1000).collect();
    for (session_id, (first_seq, last_seq)) in batch.seq_ranges() {
        let Some(entry) = shipped_here(&session_id) else {
            continue;
        };
        let data = serde_json::json!({
            "status": status, "error": error, "firstSeq": first_seq, "lastSeq": last_seq,
            "deadLetter": path.display().to_string(),
        });
        entry.with_log(|log| {
            log.supervisor(&now_ts(), "delivery.rejected", &data);
            if let Err(err) = log.writer().commit() {
                tracing::error!(session_id = %session_id, error = %err, "write event log");
            }
        });
    }
}
