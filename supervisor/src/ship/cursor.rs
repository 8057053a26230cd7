//! Delivery cursors: `<state>/sessions/<id>.acked` holds the highest seq a session's destination
//! confirmed, so a restarted supervisor ships from there. It is created empty when shipping starts, so
//! its presence says the session has a destination, even before anything was confirmed (retention
//! relies on it: a session without a cursor ships nowhere).

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

/// What a session's cursor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// No cursor: the session was never shipped.
    Absent,
    /// Shipped, nothing confirmed yet (or the cursor is unreadable).
    Nothing,
    /// Every event up to this seq is confirmed.
    Through(u64),
    /// The destination refused the session for good.
    Rejected,
}

impl Cursor {
    pub(super) fn of(acked: Option<u64>) -> Self {
        match acked {
            None => Self::Nothing,
            Some(REJECTED) => Self::Rejected,
            Some(seq) => Self::Through(seq),
        }
    }
}

/// The cursor on disk of the session logged at `log_path`.
pub(crate) fn on_disk(log_path: &Path) -> Cursor {
    match std::fs::read_to_string(cursor_path(log_path)) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Cursor::Absent,
        Err(_) => Cursor::Nothing,
        Ok(text) => Cursor::of(text.trim().parse::<u64>().ok()),
    }
}

/// Creates an empty cursor (nothing confirmed) unless there is one: the session has a destination.
pub(super) fn mark(cursor_path: &Path) {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(cursor_path);
    match created {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        // Not fatal: while it ships, the session's `shipping` flag says the same.
        Err(err) => tracing::warn!(path = %cursor_path.display(), error = %err, "create delivery cursor"),
    }
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
