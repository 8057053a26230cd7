//! Commands in a destination's answers (heartbeats and ingest): cancel a session.

use protocol::Command;

use super::context::ShipContext;

/// Carries out what the destination asked for.
pub(super) fn apply(context: &ShipContext, commands: &[Command]) {
    for command in commands {
        match command {
            Command::Cancel { session_id } => match context.sessions.get(session_id) {
                Some(entry) => {
                    entry.request_cancel();
                }
                None => {
                    tracing::warn!(session_id = %session_id, "control plane asked to cancel an unknown session")
                }
            },
        }
    }
}
