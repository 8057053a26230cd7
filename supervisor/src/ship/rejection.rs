//! Sessions a destination refuses for good (another runtime owns the session id, or an event of it is
//! invalid): named in an ingest answer's `rejected`, reported in the session's own log, shipped no more.
//! The rest of the batch was stored; every other session keeps flowing.

use std::sync::Arc;

use protocol::{ErrorDetail, SessionId};

use crate::eventlog::now_ts;
use crate::session::entry::SessionEntry;

/// Reports the refusal in the session's log while it is open (`delivery.rejected`, like a dead letter's
/// report); the event is not shipped, since the destination takes nothing more of this session, but
/// `GET /sessions/{id}/events` and whoever reads the log see why the control plane lacks it.
pub(super) fn report(
    url: &str,
    session_id: &SessionId,
    detail: &ErrorDetail,
    entry: Option<Arc<SessionEntry>>,
) {
    tracing::error!(
        url = %url, session_id = %session_id, code = %detail.code, message = %detail.message,
        "the control plane refused this session; it is no longer shipped there"
    );
    let Some(entry) = entry else {
        return;
    };
    let message: String = detail.message.chars().take(1000).collect();
    let data = serde_json::json!({"code": detail.code, "message": message, "destination": url});
    entry.with_log(|log| {
        log.supervisor(&now_ts(), "delivery.rejected", &data);
        if let Err(err) = log.writer().commit() {
            tracing::error!(session_id = %session_id, error = %err, "write event log");
        }
    });
}
