//! The session table: every session this supervisor knows, the admitted ones counted against
//! `--max-sessions`, and the process groups of live agents.
//!
//! Invariants kept here rather than by callers:
//! - A session occupies a slot from `admit` until `finish` (or `forget`, when it never ran); the running
//!   count is the size of that set, so no path can count a session twice or forget to free its slot.
//! - A process group is signalled only through `signal_group`, and only while it belongs to a live session
//!   (between `started` and `release_group`): a pgid the kernel may have reused is never signalled.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::Signal;
use protocol::SessionId;
use tokio::sync::Notify;

use super::entry::SessionEntry;
use crate::process::signal_group;

#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    inner: Mutex<Inner>,
    /// Woken whenever a slot is freed (`finish`, `forget`): the pull loop and the drain wait on it.
    freed: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<SessionId, Arc<SessionEntry>>,
    /// Session ids in creation order.
    order: Vec<SessionId>,
    /// Sessions admitted and not yet finished.
    admitted: HashSet<SessionId>,
    /// Process groups of live agents.
    live_groups: HashSet<u32>,
}

/// What `admit` found.
#[derive(Debug)]
pub(crate) enum Admission<E> {
    /// A new session, registered and holding a slot.
    Admitted(Arc<SessionEntry>),
    /// The same request was made before.
    Existing(Arc<SessionEntry>),
    /// The id is taken by a different request.
    Conflict,
    /// Every slot is taken; the number of sessions running.
    Busy(usize),
    /// `create` failed.
    Failed(E),
}

impl SessionTable {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a handful of inserts/removes; a panic cannot leave the table half-changed.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new session unless its id is known or `max` sessions are running; `create` makes the
    /// entry (under the table's lock, so two requests for one id cannot both create a log).
    pub(crate) fn admit<E>(
        &self,
        id: &SessionId,
        request_hash: u64,
        max: usize,
        create: impl FnOnce() -> Result<Arc<SessionEntry>, E>,
    ) -> Admission<E> {
        let mut table = self.lock();
        if let Some(existing) = table.by_id.get(id) {
            return if existing.request_hash == request_hash {
                Admission::Existing(existing.clone())
            } else {
                Admission::Conflict
            };
        }
        if table.admitted.len() >= max {
            return Admission::Busy(table.admitted.len());
        }
        let entry = match create() {
            Ok(entry) => entry,
            Err(err) => return Admission::Failed(err),
        };
        table.by_id.insert(id.clone(), entry.clone());
        table.order.push(id.clone());
        table.admitted.insert(id.clone());
        Admission::Admitted(entry)
    }

    /// A finished session of an earlier incarnation: listed, holding no slot.
    pub(crate) fn insert_finished(&self, entry: Arc<SessionEntry>) {
        let mut table = self.lock();
        table.order.push(entry.id.clone());
        table.by_id.insert(entry.id.clone(), entry);
    }

    /// Removes an admitted session that never ran, freeing its slot.
    pub(crate) fn forget(&self, id: &SessionId) {
        let mut table = self.lock();
        table.by_id.remove(id);
        table.order.retain(|known| known != id);
        table.admitted.remove(id);
        drop(table);
        self.freed.notify_waiters();
    }

    /// Frees the slot of a session that finished; it stays listed.
    pub(crate) fn finish(&self, id: &SessionId) {
        self.lock().admitted.remove(id);
        self.freed.notify_waiters();
    }

    /// Waits until `holds(sessions holding a slot)`, and answers that number; at once when it holds now.
    /// Woken by the slots freed, never by polling.
    pub(crate) async fn until(&self, holds: impl Fn(usize) -> bool) -> usize {
        loop {
            // Registered before the count is read: a slot freed between the two still wakes us.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let running = self.running();
            if holds(running) {
                return running;
            }
            freed.await;
        }
    }

    /// Records that `pgid` is the process group of a live agent: from now on it may be signalled.
    pub(crate) fn started(&self, pgid: u32) {
        self.lock().live_groups.insert(pgid);
    }

    /// The agent's group is gone (reaped, drained, leftovers killed): it may no longer be signalled.
    pub(crate) fn release_group(&self, pgid: u32) {
        self.lock().live_groups.remove(&pgid);
    }

    /// Signals process group `pgid` if it belongs to a live session; false when it does not (any more).
    /// The check and the signal happen under the lock, so a group released meanwhile is never signalled.
    pub(crate) fn signal_group(&self, pgid: u32, signal: Signal) -> bool {
        let table = self.lock();
        if !table.live_groups.contains(&pgid) {
            return false;
        }
        if let Err(err) = signal_group(pgid, signal) {
            tracing::warn!(pgid, signal = signal.as_str(), error = %err, "signal process group");
        }
        true
    }

    pub(crate) fn get(&self, id: &SessionId) -> Option<Arc<SessionEntry>> {
        self.lock().by_id.get(id).cloned()
    }

    /// Every session, newest first.
    pub(crate) fn list(&self) -> Vec<Arc<SessionEntry>> {
        let table = self.lock();
        table
            .order
            .iter()
            .rev()
            .filter_map(|id| table.by_id.get(id).cloned())
            .collect()
    }

    /// Sessions admitted and not yet finished (what `--max-sessions` bounds).
    pub(crate) fn running(&self) -> usize {
        self.lock().admitted.len()
    }

    /// Bytes of local logs not yet confirmed by their destination: what `--spool-max` bounds.
    pub(crate) fn undelivered_bytes(&self) -> u64 {
        self.lock().by_id.values().map(|e| e.undelivered_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use protocol::{AgentId, Session};
    use tokio::sync::watch;

    use super::*;
    use crate::eventlog::Progress;

    fn entry(id: &str, request_hash: u64) -> Arc<SessionEntry> {
        let session = Session::pending(
            SessionId::parse(id).unwrap(),
            AgentId::parse("a").unwrap(),
            String::new(),
        );
        let (_, progress) = watch::channel(Progress::default());
        let mut entry = SessionEntry::recovered(session, "/nonexistent".into(), progress);
        entry.request_hash = request_hash;
        Arc::new(entry)
    }

    fn admit(table: &SessionTable, id: &str, hash: u64) -> String {
        let id = SessionId::parse(id).unwrap();
        match table.admit(&id, hash, 2, || Ok::<_, ()>(entry(id.as_str(), hash))) {
            Admission::Admitted(e) => format!("admitted {}", e.id),
            Admission::Existing(e) => format!("existing {}", e.id),
            Admission::Conflict => "conflict".into(),
            Admission::Busy(n) => format!("busy {n}"),
            Admission::Failed(()) => "failed".into(),
        }
    }

    #[test]
    fn a_slot_is_held_from_admission_until_finish_or_forget() {
        let table = SessionTable::default();
        assert_eq!(admit(&table, "s-1", 1), "admitted s-1");
        assert_eq!(admit(&table, "s-1", 1), "existing s-1");
        assert_eq!(admit(&table, "s-1", 2), "conflict");
        assert_eq!(admit(&table, "s-2", 1), "admitted s-2");
        assert_eq!(admit(&table, "s-3", 1), "busy 2");
        // Finishing twice frees one slot, not two.
        table.finish(&SessionId::parse("s-1").unwrap());
        table.finish(&SessionId::parse("s-1").unwrap());
        assert_eq!(table.running(), 1);
        table.forget(&SessionId::parse("s-2").unwrap());
        assert_eq!(table.running(), 0);
        let listed: Vec<String> = table.list().iter().map(|e| e.id.to_string()).collect();
        assert_eq!(
            listed,
            ["s-1"],
            "a finished session stays listed, a forgotten one does not"
        );
    }

    #[tokio::test]
    async fn a_wait_for_a_free_slot_ends_when_a_session_finishes() {
        let table = Arc::new(SessionTable::default());
        assert_eq!(admit(&table, "s-1", 1), "admitted s-1");
        assert_eq!(admit(&table, "s-2", 1), "admitted s-2");
        assert_eq!(
            table.until(|running| running < 3).await,
            2,
            "at once when it holds"
        );
        let waiter = tokio::spawn({
            let table = table.clone();
            async move { table.until(|running| running < 2).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "both slots are held");
        table.finish(&SessionId::parse("s-1").unwrap());
        assert_eq!(waiter.await.unwrap(), 1);
    }

    /// Above the kernel's largest `pid_max` (2^22): no process group can have this number.
    const NO_SUCH_GROUP: u32 = 1 << 30;

    #[test]
    fn a_process_group_is_signalled_only_while_it_is_live() {
        let table = SessionTable::default();
        // A pgid no live session holds is refused before any signal is sent.
        assert!(!table.signal_group(NO_SUCH_GROUP, Signal::SIGKILL));
        table.started(NO_SUCH_GROUP);
        // No such group exists: ESRCH is not an error, and the signal was allowed.
        assert!(table.signal_group(NO_SUCH_GROUP, Signal::SIGTERM));
        table.release_group(NO_SUCH_GROUP);
        assert!(!table.signal_group(NO_SUCH_GROUP, Signal::SIGKILL));
    }
}
