//! The pure decisions of the retention sweep (`crate::retention`, `store::retention`): which old sessions
//! may go, which rows of a conversation its next turn still reads, and how the deletions are cut into
//! bounded transactions.
//!
//! **Invariant:** a session is deleted only when it is final (`finished_at` set, a final status), finished
//! before the cutoff, owes no reply still `pending`, and lies below its conversation's floor. A live
//! conversation (a session not finished, or the newest finished after the cutoff) keeps its newest session
//! (so it still exists for its next turn) and every session from the one whose state that next turn
//! continues from onwards. An idle one (every session final, the newest finished before the cutoff) has no
//! floor and goes whole: a conversation idle longer than `--retention` is deleted like a session that old,
//! and a turn for it afterwards is refused (404, the conversation is unknown).

use protocol::SessionStatus;

/// An old finished session as the sweep's scan finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub session_id: String,
    pub status: String,
    pub finished_ms: Option<i64>,
    pub conversation_id: Option<String>,
    /// Events it holds, about (`last_seq` + 1).
    pub events: u64,
    pub pending_reply: bool,
}

/// Why a candidate stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Queued, pending, running (or a status this build does not know).
    NotFinal,
    /// Finished at or after the cutoff (or at a time that does not parse).
    Young,
    /// Its trigger's answer is not sent yet.
    PendingReply,
    /// Its conversation's next turn needs it (the newest session, or the state it continues from).
    Conversation,
}

/// Whether `c` may be deleted, given the cutoff and the floor of its conversation (the lowest row id the
/// conversation keeps; `None` for a session without one).
pub fn decide(c: &Candidate, cutoff_ms: i64, floor: Option<i64>) -> Result<(), Keep> {
    let status = c.status.parse::<SessionStatus>().ok();
    if !matches!(
        status,
        Some(
            SessionStatus::Succeeded
                | SessionStatus::Failed
                | SessionStatus::Cancelled
                | SessionStatus::TimedOut
                | SessionStatus::Lost
        )
    ) {
        return Err(Keep::NotFinal);
    }
    match c.finished_ms {
        Some(ms) if ms < cutoff_ms => {}
        _ => return Err(Keep::Young),
    }
    if c.pending_reply {
        return Err(Keep::PendingReply);
    }
    if c.conversation_id.is_some() && floor.is_none_or(|floor| c.id >= floor) {
        return Err(Keep::Conversation);
    }
    Ok(())
}

/// What one conversation's sessions tell its floor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationFacts {
    /// The row id of its newest session.
    pub newest: i64,
    /// The row id of its oldest session that is not final (its job not built yet, or not finished).
    pub oldest_unfinished: Option<i64>,
    /// Sessions that stored a `last` state piece, newest first: (row id, whether the state is complete).
    pub states: Vec<(i64, bool)>,
    /// Every session final and the newest finished before the cutoff: nothing is kept.
    pub idle: bool,
}

/// The lowest row id a conversation keeps (`i64::MAX`, none, for an idle one): the newest session with a complete state that a session not
/// yet finished (or the next one queued) would continue from, else only the newest session. A session
/// with a complete state may still fail to open (sealed with another key, too large): those fail the next
/// turn rather than fall back, so keeping it is enough.
pub fn conversation_floor(f: &ConversationFacts) -> i64 {
    if f.idle && f.oldest_unfinished.is_none() {
        return i64::MAX;
    }
    let below = f.oldest_unfinished.unwrap_or(i64::MAX);
    f.states
        .iter()
        .find(|(id, complete)| *id < below && *complete)
        .map_or(f.newest, |(id, _)| (*id).min(f.newest))
}

/// The shape of one stored state piece (no content): what completeness depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceShape {
    pub seq: i64,
    pub path: String,
    pub sdk_session_id: String,
    pub config_dir: String,
    pub last: bool,
}

/// Whether pieces make a complete state as `crate::conversation::assemble` judges one: seqs 0..=N without
/// a gap, `last` on N alone, one SDK session and config dir, the pieces of each file consecutive.
pub fn complete(pieces: &[PieceShape]) -> bool {
    let mut sorted: Vec<&PieceShape> = pieces.iter().collect();
    sorted.sort_by_key(|p| p.seq);
    let Some(first) = sorted.first() else {
        return false;
    };
    let mut paths: Vec<&str> = Vec::new();
    for (i, p) in sorted.iter().enumerate() {
        if p.seq != i as i64 || p.last != (i == sorted.len() - 1) {
            return false;
        }
        if p.sdk_session_id != first.sdk_session_id || p.config_dir != first.config_dir {
            return false;
        }
        if paths.last() != Some(&p.path.as_str()) {
            if paths.contains(&p.path.as_str()) {
                return false;
            }
            paths.push(&p.path);
        }
    }
    true
}

/// One transaction of deletions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Delete these sessions with all they own.
    Delete(Vec<String>),
    /// A session with more events than one transaction may delete: its events `max_events` at a time (the
    /// oldest first, each its own transaction), then the session itself.
    Trim(String),
}

/// Cuts the sessions to delete (with their event counts, in scan order) into transactions of at most
/// `max_sessions` sessions and about `max_events` events; one larger session is trimmed first.
pub fn steps(sessions: &[(String, u64)], max_sessions: usize, max_events: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut group: Vec<String> = Vec::new();
    let mut events = 0u64;
    for (id, n) in sessions {
        if *n > max_events {
            steps.push(Step::Trim(id.clone()));
            continue;
        }
        if !group.is_empty() && (group.len() == max_sessions || events + n > max_events) {
            steps.push(Step::Delete(std::mem::take(&mut group)));
            events = 0;
        }
        group.push(id.clone());
        events += n;
    }
    if !group.is_empty() {
        steps.push(Step::Delete(group));
    }
    steps
}

#[cfg(test)]
mod tests;
