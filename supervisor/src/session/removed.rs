//! The ids of sessions retention removed, the most recent ones: their `GET` answers "removed" rather than
//! a plain 404, and a request to run one again is a conflict, never a silent second run.

use std::collections::{HashSet, VecDeque};

use protocol::SessionId;

/// How many removed ids are remembered (a few MB at most).
pub(crate) const REMEMBERED: usize = 100_000;

/// A bounded set of session ids, forgetting the oldest first.
#[derive(Debug)]
pub(crate) struct RemovedIds {
    order: VecDeque<SessionId>,
    ids: HashSet<SessionId>,
    capacity: usize,
}

impl Default for RemovedIds {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED)
    }
}

impl RemovedIds {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            ids: HashSet::new(),
            capacity,
        }
    }

    pub(crate) fn insert(&mut self, id: SessionId) {
        if self.capacity == 0 || !self.ids.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
    }

    pub(crate) fn contains(&self, id: &SessionId) -> bool {
        self.ids.contains(id)
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &SessionId> {
        self.order.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_ids_are_forgotten_first_and_a_repeat_counts_once() {
        let id = |s: &str| SessionId::parse(s).unwrap();
        let mut removed = RemovedIds::with_capacity(2);
        removed.insert(id("s-1"));
        removed.insert(id("s-1"));
        removed.insert(id("s-2"));
        assert!(removed.contains(&id("s-1")));
        removed.insert(id("s-3"));
        assert!(!removed.contains(&id("s-1")));
        let kept: Vec<&str> = removed.iter().map(SessionId::as_str).collect();
        assert_eq!(kept, ["s-2", "s-3"]);
    }
}
