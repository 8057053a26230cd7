//! Commands in a destination's answers (heartbeats and ingest): cancel a session.

use std::sync::Arc;

use protocol::{Command, SessionId};

use crate::session::entry::SessionEntry;

/// Carries out what the destination at `url` asked for, on the sessions `shipped_here` finds: only those
/// shipped to that destination, so one caller's `storage` cannot cancel another caller's session.
pub(super) fn apply(
    commands: &[Command],
    url: &str,
    shipped_here: impl Fn(&SessionId) -> Option<Arc<SessionEntry>>,
) {
    for command in commands {
        match command {
            Command::Cancel { session_id } => match shipped_here(session_id) {
                Some(entry) => {
                    entry.request_cancel();
                }
                None => tracing::warn!(
                    session_id = %session_id, url = %url,
                    "a destination asked to cancel a session that is not running and shipped to it; ignored"
                ),
            },
        }
    }
}
