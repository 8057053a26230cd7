//! The session table: every session this supervisor knows, the admitted ones counted against
//! `--max-sessions`, and the process groups of live agents.
//!
//! Invariants kept here rather than by callers:
//! - A session occupies a slot from `admit` until `finish` (or `forget`, when it never ran); the running
//!   count is the size of that set, so no path can count a session twice or forget to free its slot.
//! - A process group is signalled only through `signal_group`, and only while it belongs to a live session
//!   (between `started` and `release_group`): a pgid the kernel may have reused is never signalled.
//! - With a uid pool, each admitted session holds a uid of its own from `admit` until `release_uid`, which
//!   its task calls only once no process of that uid is left (`process::kill_uid`); `finish` frees the
//!   slot, not the uid. So the pool never hands out a uid in use, and a uid whose processes survived is
//!   never handed out again.
//! - A session leaves the table only through `forget` (it never ran) or `retire` (retention removed it
//!   after delivery); a retired id is remembered in the same lock, so no request can run it again in
//!   between.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::Signal;
use protocol::SessionId;
use tokio::sync::Notify;

use super::entry::SessionEntry;
use super::removed::RemovedIds;
use crate::process::{UidPool, signal_group};

#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    inner: Mutex<Inner>,
    /// Woken whenever a slot or a uid is freed (`finish`, `forget`, `release_uid`): the pull loop and the
    /// drain wait on it.
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
    /// The free uids, when every session runs as a uid of its own.
    uids: Option<UidPool>,
    /// The uid each session holds, until its processes are gone.
    uid_of: HashMap<SessionId, u32>,
    /// Sessions retention removed (the most recent ones).
    removed: RemovedIds,
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
    /// A session of this id ran here and was removed after delivery.
    Removed,
    /// Every slot (or every uid) is taken; the number of sessions running.
    Busy(usize),
    /// `create` failed.
    Failed(E),
}

impl SessionTable {
    /// A table whose sessions each run as a uid of `uids` (`None`: agents share one user).
    pub(crate) fn new(uids: Option<UidPool>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                uids,
                ..Inner::default()
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a handful of inserts/removes; a panic cannot leave the table half-changed.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new session unless its id is known or `max` sessions are running; `create` makes the
    /// entry (under the table's lock, so two requests for one id cannot both create a log), given the uid
    /// the session holds from now on (`None` without a pool).
    pub(crate) fn admit<E>(
        &self,
        id: &SessionId,
        request_hash: u64,
        max: usize,
        create: impl FnOnce(Option<u32>) -> Result<Arc<SessionEntry>, E>,
    ) -> Admission<E> {
        let mut table = self.lock();
        if let Some(existing) = table.by_id.get(id) {
            return if existing.request_hash == request_hash {
                Admission::Existing(existing.clone())
            } else {
                Admission::Conflict
            };
        }
        if table.removed.contains(id) {
            return Admission::Removed;
        }
        if table.admitted.len() >= max {
            return Admission::Busy(table.admitted.len());
        }
        let uid = match table.uids.as_mut().map(UidPool::take) {
            None => None,
            Some(Some(uid)) => Some(uid),
            // Uids whose processes survived are held for good: fewer sessions fit.
            Some(None) => return Admission::Busy(table.admitted.len()),
        };
        let entry = match create(uid) {
            Ok(entry) => entry,
            Err(err) => {
                if let (Some(pool), Some(uid)) = (table.uids.as_mut(), uid) {
                    pool.give_back(uid);
                }
                return Admission::Failed(err);
            }
        };
        if let Some(uid) = uid {
            table.uid_of.insert(id.clone(), uid);
        }
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

    /// Removes an admitted session that never ran, freeing its slot and its uid (no process ever had it).
    pub(crate) fn forget(&self, id: &SessionId) {
        let mut table = self.lock();
        table.by_id.remove(id);
        table.order.retain(|known| known != id);
        table.admitted.remove(id);
        table.give_back_uid(id);
        drop(table);
        self.freed.notify_waiters();
    }

    /// Takes finished sessions out of the table for good, remembering their ids; answers the entries it
    /// took (a session still admitted is left alone: it has not finished).
    pub(crate) fn retire(&self, ids: &[SessionId]) -> Vec<Arc<SessionEntry>> {
        let mut table = self.lock();
        let mut retired = Vec::new();
        for id in ids {
            if table.admitted.contains(id) {
                continue;
            }
            if let Some(entry) = table.by_id.remove(id) {
                table.removed.insert(id.clone());
                retired.push(entry);
            }
        }
        if !retired.is_empty() {
            let gone: HashSet<&SessionId> = retired.iter().map(|e| &e.id).collect();
            let Inner { order, .. } = &mut *table;
            order.retain(|id| !gone.contains(id));
        }
        retired
    }

    /// Remembers ids removed by an earlier incarnation.
    pub(crate) fn remember_removed(&self, ids: impl IntoIterator<Item = SessionId>) {
        let mut table = self.lock();
        for id in ids {
            table.removed.insert(id);
        }
    }

    /// Whether a session of this id was removed after delivery (and is not known again).
    pub(crate) fn was_removed(&self, id: &SessionId) -> bool {
        let table = self.lock();
        !table.by_id.contains_key(id) && table.removed.contains(id)
    }

    /// The removed ids remembered, oldest first.
    pub(crate) fn removed_ids(&self) -> Vec<SessionId> {
        self.lock().removed.iter().cloned().collect()
    }

    /// Whether the session still holds its uid (after it finished: processes of it survived).
    pub(crate) fn holds_uid(&self, id: &SessionId) -> bool {
        self.lock().uid_of.contains_key(id)
    }

    /// Gives the session's uid back to the pool. Only once no process of it is left.
    pub(crate) fn release_uid(&self, id: &SessionId) {
        self.lock().give_back_uid(id);
        self.freed.notify_waiters();
    }

    /// Takes `uid` out of the pool for good: processes hold it that could not be ended.
    pub(crate) fn withhold_uid(&self, uid: u32) {
        if let Some(pool) = self.lock().uids.as_mut() {
            pool.withhold(uid);
        }
    }

    /// Free uids (`None` without a pool).
    pub(crate) fn free_uids(&self) -> Option<usize> {
        self.lock().uids.as_ref().map(UidPool::free)
    }

    /// Frees the slot of a session that finished; it stays listed.
    pub(crate) fn finish(&self, id: &SessionId) {
        self.lock().admitted.remove(id);
        self.freed.notify_waiters();
    }

    /// Waits until `check(self)` answers something, and answers it; at once when it does now. Woken by
    /// the slots and uids freed, never by polling.
    pub(crate) async fn until<T>(&self, check: impl Fn(&Self) -> Option<T>) -> T {
        loop {
            // Registered before the table is read: a slot freed between the two still wakes us.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(answer) = check(self) {
                return answer;
            }
            freed.await;
        }
    }

    /// How many sessions `admit` would take now under `max`: the free slots, and no more than the free
    /// uids when there is a pool (a finished session's uid comes back only once its processes are gone).
    pub(crate) fn room(&self, max: usize) -> usize {
        let table = self.lock();
        let slots = max.saturating_sub(table.admitted.len());
        table.uids.as_ref().map_or(slots, |pool| slots.min(pool.free()))
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

    /// Sessions listed and not admitted: the finished ones, whose logs are on disk.
    pub(crate) fn retained(&self) -> usize {
        let table = self.lock();
        table.by_id.len().saturating_sub(table.admitted.len())
    }

    /// Bytes of local logs not yet confirmed by their destination: what `--spool-max` bounds.
    pub(crate) fn undelivered_bytes(&self) -> u64 {
        self.lock().by_id.values().map(|e| e.undelivered_bytes()).sum()
    }
}

impl Inner {
    fn give_back_uid(&mut self, id: &SessionId) {
        if let (Some(uid), Some(pool)) = (self.uid_of.remove(id), self.uids.as_mut()) {
            pool.give_back(uid);
        }
    }
}

#[cfg(test)]
mod tests;
