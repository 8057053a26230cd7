use std::sync::{Mutex, MutexGuard};

use protocol::{AgentId, Session, SessionId, SessionStatus};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::log::SessionLog;
use crate::eventlog::Progress;

/// One session known to this supervisor, running or finished.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) id: SessionId,
    pub(crate) agent_id: AgentId,
    /// Identifies the request that created it: a retry with the same body is answered, not re-run.
    pub(crate) request_hash: u64,
    /// The uid its processes run as, its own while it runs (`None`: agents share the `--run-as` user, or
    /// the supervisor's own).
    pub(crate) uid: Option<u32>,
    /// Cancelled by `POST /sessions/{id}/cancel` (or a control-plane command).
    pub(crate) cancel: CancellationToken,
    pub(crate) log_path: std::path::PathBuf,
    /// Followers subscribe here; it outlives the writer, which is dropped when the session ends.
    pub(crate) progress: watch::Receiver<Progress>,
    /// Cancelled once the agent exited or the supervisor is stopping: its remaining output is read to
    /// the end regardless of `--spool-max`, because no agent is left to block and lines must not be lost.
    pub(crate) drain: CancellationToken,
    /// Set while a shipper delivers this session's events; only then do they count against `--spool-max`.
    pub(crate) shipping: std::sync::atomic::AtomicBool,
    /// The log offset up to which the destination confirmed the events (kept by the shipper).
    pub(crate) delivered_end: std::sync::atomic::AtomicU64,
    state: Mutex<Session>,
    /// `None` once the session finished and its log was closed.
    log: Mutex<Option<SessionLog>>,
}

impl SessionEntry {
    pub(crate) fn new(
        session: Session,
        request_hash: u64,
        log: SessionLog,
        log_path: std::path::PathBuf,
        progress: watch::Receiver<Progress>,
    ) -> Self {
        Self {
            id: session.session_id.clone(),
            agent_id: session.agent_id.clone(),
            request_hash,
            uid: None,
            cancel: CancellationToken::new(),
            log_path,
            progress,
            drain: CancellationToken::new(),
            shipping: std::sync::atomic::AtomicBool::new(false),
            delivered_end: std::sync::atomic::AtomicU64::new(0),
            state: Mutex::new(session),
            log: Mutex::new(Some(log)),
        }
    }

    /// A finished session of an earlier incarnation, read back from its log.
    pub(crate) fn recovered(
        session: Session,
        log_path: std::path::PathBuf,
        progress: watch::Receiver<Progress>,
    ) -> Self {
        Self {
            id: session.session_id.clone(),
            agent_id: session.agent_id.clone(),
            // No request is known: a retry of its `POST /execute` is a conflict, never a second run.
            request_hash: 0,
            uid: None,
            cancel: CancellationToken::new(),
            log_path,
            progress,
            drain: CancellationToken::new(),
            shipping: std::sync::atomic::AtomicBool::new(false),
            delivered_end: std::sync::atomic::AtomicU64::new(0),
            state: Mutex::new(session),
            log: Mutex::new(None),
        }
    }

    /// Bytes of this session's log that a destination has not confirmed yet.
    pub(crate) fn undelivered_bytes(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.shipping.load(Relaxed) {
            return 0;
        }
        self.progress
            .borrow()
            .committed_len
            .saturating_sub(self.delivered_end.load(Relaxed))
    }

    /// The session as the API reports it.
    pub(crate) fn snapshot(&self) -> Session {
        let mut session = lock(&self.state).clone();
        session.last_seq = self.progress.borrow().last_seq;
        session
    }

    pub(crate) fn status(&self) -> SessionStatus {
        lock(&self.state).status
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Session)) {
        f(&mut lock(&self.state));
    }

    /// Runs `f` on the open log. Returns `None` when the session already finished.
    pub(crate) fn with_log<T>(&self, f: impl FnOnce(&mut SessionLog) -> T) -> Option<T> {
        lock(&self.log).as_mut().map(f)
    }

    /// Asks the session's task to stop the agent (once), recording `session.cancel_requested`.
    /// Returns false when the session had already finished.
    pub(crate) fn request_cancel(&self) -> bool {
        if self.status().is_finished() {
            return false;
        }
        if !self.cancel.is_cancelled() {
            self.with_log(|log| {
                log.supervisor(
                    &crate::eventlog::now_ts(),
                    "session.cancel_requested",
                    &serde_json::json!({}),
                );
                if let Err(err) = log.writer().commit() {
                    tracing::error!(session_id = %self.id, error = %err, "write event log");
                }
            });
            self.cancel.cancel();
            tracing::info!(session_id = %self.id, "cancel requested");
        }
        true
    }

    /// Closes the log for good; later `with_log` calls do nothing.
    pub(crate) fn take_log(&self) -> Option<SessionLog> {
        lock(&self.log).take()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (plain field updates), so poisoning is ignored.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
