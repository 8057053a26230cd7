//! Delivery cursors: `<state>/sessions/<id>.acked` holds the highest seq a session's destination
//! confirmed, so a restarted supervisor ships from there.

use std::path::{Path, PathBuf};

/// The cursor of a session its destination refused for good: past every seq, so a restarted supervisor
/// ships nothing more of it (and its log does not count against `--spool-max`).
pub(super) const REJECTED: u64 = u64::MAX;

/// `<state>/sessions/<id>.acked`, beside `<id>.log`.
pub(crate) fn cursor_path(log_path: &Path) -> PathBuf {
    log_path.with_extension("acked")
}

/// The cursor of the session logged at `log_path`; `None` when nothing was confirmed (or it is unreadable:
/// the events are then sent again and the destination drops the duplicates).
pub(crate) fn read(log_path: &Path) -> Option<u64> {
    std::fs::read_to_string(cursor_path(log_path))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
}

/// Replaces the cursor atomically (write a temporary file, rename it over).
pub(super) fn write(cursor_path: &Path, seq: u64) {
    let tmp = cursor_path.with_extension("acked.tmp");
    let written = std::fs::write(&tmp, seq.to_string()).and_then(|()| std::fs::rename(&tmp, cursor_path));
    if let Err(err) = written {
        // Not fatal: after a restart the events are sent again and the control plane drops duplicates.
        tracing::warn!(path = %cursor_path.display(), error = %err, "write delivery cursor");
    }
}
