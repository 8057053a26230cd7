//! A claimed job that cannot start (it fails validation, its files cannot be written) must not vanish:
//! the control plane handed it to this runtime alone. It becomes a session of its own that ends `failed`
//! at once, with the reason in `session.finished`, shipped like any other session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ExecuteRequest, SessionId, SessionStatus};

use super::launch::new_entry;
use super::outcome::{Decision, Ending};
use super::request::{Prepared, request_hash};
use super::supervise::finish;
use super::table::Admission;
use crate::state::AppState;

/// Records `request` (whose `sessionId` is `session_id`) as a session that `failed` with `error`, and
/// ships it to the configured control plane. A session of that id already known is left as it is.
pub(crate) fn record_failed(
    state: &Arc<AppState>,
    session_id: SessionId,
    request: ExecuteRequest,
    error: &str,
) {
    let prepared = Prepared {
        request_hash: request_hash(&request),
        session_id,
        request,
        files: Vec::new(),
        timeout: Duration::ZERO,
    };
    let id = prepared.session_id.clone();
    // No slot limit: the session holds its slot (and, with a pool, a uid) only until `finish` below, and
    // runs nothing.
    let admission = state
        .sessions
        .admit(&id, prepared.request_hash, usize::MAX, |uid| {
            new_entry(state, &prepared, uid)
        });
    let entry = match admission {
        Admission::Admitted(entry) => entry,
        Admission::Existing(_) | Admission::Conflict | Admission::Removed => {
            tracing::info!(session_id = %id, "a refused job names a session this runtime already has; left as it is");
            return;
        }
        Admission::Busy(_) => {
            tracing::warn!(
                session_id = %id,
                "no uid free to record a refused job; the control plane's lease will hand it out again"
            );
            return;
        }
        Admission::Failed(err) => {
            tracing::error!(session_id = %id, error = ?anyhow::Error::from(err), "record a refused job");
            return;
        }
    };
    if let Some(dest) = &state.control_plane {
        state
            .shippers
            .for_destination(dest.clone())
            .track(entry.clone(), None);
    }
    // The reason is not logged: it may quote a value of the job, which only its redacted log may hold.
    tracing::warn!(session_id = %id, "claimed job refused; its session ends failed with the reason");
    let decision = Decision {
        status: SessionStatus::Failed,
        error: Some(error.to_owned()),
    };
    finish(state, &entry, decision, Ending::Exited(None), Instant::now());
    // No process ever ran as its uid.
    state.sessions.release_uid(&id);
}
