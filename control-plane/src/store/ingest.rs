//! One group commit: several validated batches stored in one transaction.
//!
//! Order of work inside the transaction, and why:
//! 0. On PostgreSQL, when every session of the group exists and belongs to its batch's runtime, insert the
//!    events first, before any lock ([`Mode::Early`]): a sender's next batch is then stored while the previous
//!    one, holding the row, commits. A race with a transaction storing the same events ends in a unique
//!    violation, and the group runs again in the order below.
//! 1. Create and lock every session row the group mentions, in session-id order, so two writers (two
//!    replicas) that touch the same sessions lock them in the same order and cannot deadlock.
//! 2. Check runtime ownership per session of each batch: the events of a session that belongs to another
//!    runtime, or that the seed's log routes wrote (no runtime, events stored), are refused (that session is
//!    named in the batch's answer), and the rest of the batch, like the other batches of the group, goes on.
//! 3. Drop the events already stored (of the committed ones, only seqs at or below a row's `last_seq` can be:
//!    `last_seq` moves in the transaction that stores them) and insert the rest; on PostgreSQL with `COPY`,
//!    which costs per row what a raw `COPY` does. An event that a concurrent transaction is inserting too
//!    meets the primary key: one of the two fails and runs again. A resent event is a no-op, never a second
//!    copy.
//! 4. Project only the events actually inserted, in seq order, onto the locked rows, and advance `acked_seq`
//!    over the seqs now stored without a gap.
//! 5. Write the rows back, stamp the runtimes as seen, take their pending commands.

use std::collections::{BTreeMap, BTreeSet};

use protocol::{Event, SessionId};

use super::backend::Tx;
use super::error::is_insert_race;
use super::{Result, SessionRow, Store, StoreError, projection};
use crate::conversation::StatePiece;

/// Tries of one group commit that lose an insert race before its error goes to the senders (who retry).
const INSERT_RACE_ATTEMPTS: u32 = 3;

/// A batch that passed validation: every event parses and belongs to `runtime_id`.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub runtime_id: String,
    pub events: Vec<Event>,
    /// The `conversation.state` pieces taken out of `events` (crate::conversation::divert), stored with
    /// them for the sessions accepted.
    pub states: Vec<StatePiece>,
}

/// Why the store refused a session of a batch: none of its events was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The session belongs to another runtime (named).
    OtherRuntime(String),
    /// The seed's log routes wrote the session: its seqs are taken, so a runtime's events would collide with
    /// them (and be dropped as duplicates); the runtime hears of it in the answer instead.
    SeedSession,
}

/// What became of one batch of a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Per session of the batch: highest seq stored with no gap below it (absent while seq 0 is missing).
    pub acked: BTreeMap<SessionId, u64>,
    /// Sessions of the batch that were refused: none of their events was stored.
    pub conflicts: BTreeMap<SessionId, Refusal>,
    /// Events of the sessions of `conflicts`.
    pub refused_events: usize,
    /// Sessions the batch's runtime must cancel.
    pub cancels: Vec<SessionId>,
    /// Events that were new (the others were already stored).
    pub inserted: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommitResult {
    /// One per batch, in order.
    pub outcomes: Vec<BatchOutcome>,
    /// Sessions that got new events, for the followers.
    pub touched: Vec<String>,
}

/// Per session, the first copy in the group of each seq: what will be inserted unless it is stored already.
fn candidates(
    batches: &[IngestBatch],
    accepted: impl Fn(usize, &Event) -> bool,
) -> BTreeMap<&str, BTreeMap<i64, &Event>> {
    let mut candidates: BTreeMap<&str, BTreeMap<i64, &Event>> = BTreeMap::new();
    for (i, batch) in batches.iter().enumerate() {
        for e in batch.events.iter().filter(|e| accepted(i, e)) {
            candidates
                .entry(e.session_id.as_str())
                .or_default()
                .entry(e.seq as i64)
                .or_insert(e);
        }
    }
    candidates
}

fn flatten<'a>(events: &BTreeMap<&str, BTreeMap<i64, &'a Event>>) -> Vec<&'a Event> {
    events.values().flat_map(|m| m.values().copied()).collect()
}

/// Removes the candidates already stored: only seqs at or below their session's `last_seq` can be.
async fn drop_stored(
    tx: &mut Tx,
    new_events: &mut BTreeMap<&str, BTreeMap<i64, &Event>>,
    last_seqs: &BTreeMap<&str, Option<i64>>,
) -> Result<()> {
    for (session_id, events) in new_events.iter_mut() {
        let Some(last_seq) = last_seqs.get(session_id).copied().flatten() else {
            continue;
        };
        let maybe_stored: Vec<i64> = events.range(..=last_seq).map(|(seq, _)| *seq).collect();
        if maybe_stored.is_empty() {
            continue;
        }
        for seq in tx.existing_seqs(session_id, &maybe_stored).await? {
            events.remove(&seq);
        }
    }
    Ok(())
}

/// Inserts every event of `new_events`.
async fn insert(tx: &mut Tx, new_events: &BTreeMap<&str, BTreeMap<i64, &Event>>) -> Result<()> {
    let to_insert = flatten(new_events);
    if to_insert.is_empty() {
        return Ok(());
    }
    let written = tx.insert_events(&to_insert).await?;
    if written != to_insert.len() as u64 {
        return Err(StoreError::Corrupt(format!(
            "stored {written} of {} new events",
            to_insert.len()
        )));
    }
    Ok(())
}

/// When a group inserts its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Before locking the session rows, when every session already belongs to its batch's runtime (an owner
    /// never changes): the insert then overlaps the commit of another transaction holding those rows, which
    /// is what lets a sender's next batch be stored while its previous one commits. A duplicate of an event
    /// that a concurrent transaction is inserting fails the group with a unique violation (or, rarely, a
    /// deadlock); the caller then runs it again [`Mode::Locked`].
    Early,
    /// After locking the session rows: seqs above a row's `last_seq` cannot be stored yet.
    Locked,
}

impl Store {
    /// Stores the batches of one group commit in one transaction.
    pub async fn commit_group(&self, batches: &[IngestBatch], now_ms: i64) -> Result<CommitResult> {
        let mut mode = if self.inserts_before_locking() {
            Mode::Early
        } else {
            Mode::Locked
        };
        // A race with a transaction storing the same events is settled by the primary key: the loser runs
        // again, locks first, and then sees what the winner stored.
        let mut attempts = 1;
        loop {
            match self.try_commit_group(batches, now_ms, mode).await {
                Err(error) if attempts < INSERT_RACE_ATTEMPTS && is_insert_race(&error) => {
                    tracing::debug!(%error, ?mode, "insert raced another transaction; storing the group again, locks first");
                    mode = Mode::Locked;
                    attempts += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_commit_group(
        &self,
        batches: &[IngestBatch],
        now_ms: i64,
        mode: Mode,
    ) -> Result<CommitResult> {
        let mut tx = self.begin().await?;
        let result = commit_group(&mut tx, batches, now_ms, mode).await?;
        tx.commit().await?;
        Ok(result)
    }
}

async fn commit_group(tx: &mut Tx, batches: &[IngestBatch], now_ms: i64, mode: Mode) -> Result<CommitResult> {
    // 0. The rows to insert if every batch is accepted and nothing is stored yet (the common case).
    let mut new_events = candidates(batches, |_, _| true);
    let mut inserted_early = false;
    if mode == Mode::Early {
        let ids: Vec<&str> = new_events.keys().copied().collect();
        let known = tx.peek_sessions(&ids).await?;
        let owned = batches.iter().all(|batch| {
            batch.events.iter().all(|e| {
                known
                    .get(e.session_id.as_str())
                    .is_some_and(|(owner, _)| owner.as_deref() == Some(batch.runtime_id.as_str()))
            })
        });
        if owned {
            let last_seqs: BTreeMap<&str, Option<i64>> =
                known.iter().map(|(id, (_, last))| (id.as_str(), *last)).collect();
            drop_stored(tx, &mut new_events, &last_seqs).await?;
            insert(tx, &new_events).await?;
            inserted_early = true;
        }
    }

    // 1. Rows, created with the first batch that mentions them as owner, then locked in id order.
    let mut first_seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for batch in batches {
        for e in &batch.events {
            first_seen
                .entry(e.session_id.as_str())
                .or_insert((batch.runtime_id.as_str(), e.ts.as_str()));
        }
    }
    let mut rows: BTreeMap<String, SessionRow> = BTreeMap::new();
    let mut created: BTreeSet<&str> = BTreeSet::new();
    for (session_id, (runtime_id, ts)) in &first_seen {
        let (row, new) = tx
            .lock_or_create_session(session_id, Some(runtime_id), ts)
            .await?;
        if new {
            created.insert(session_id);
        }
        rows.insert((*session_id).to_owned(), row);
    }

    // 2. Ownership, per session of each batch: a row without an owner or events (made by the seed's status
    //    route) is claimed by the first batch that stores events in it; a session owned by another runtime,
    //    or one the seed's log routes wrote (no owner, but events), is refused for that batch alone.
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut conflicts: Vec<BTreeMap<SessionId, Refusal>> = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut refused = BTreeMap::new();
        for e in &batch.events {
            let row = rows
                .get_mut(e.session_id.as_str())
                .expect("every session was loaded");
            match &row.runtime_id {
                Some(owner) if owner != &batch.runtime_id => {
                    refused.insert(e.session_id.clone(), Refusal::OtherRuntime(owner.clone()));
                }
                Some(_) => {}
                None if row.last_seq.is_some() => {
                    refused.insert(e.session_id.clone(), Refusal::SeedSession);
                }
                None => {
                    row.runtime_id = Some(batch.runtime_id.clone());
                    claimed.insert(row.session_id.to_string());
                }
            }
        }
        conflicts.push(refused);
    }
    let accepted = |i: usize, e: &Event| !conflicts[i].contains_key(&e.session_id);
    let any_refused = conflicts.iter().any(|c| !c.is_empty());

    // Nothing of a refused session is kept, not even the row made for it.
    let used: BTreeSet<&str> = batches
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.events.iter().filter(move |e| accepted(i, e)))
        .map(|e| e.session_id.as_str())
        .collect();
    for session_id in created.difference(&used) {
        tx.forget_session(session_id).await?;
        rows.remove(*session_id);
        claimed.remove(*session_id);
    }

    // 3. Insert what is new. The same event may come twice (in two batches of the group, or resent after a
    //    lost answer): the first copy in the group is the candidate, and a candidate at or below the row's
    //    `last_seq` is checked against the table. Above `last_seq` nothing committed is stored: `last_seq`
    //    moves in the transaction that stores the events (an uncommitted early insert of the same seq makes
    //    one of the two transactions fail on the primary key, see `Mode::Early`).
    if inserted_early {
        if any_refused {
            return Err(StoreError::Corrupt(
                "a session changed owner during an ingest transaction".into(),
            ));
        }
    } else {
        if any_refused {
            new_events = candidates(batches, accepted);
        }
        let last_seqs: BTreeMap<&str, Option<i64>> =
            rows.iter().map(|(id, row)| (id.as_str(), row.last_seq)).collect();
        drop_stored(tx, &mut new_events, &last_seqs).await?;
        insert(tx, &new_events).await?;
    }
    new_events.retain(|_, events| !events.is_empty());
    // In the same transaction as their markers: a session's `session.finished` never commits before its state.
    tx.insert_accepted_pieces(batches, &conflicts).await?;

    // Each new event counts for the batch whose copy was stored.
    let inserted_per_batch: Vec<usize> = batches
        .iter()
        .enumerate()
        .map(|(i, batch)| {
            batch
                .events
                .iter()
                .filter(|e| accepted(i, e))
                .filter(|e| {
                    new_events
                        .get(e.session_id.as_str())
                        .and_then(|m| m.get(&(e.seq as i64)))
                        .is_some_and(|stored| std::ptr::eq(*stored, *e))
                })
                .count()
        })
        .collect();

    // 4. Project the new events, in seq order per session.
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for (session_id, events) in &new_events {
        let row = rows.get_mut(*session_id).expect("every session was loaded");
        // Everything stored above `acked_seq` before this group is known only when nothing was stored past
        // it; otherwise (batches that arrived out of order) ask the database.
        let gap_before = row.last_seq != row.acked_seq;
        for event in events.values() {
            projection::apply(row, event);
        }
        row.acked_seq = if gap_before {
            let mut acked = row.acked_seq;
            loop {
                let seqs = tx.stored_seqs_after(session_id, acked, 10_000).await?;
                let full = seqs.len() == 10_000;
                let next = projection::contiguous(acked, seqs.iter().copied());
                let stalled = next == acked;
                acked = next;
                if !full || stalled {
                    break;
                }
            }
            acked
        } else {
            projection::contiguous(row.acked_seq, events.keys().copied())
        };
        changed.insert((*session_id).to_owned());
    }
    // A row created by a legacy route and now claimed by a runtime changes too.
    changed.extend(claimed);

    // 5. Write back, runtimes, commands.
    for session_id in &changed {
        tx.update_session(&rows[session_id]).await?;
    }
    // Runtimes in id order too: two writers that stamp the same runtimes must not lock them crosswise.
    let runtimes: BTreeSet<&str> = batches
        .iter()
        .enumerate()
        .filter(|(i, b)| b.events.iter().any(|e| accepted(*i, e)))
        .map(|(_, b)| b.runtime_id.as_str())
        .collect();
    let mut cancels: BTreeMap<&str, Vec<SessionId>> = BTreeMap::new();
    for runtime_id in runtimes {
        tx.touch_runtime(runtime_id, None, now_ms).await?;
        let commands = tx.take_commands(runtime_id, now_ms).await?;
        cancels.insert(runtime_id, commands);
    }

    let outcomes = batches
        .iter()
        .zip(conflicts)
        .enumerate()
        .map(|(i, (batch, conflicts))| {
            let mut acked = BTreeMap::new();
            for e in batch
                .events
                .iter()
                .filter(|e| !conflicts.contains_key(&e.session_id))
            {
                if let Some(a) = rows[e.session_id.as_str()].acked_seq {
                    acked.insert(e.session_id.clone(), a as u64);
                }
            }
            let refused_events = batch
                .events
                .iter()
                .filter(|e| conflicts.contains_key(&e.session_id))
                .count();
            BatchOutcome {
                acked,
                conflicts,
                refused_events,
                cancels: cancels
                    .get(batch.runtime_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                inserted: inserted_per_batch[i],
            }
        })
        .collect();
    Ok(CommitResult {
        outcomes,
        touched: new_events.keys().map(|s| (*s).to_owned()).collect(),
    })
}
