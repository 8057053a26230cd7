//! Statements of the reply worker on `trigger_replies` (DESIGN §10 "Replies"): claiming the replies due,
//! recording each one's outcome, and filing the conversation keys a reply hands out.
//!
//! **Invariants.** A reply is claimed only once its session has a final status. The claim sets `next_ms`
//! to the end of a lease in the same transaction that selected the rows (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so replicas claiming at once take different rows; SQLite's one writer claims in turn), and
//! the send happens after that transaction committed: a worker that dies mid-send leaves the row `pending`
//! with a lease that runs out, and the reply is tried again rather than never. An outcome is written only
//! over a row still `pending`: a reply once `sent`, `failed` or `skipped` stays so.

use protocol::SessionStatus;

use super::backend::{json_list, with_conn};
use super::{Result, Store, StoreError};

/// A pending reply whose session is final, with what composing it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReply {
    pub session_id: String,
    pub trigger_id: String,
    /// The delivery answered (the last of a debounced burst).
    pub delivery_id: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub session_status: SessionStatus,
    /// The text of the session's last `result` event (`sessions.result_text`, projected at ingest).
    pub result_text: Option<String>,
    /// The session's conversation (its own id when it started one).
    pub conversation_id: String,
    /// The delivery's normalised event, as JSON text; `None` when the row is gone or had none.
    pub context: Option<String>,
}

/// What became of one attempt at a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    Sent {
        attempts: u32,
        sent_at: String,
        /// Our Message-ID for a mail, else the provider's id of the message when it gave one.
        message_id: Option<String>,
    },
    /// Another attempt at `next_ms`.
    Retry {
        attempts: u32,
        next_ms: i64,
        error: String,
    },
    Failed {
        attempts: u32,
        error: String,
    },
    /// Nothing is sent: the session did not succeed, or the trigger no longer replies.
    Skipped {
        error: String,
    },
}

type Record = (
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The statuses after which a session never changes: the replies of these sessions are due.
fn finished_statuses() -> Vec<&'static str> {
    SessionStatus::ALL
        .into_iter()
        .filter(|status| status.is_finished())
        .map(SessionStatus::as_str)
        .collect()
}

impl Store {
    /// Claims up to `limit` pending replies due at `now_ms` whose session is final, oldest due first, and
    /// leases them until `now_ms + lease_ms`.
    pub async fn claim_replies(&self, now_ms: i64, lease_ms: i64, limit: u32) -> Result<Vec<DueReply>> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT r.session_id, r.trigger_id, r.delivery_id, r.attempts, s.status, s.result_text, \
             s.conversation_id, d.context FROM trigger_replies r \
             JOIN sessions s ON s.session_id = r.session_id \
             LEFT JOIN trigger_deliveries d ON d.delivery_id = r.delivery_id \
             WHERE r.status = 'pending' AND r.next_ms <= $1 AND s.status IN ({}) \
             ORDER BY r.next_ms, r.session_id LIMIT $3{}",
            tx.json_texts("$2"),
            tx.skip_locked("r")
        );
        let finished = json_list(&finished_statuses())?;
        let records = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, Record>(&sql)
                .bind(now_ms)
                .bind(&finished)
                .bind(i64::from(limit))
                .fetch_all(c)
                .await?
        });
        if records.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = records.iter().map(|r| r.0.as_str()).collect();
        let sql = format!(
            "UPDATE trigger_replies SET next_ms = $1 WHERE session_id IN ({})",
            tx.json_texts("$2")
        );
        let list = json_list(&ids)?;
        with_conn!(&mut tx, |c| {
            sqlx::query(&sql)
                .bind(now_ms + lease_ms)
                .bind(&list)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        records.into_iter().map(due).collect()
    }

    /// Records the outcome of an attempt at the reply of `session_id`, unless it is no longer pending.
    pub async fn finish_reply(&self, session_id: &str, outcome: &ReplyOutcome) -> Result<()> {
        let (status, attempts, next_ms, error, sent_at, message_id) = match outcome {
            ReplyOutcome::Sent {
                attempts,
                sent_at,
                message_id,
            } => (
                "sent",
                Some(*attempts),
                None,
                None,
                Some(sent_at),
                message_id.as_ref(),
            ),
            ReplyOutcome::Retry {
                attempts,
                next_ms,
                error,
            } => (
                "pending",
                Some(*attempts),
                Some(*next_ms),
                Some(error),
                None,
                None,
            ),
            ReplyOutcome::Failed { attempts, error } => {
                ("failed", Some(*attempts), None, Some(error), None, None)
            }
            ReplyOutcome::Skipped { error } => ("skipped", None, None, Some(error), None, None),
        };
        let mut tx = self.begin().await?;
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "UPDATE trigger_replies SET status = $2, attempts = COALESCE($3, attempts), \
                 next_ms = COALESCE($4, next_ms), error = $5, sent_at = $6, message_id = $7 \
                 WHERE session_id = $1 AND status = 'pending'",
            )
            .bind(session_id)
            .bind(status)
            .bind(attempts.map(i64::from))
            .bind(next_ms)
            .bind(error)
            .bind(sent_at)
            .bind(message_id)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        tx.commit().await
    }

    /// Files `keys` of `trigger_id` for `conversation_id` (a reply's `msg:<Message-ID>`, its
    /// `token:<token>`), so a mail answering the reply continues the conversation. A key already filed
    /// keeps its conversation.
    pub async fn file_conversation_keys(
        &self,
        trigger_id: &str,
        keys: &[String],
        conversation_id: &str,
        created_at: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for key in keys {
            tx.file_conversation(trigger_id, key, conversation_id, created_at)
                .await?;
        }
        tx.commit().await
    }
}

fn due(r: Record) -> Result<DueReply> {
    let corrupt = |what: String| StoreError::Corrupt(format!("trigger_replies {}: {what}", r.0));
    let session_status = r.4.parse::<SessionStatus>().map_err(corrupt)?;
    let attempts = u32::try_from(r.3).map_err(|_| corrupt(format!("attempts {}", r.3)))?;
    Ok(DueReply {
        conversation_id: r.6.clone().unwrap_or_else(|| r.0.clone()),
        session_id: r.0,
        trigger_id: r.1,
        delivery_id: r.2,
        attempts,
        session_status,
        result_text: r.5,
        context: r.7,
    })
}
