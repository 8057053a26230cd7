//! Debounced deliveries (`debounceSeconds`): the `waiting` rows of one (trigger, conversation key) become one
//! session once the newest of them is old enough.
//!
//! The rows are the state: a restart finds them `waiting` and the next tick flushes them. A flush locks its
//! rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so a second replica skips a burst being flushed; SQLite's one
//! writer runs flushes in turn) and re-checks the newest arrival under the lock, so a delivery that joined
//! the burst meanwhile postpones it instead of being left behind. Its first write moves the rows from
//! `waiting` only where they still are, so two flushes of one burst cannot both start a session.

use protocol::FileSpec;

use super::backend::{Tx, json_list, with_conn, with_pool};
use super::deliveries::{Burst, StoredAttachment};
use super::queue::{QueueOutcome, QueuedRow};
use super::{Result, Store};

/// One burst waiting: its trigger, its key (`None`: deliveries without a conversation key) and the newest
/// arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingBurst {
    pub trigger_id: String,
    pub conversation_key: Option<String>,
    pub newest_ms: i64,
}

/// A waiting delivery as the burst's composer sees it, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingDelivery {
    pub delivery_id: String,
    pub prompt: String,
    pub auto_submitted: bool,
    pub attachments: Vec<StoredAttachment>,
}

/// How to flush one burst.
#[derive(Debug, Clone)]
pub struct Flush<'a> {
    pub trigger_id: &'a str,
    pub conversation_key: Option<&'a str>,
    pub agent_id: &'a str,
    /// Flush only when the newest delivery arrived at or before this.
    pub cutoff_ms: i64,
    pub session_id: &'a str,
    pub reply: bool,
    pub now_ms: i64,
}

/// What a flush did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flushed {
    Queued(QueuedRow),
    /// Not due under the lock, taken by another replica, or already flushed: nothing done.
    Nothing,
    NotQueued(QueueOutcome),
}

impl Store {
    /// Every burst with deliveries `waiting`.
    pub async fn waiting_bursts(&self) -> Result<Vec<WaitingBurst>> {
        let rows = with_pool!(self, |p| {
            sqlx::query_as::<_, (String, Option<String>, i64)>(
                "SELECT trigger_id, conversation_key, MAX(received_ms) FROM trigger_deliveries \
                 WHERE status = 'waiting' GROUP BY trigger_id, conversation_key",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(trigger_id, conversation_key, newest_ms)| WaitingBurst {
                trigger_id,
                conversation_key,
                newest_ms,
            })
            .collect())
    }

    /// Turns the burst into one session whose prompt and files `compose` makes from its deliveries.
    pub async fn flush_burst(
        &self,
        flush: &Flush<'_>,
        compose: impl FnOnce(&[WaitingDelivery]) -> (String, Vec<FileSpec>),
    ) -> Result<Flushed> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT delivery_id, received_ms, prompt, auto_submitted FROM trigger_deliveries \
             WHERE trigger_id = $1 AND status = 'waiting' AND COALESCE(conversation_key, '') = $2 \
             ORDER BY id{}",
            tx.skip_locked("trigger_deliveries")
        );
        let key = flush.conversation_key.unwrap_or("");
        let rows = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, i64, Option<String>, i64)>(&sql)
                .bind(flush.trigger_id)
                .bind(key)
                .fetch_all(c)
                .await?
        });
        let newest = rows.iter().map(|r| r.1).max();
        if newest.is_none_or(|newest| newest > flush.cutoff_ms) {
            return Ok(Flushed::Nothing);
        }
        let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        // The claim itself: only rows still `waiting` move, so a flush that read them before another
        // committed (no SKIP LOCKED to lean on) finds fewer and gives up instead of starting a second session.
        if tx.claim_waiting(&ids).await? != ids.len() as u64 {
            return Ok(Flushed::Nothing);
        }
        // A flush is rare (one per burst): it is serialised with every delivery of its trigger that
        // looks up a thread, whatever the scope they take.
        tx.serialise(&super::scope::trigger_scope(flush.trigger_id))
            .await?;
        if let Some(refusal) = tx.lock_agent(flush.agent_id).await? {
            // Nothing will ever start them: recorded as such, so the burst is not looked at again.
            let why = format!("agent {} was deleted: it takes no new sessions", flush.agent_id);
            tx.mark_invalid(&ids, &why).await?;
            tx.commit().await?;
            return Ok(Flushed::NotQueued(refusal));
        }
        let list = json_list(&ids)?;
        let sql = format!(
            "SELECT delivery_id, path, filename, content_type, data FROM trigger_attachments \
             WHERE delivery_id IN ({}) ORDER BY delivery_id, idx",
            tx.json_texts("$1")
        );
        let attachments = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, String, String, String, String)>(&sql)
                .bind(&list)
                .fetch_all(c)
                .await?
        });
        let deliveries: Vec<WaitingDelivery> = rows
            .into_iter()
            .map(|(delivery_id, _, prompt, auto_submitted)| WaitingDelivery {
                attachments: attachments
                    .iter()
                    .filter(|a| a.0 == delivery_id)
                    .map(|(_, path, filename, content_type, base64)| StoredAttachment {
                        path: path.clone(),
                        filename: filename.clone(),
                        content_type: content_type.clone(),
                        base64: base64.clone(),
                    })
                    .collect(),
                delivery_id,
                prompt: prompt.unwrap_or_default(),
                auto_submitted: auto_submitted != 0,
            })
            .collect();
        let (prompt, files) = compose(&deliveries);
        let found = match flush.conversation_key {
            Some(key) => tx.find_conversation(flush.trigger_id, &[key.to_owned()]).await?,
            None => None,
        };
        let outcome = tx
            .queue_for(&Burst {
                trigger_id: flush.trigger_id,
                agent_id: flush.agent_id,
                session_id: flush.session_id,
                prompt: &prompt,
                files,
                conversation: found.map(|(_, conversation)| conversation),
                file_under: flush.conversation_key,
                now_ms: flush.now_ms,
            })
            .await?;
        let row = match outcome {
            QueueOutcome::Queued(row) => row,
            other => return Ok(Flushed::NotQueued(other)),
        };
        tx.mark_queued(&ids, &row.session_id).await?;
        let last = deliveries.last().expect("a due burst has deliveries");
        if flush.reply && !last.auto_submitted {
            tx.insert_reply(&row.session_id, flush.trigger_id, &last.delivery_id)
                .await?;
        }
        tx.commit().await?;
        Ok(Flushed::Queued(row))
    }
}

impl Tx {
    /// Moves the burst's rows from `waiting` to `queued`; answers how many were still waiting.
    async fn claim_waiting(&mut self, delivery_ids: &[String]) -> Result<u64> {
        let list = json_list(delivery_ids)?;
        let sql = format!(
            "UPDATE trigger_deliveries SET status = 'queued' WHERE status = 'waiting' AND delivery_id IN ({})",
            self.json_texts("$1")
        );
        let moved = with_conn!(&mut *self, |c| {
            sqlx::query(&sql)
                .bind(&list)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(moved)
    }

    async fn mark_invalid(&mut self, delivery_ids: &[String], error: &str) -> Result<()> {
        let list = json_list(delivery_ids)?;
        let sql = format!(
            "UPDATE trigger_deliveries SET status = 'invalid', error = $1 WHERE delivery_id IN ({})",
            self.json_texts("$2")
        );
        with_conn!(&mut *self, |c| {
            sqlx::query(&sql)
                .bind(error)
                .bind(&list)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The first of `candidates` (in their order) that deliveries of `trigger_id` still wait under.
    pub(super) async fn waiting_key(
        &mut self,
        trigger_id: &str,
        candidates: &[String],
    ) -> Result<Option<String>> {
        for key in candidates {
            let waiting = with_conn!(&mut *self, |c| {
                sqlx::query_scalar::<_, String>(
                    "SELECT delivery_id FROM trigger_deliveries \
                     WHERE trigger_id = $1 AND conversation_key = $2 AND status = 'waiting' LIMIT 1",
                )
                .bind(trigger_id)
                .bind(key)
                .fetch_optional(c)
                .await?
            });
            if waiting.is_some() {
                return Ok(Some(key.clone()));
            }
        }
        Ok(None)
    }
}
