//! The retention sweep: at start-up (after recovery) and then every quarter of `--retain` (1 s to 1 min),
//! removes what `decide` lets go: a session's local log, its delivery cursor and its directories in the
//! workspace, then drops it from the session table, remembering its id.
//!
//! Order, for crashes and concurrent requests: the ids are written to the ledger first, then the sessions
//! leave the table (in one lock with remembering their ids, so a request for one answers "removed" from
//! then on, never runs it again), and only then are their files removed. A crash in between leaves files
//! of ids in the ledger: recovery lists them again and the next sweep removes them.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use protocol::SessionId;

use super::decide::{Decision, Delivery, Facts, decide};
use super::ledger::Ledger;
use crate::session::entry::SessionEntry;
use crate::session::workspace::SessionDirs;
use crate::ship::cursor::{Cursor, cursor_path};
use crate::state::AppState;

/// Sweeps until shutdown; with `--retain off` once at start-up (which keeps everything), then no more.
pub(crate) async fn run(state: Arc<AppState>, mut ledger: Ledger) {
    let interval = state.config.retain.sweep_interval();
    loop {
        let task_state = state.clone();
        // File removal blocks: it runs off the async workers.
        ledger = tokio::task::spawn_blocking(move || {
            sweep(&task_state, &mut ledger);
            ledger
        })
        .await
        .expect("a sweep does not panic");
        let Some(interval) = interval else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = state.shutdown.cancelled() => return,
        }
    }
}

/// One pass over the session table.
fn sweep(state: &AppState, ledger: &mut Ledger) {
    let now = SystemTime::now();
    let sessions = state.sessions.list();
    let ids: Vec<SessionId> = sessions
        .iter()
        .filter(|entry| decide(&facts(state, entry, now)) == Decision::Remove)
        .map(|entry| entry.id.clone())
        .collect();
    tracing::debug!(sessions = sessions.len(), removing = ids.len(), "retention sweep");
    if ids.is_empty() {
        return;
    }
    if let Err(err) = ledger.append(&ids) {
        // Space matters more (the disk may be full): they are removed all the same, remembered in memory,
        // and written at the next sweep.
        tracing::error!(path = %Ledger::path(&state.config.state_dir).display(), error = %err,
            "record removed sessions in the ledger; retrying at the next sweep");
    }
    let retired = state.sessions.retire(&ids);
    let bytes_freed: u64 = retired.iter().map(|entry| remove_files(state, entry)).sum();
    state
        .metrics
        .sessions_removed
        .fetch_add(retired.len() as u64, Ordering::Relaxed);
    ledger.compact_if_large(|| state.sessions.removed_ids());
    tracing::info!(
        removed = retired.len(),
        bytes_freed,
        "removed finished sessions their destinations acknowledged"
    );
}

/// What the sweep knows of `entry`; its cursor is read only once it finished.
fn facts(state: &AppState, entry: &SessionEntry, now: SystemTime) -> Facts {
    let session = entry.snapshot();
    let finished = session.status.is_finished() && entry.progress.borrow().finished;
    let finished_at = session
        .finished_at
        .as_deref()
        .and_then(|ts| humantime::parse_rfc3339(ts).ok())
        .or_else(|| std::fs::metadata(&entry.log_path).and_then(|m| m.modified()).ok());
    let delivery = if finished {
        delivery(state.shippers.cursor(entry), entry, session.last_seq)
    } else {
        Delivery::Pending
    };
    Facts {
        finished,
        finished_at,
        delivery,
        processes_left: state.sessions.holds_uid(&entry.id),
        now,
        retain: state.config.retain,
    }
}

/// The session's delivery, from its destination's cursor and the last seq of its log.
fn delivery(cursor: Cursor, entry: &SessionEntry, last_seq: Option<u64>) -> Delivery {
    let shipping = entry.shipping.load(Ordering::Relaxed);
    let through = |acked: Option<u64>| match (acked, last_seq) {
        (_, None) => Delivery::Acknowledged,
        (Some(acked), Some(last)) if acked >= last => Delivery::Acknowledged,
        _ => Delivery::Pending,
    };
    match cursor {
        Cursor::Rejected => Delivery::Refused,
        Cursor::Absent if !shipping => Delivery::NoDestination,
        Cursor::Absent | Cursor::Nothing => through(None),
        Cursor::Through(acked) => through(Some(acked)),
    }
}

/// Removes the session's log, cursor and directories; answers the bytes they held.
fn remove_files(state: &AppState, entry: &SessionEntry) -> u64 {
    let cursor = cursor_path(&entry.log_path);
    let mut freed = 0;
    for file in [entry.log_path.clone(), cursor.with_extension("acked.tmp"), cursor] {
        freed += size(&file);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(session_id = %entry.id, path = %file.display(), error = %err, "remove session file");
            }
        }
    }
    // Only the session's own directories, never the workspace root or its `sessions/` and `homes/`.
    let dirs = SessionDirs::new(&state.config.workspace, entry.id.as_str());
    freed += size(&dirs.cwd) + size(&dirs.home);
    dirs.remove();
    freed
}

/// Bytes of the files at and below `path`, symlinks not followed.
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |entries| {
        entries.flatten().map(|entry| size(&entry.path())).sum()
    })
}

#[cfg(test)]
mod tests {
    use protocol::{AgentId, Session};
    use tokio::sync::watch;

    use super::*;
    use crate::eventlog::Progress;

    #[test]
    fn delivery_is_read_from_the_cursor_against_the_last_seq() {
        let session = Session::pending(
            SessionId::parse("s-1").unwrap(),
            AgentId::parse("a").unwrap(),
            String::new(),
        );
        let (_, progress) = watch::channel(Progress::default());
        let entry = SessionEntry::recovered(session, "/nonexistent".into(), progress);
        let check = |cursor, last| format!("{:?}", delivery(cursor, &entry, last));
        assert_eq!(check(Cursor::Absent, Some(3)), "NoDestination");
        assert_eq!(check(Cursor::Nothing, Some(3)), "Pending");
        assert_eq!(check(Cursor::Through(2), Some(3)), "Pending");
        assert_eq!(check(Cursor::Through(3), Some(3)), "Acknowledged");
        assert_eq!(check(Cursor::Rejected, Some(3)), "Refused");
        entry.shipping.store(true, Ordering::Relaxed);
        assert_eq!(
            check(Cursor::Absent, Some(3)),
            "Pending",
            "a session being shipped has a destination, cursor or not"
        );
    }
}
