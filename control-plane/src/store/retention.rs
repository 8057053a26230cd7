//! The statements of the retention sweep (`crate::retention`): the scan of old finished sessions, what
//! their conversations keep (`retention_plan`), and the bounded deletions.
//!
//! **Invariants.** The scan and the conversation facts are read outside the deleting transaction: every
//! fact only ever moves towards deletable (a final session stays final, a pending reply only leaves
//! `pending`, a conversation's floor only moves up as turns finish), so a fact read earlier keeps at least
//! what it must — except an idle conversation that a new turn makes live again after the scan: the guard
//! then keeps its newest session, and the new turn continues from that one's state, or starts fresh if the
//! state it needed went with an older session (it is older than `--retention`). The deleting transaction
//! guards again (final, no pending reply, the newest of a conversation only while it is idle), takes the sweep's
//! advisory lock on PostgreSQL (`Tx::serialise`: one replica deletes at a time) and locks the rows in
//! session-id order, as ingest does. A session goes with every row only it owns: its events, its
//! conversation-state pieces, its job and its (sent, failed or skipped) reply. Trigger deliveries stay: they
//! are the trigger's record and dedupe for good, and a replay of one needs no session.

use super::backend::{json_list, with_conn, with_pool};
use super::retention_plan::{Candidate, ConversationFacts, PieceShape, complete};
use super::{Result, Store};

/// The advisory lock every deleting transaction takes.
const SCOPE: &str = "retention";

/// Where the scan goes on from: the last (finished_at, row id) seen.
pub type Cursor = (String, i64);

type CandidateRow = (i64, String, String, String, Option<String>, Option<i64>, i64);

/// The guard of a deletion: a final session that owes no reply.
/// The newest finished session of a conversation goes only while every session of it is final (an idle
/// conversation; a turn queued since the scan makes it live again, and keeps the session it continues from).
const DELETABLE: &str = "finished_at IS NOT NULL AND status NOT IN ('queued', 'pending', 'running') \
     AND NOT EXISTS (SELECT 1 FROM trigger_replies r WHERE r.session_id = sessions.session_id \
     AND r.status = 'pending') \
     AND (conversation_id IS NULL OR EXISTS (SELECT 1 FROM sessions n \
     WHERE n.conversation_id = sessions.conversation_id AND n.id > sessions.id \
     AND n.finished_at IS NOT NULL) \
     OR NOT EXISTS (SELECT 1 FROM sessions u WHERE u.conversation_id = sessions.conversation_id \
     AND u.finished_at IS NULL))";

impl Store {
    /// Up to `limit` sessions finished before `cutoff` (RFC 3339 text, compared as stored), after `after`,
    /// oldest first: one range of the (finished_at, id) index. The newest session of a conversation with a
    /// session not finished is left out here already (it is always kept).
    pub async fn retention_candidates(
        &self,
        cutoff: &str,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<(Candidate, Cursor)>> {
        let (after_at, after_id) = after.cloned().unwrap_or_default();
        let rows = with_pool!(self, |p| {
            sqlx::query_as::<_, CandidateRow>(
                "SELECT s.id, s.session_id, s.status, s.finished_at, s.conversation_id, s.last_seq, \
                 CAST(CASE WHEN EXISTS (SELECT 1 FROM trigger_replies r WHERE r.session_id = s.session_id \
                 AND r.status = 'pending') THEN 1 ELSE 0 END AS BIGINT) \
                 FROM sessions s WHERE s.finished_at IS NOT NULL AND s.finished_at < $1 \
                 AND (s.finished_at > $2 OR (s.finished_at = $2 AND s.id > $3)) \
                 AND (s.conversation_id IS NULL OR EXISTS (SELECT 1 FROM sessions n \
                 WHERE n.conversation_id = s.conversation_id AND n.id > s.id) \
                 OR NOT EXISTS (SELECT 1 FROM sessions u WHERE u.conversation_id = s.conversation_id \
                 AND u.finished_at IS NULL)) \
                 ORDER BY s.finished_at, s.id LIMIT $4",
            )
            .bind(cutoff)
            .bind(&after_at)
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, session_id, status, finished_at, conversation_id, last_seq, pending)| {
                    let candidate = Candidate {
                        id,
                        session_id,
                        status,
                        finished_ms: crate::time::parse_rfc3339_ms(&finished_at),
                        conversation_id,
                        events: last_seq.map_or(0, |s| u64::try_from(s).unwrap_or(0) + 1),
                        pending_reply: pending != 0,
                    };
                    (candidate, (finished_at, id))
                },
            )
            .collect())
    }

    /// What decides the floor of `conversation_id` (`retention_plan::conversation_floor`) for a sweep
    /// with this `cutoff`. States are looked at newest first, and only until the first complete one below
    /// the oldest unfinished session.
    pub async fn conversation_facts(&self, conversation_id: &str, cutoff: &str) -> Result<ConversationFacts> {
        let (newest, oldest_unfinished, last_finished) = with_pool!(self, |p| {
            sqlx::query_as::<_, (Option<i64>, Option<i64>, Option<String>)>(
                "SELECT MAX(id), MIN(CASE WHEN finished_at IS NULL THEN id END), MAX(finished_at) \
                 FROM sessions WHERE conversation_id = $1",
            )
            .bind(conversation_id)
            .fetch_one(p)
            .await?
        });
        let mut facts = ConversationFacts {
            newest: newest.unwrap_or(i64::MAX),
            oldest_unfinished,
            states: Vec::new(),
            idle: oldest_unfinished.is_none() && last_finished.is_some_and(|at| at.as_str() < cutoff),
        };
        if facts.idle {
            return Ok(facts);
        }
        let with_state = with_pool!(self, |p| {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT s.id, s.session_id FROM sessions s WHERE s.conversation_id = $1 \
                 AND EXISTS (SELECT 1 FROM conversation_state c WHERE c.session_id = s.session_id AND c.last = 1) \
                 ORDER BY s.id DESC",
            )
            .bind(conversation_id)
            .fetch_all(p)
            .await?
        });
        let below = oldest_unfinished.unwrap_or(i64::MAX);
        for (id, session_id) in with_state {
            let shapes = self.piece_shapes(&session_id).await?;
            let complete = complete(&shapes);
            facts.states.push((id, complete));
            if complete && id < below {
                break;
            }
        }
        Ok(facts)
    }

    async fn piece_shapes(&self, session_id: &str) -> Result<Vec<PieceShape>> {
        let rows = with_pool!(self, |p| {
            sqlx::query_as::<_, (i64, String, String, String, i64)>(
                "SELECT seq, path, sdk_session_id, config_dir, last FROM conversation_state \
                 WHERE session_id = $1",
            )
            .bind(session_id)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(seq, path, sdk_session_id, config_dir, last)| PieceShape {
                seq,
                path,
                sdk_session_id,
                config_dir,
                last: last != 0,
            })
            .collect())
    }

    /// Deletes these sessions (those still deletable) with every row only they own, in one transaction.
    /// Answers (sessions, events) deleted.
    pub async fn delete_sessions(&self, session_ids: &[String]) -> Result<(u64, u64)> {
        let mut tx = self.begin().await?;
        tx.serialise(SCOPE).await?;
        let list = json_list(session_ids)?;
        let sql = format!(
            "SELECT session_id, conversation_id FROM sessions WHERE session_id IN ({}) AND {DELETABLE} \
             ORDER BY session_id{}",
            tx.json_texts("$1"),
            tx.row_lock()
        );
        let rows = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, Option<String>)>(&sql)
                .bind(&list)
                .fetch_all(c)
                .await?
        });
        if rows.is_empty() {
            return Ok((0, 0));
        }
        let mut conversations: Vec<String> = rows.iter().filter_map(|(_, c)| c.clone()).collect();
        conversations.sort();
        conversations.dedup();
        let doomed: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
        let doomed = json_list(&doomed)?;
        let (mut sessions, mut events) = (0, 0);
        for table in [
            "events",
            "conversation_state",
            "session_jobs",
            "trigger_replies",
            "sessions",
        ] {
            let sql = format!(
                "DELETE FROM {table} WHERE session_id IN ({})",
                tx.json_texts("$1")
            );
            let n = with_conn!(&mut tx, |c| {
                sqlx::query(&sql).bind(&doomed).execute(c).await?.rows_affected()
            });
            match table {
                "events" => events = n,
                "sessions" => sessions = n,
                _ => {}
            }
        }
        // A trigger's thread keys of a conversation now without any session: the thread's next message
        // starts a new conversation rather than one that is gone.
        let sql = format!(
            "DELETE FROM trigger_conversations WHERE conversation_id IN ({}) AND NOT EXISTS \
             (SELECT 1 FROM sessions s WHERE s.conversation_id = trigger_conversations.conversation_id)",
            tx.json_texts("$1")
        );
        let conversations = json_list(&conversations)?;
        with_conn!(&mut tx, |c| {
            sqlx::query(&sql)
                .bind(&conversations)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok((sessions, events))
    }

    /// Deletes the oldest `max_events` events of a session that is still deletable, in one transaction;
    /// answers how many went (fewer than `max_events`: none are left).
    pub async fn trim_events(&self, session_id: &str, max_events: u64) -> Result<u64> {
        let mut tx = self.begin().await?;
        tx.serialise(SCOPE).await?;
        let sql = format!(
            "SELECT session_id FROM sessions WHERE session_id = $1 AND {DELETABLE}{}",
            tx.row_lock()
        );
        let found = with_conn!(&mut tx, |c| {
            sqlx::query_scalar::<_, String>(&sql)
                .bind(session_id)
                .fetch_optional(c)
                .await?
        });
        if found.is_none() {
            return Ok(0);
        }
        let offset = i64::try_from(max_events.saturating_sub(1)).unwrap_or(i64::MAX);
        let deleted = with_conn!(&mut tx, |c| {
            sqlx::query(
                "DELETE FROM events WHERE session_id = $1 AND seq <= COALESCE((SELECT seq FROM events \
                 WHERE session_id = $1 ORDER BY seq LIMIT 1 OFFSET $2), \
                 (SELECT MAX(seq) FROM events WHERE session_id = $1))",
            )
            .bind(session_id)
            .bind(offset)
            .execute(c)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(deleted)
    }
}
