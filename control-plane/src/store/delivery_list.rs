//! Reading deliveries back (`GET /api/v1/triggers/{id}/deliveries`) and replaying one
//! (`POST /api/v1/deliveries/{id}/replay`): a new session from what the delivery stored, in its conversation.

use protocol::DeliveryStatus;

use super::backend::with_conn;
use super::deliveries::{Burst, StoredAttachment};
use super::queue::{QueueOutcome, QueuedRow};
use super::{Result, Store, StoreError};

/// A delivery as stored, with the reply owed for its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// The row id: arrival order, the list's cursor.
    pub id: i64,
    pub delivery_id: String,
    pub trigger_id: String,
    pub received_at: String,
    pub provider_id: Option<String>,
    pub verified: bool,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub session_id: Option<String>,
    pub reply: Option<ReplyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRow {
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub sent_at: Option<String>,
}

/// A replay to make.
#[derive(Debug, Clone, Copy)]
pub struct Replay<'a> {
    pub delivery_id: &'a str,
    pub agent_id: &'a str,
    pub session_id: &'a str,
    pub reply: bool,
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    Queued(QueuedRow),
    UnknownDelivery,
    /// Why there is nothing to replay (refused, invalid, …).
    NothingToReplay(String),
    NotQueued(QueueOutcome),
}

type Record = (
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str = "d.id, d.delivery_id, d.trigger_id, d.received_at, d.provider_id, d.verified, d.status, \
     d.error, d.session_id, r.status, r.attempts, r.error, r.sent_at FROM trigger_deliveries d \
     LEFT JOIN trigger_replies r ON r.session_id = d.session_id";

fn row(r: Record) -> Result<DeliveryRow> {
    let status =
        r.6.parse::<DeliveryStatus>()
            .map_err(|e| StoreError::Corrupt(format!("trigger_deliveries {}: {e}", r.1)))?;
    Ok(DeliveryRow {
        id: r.0,
        delivery_id: r.1,
        trigger_id: r.2,
        received_at: r.3,
        provider_id: r.4,
        verified: r.5 != 0,
        status,
        error: r.7,
        session_id: r.8,
        reply: r.9.map(|status| ReplyRow {
            status,
            attempts: r.10.unwrap_or(0),
            error: r.11,
            sent_at: r.12,
        }),
    })
}

impl Store {
    /// A trigger's deliveries newest first, older than row `before` when given.
    pub async fn deliveries(
        &self,
        trigger_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>> {
        let sql =
            format!("SELECT {COLUMNS} WHERE d.trigger_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3");
        let mut tx = self.begin_read().await?;
        let records = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, Record>(&sql)
                .bind(trigger_id)
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(c)
                .await?
        });
        tx.commit().await?;
        records.into_iter().map(row).collect()
    }

    /// One delivery by its id.
    pub async fn delivery(&self, delivery_id: &str) -> Result<Option<DeliveryRow>> {
        let sql = format!("SELECT {COLUMNS} WHERE d.delivery_id = $1");
        let mut tx = self.begin_read().await?;
        let record = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, Record>(&sql)
                .bind(delivery_id)
                .fetch_optional(c)
                .await?
        });
        tx.commit().await?;
        record.map(row).transpose()
    }

    /// Queues a new session from a queued delivery's stored prompt and attachments, in the conversation of
    /// the session it started.
    pub async fn replay_delivery(&self, replay: &Replay<'_>) -> Result<Replayed> {
        let mut tx = self.begin().await?;
        let found = with_conn!(&mut tx, |c| {
            sqlx::query_as::<
                _,
                (
                    String,
                    String,
                    Option<String>,
                    Option<String>,
                    i64,
                    Option<String>,
                ),
            >(
                "SELECT d.trigger_id, d.status, d.prompt, s.conversation_id, d.auto_submitted, d.error \
                 FROM trigger_deliveries d LEFT JOIN sessions s ON s.session_id = d.session_id \
                 WHERE d.delivery_id = $1",
            )
            .bind(replay.delivery_id)
            .fetch_optional(c)
            .await?
        });
        let Some((trigger_id, status, prompt, conversation, auto_submitted, error)) = found else {
            return Ok(Replayed::UnknownDelivery);
        };
        let why = match status.as_str() {
            "queued" => None,
            "waiting" => Some("it is still waiting for the rest of its burst".to_owned()),
            "duplicate" => {
                Some("it is a redelivery: replay the first delivery of its provider id".to_owned())
            }
            other => Some(format!(
                "it was {other}{}: nothing was stored to make a prompt from",
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            )),
        };
        let (Some(prompt), None) = (prompt, why.clone()) else {
            return Ok(Replayed::NothingToReplay(
                why.unwrap_or_else(|| "it has no stored prompt".to_owned()),
            ));
        };
        let attachments = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT path, filename, content_type, data FROM trigger_attachments \
                 WHERE delivery_id = $1 ORDER BY idx",
            )
            .bind(replay.delivery_id)
            .fetch_all(c)
            .await?
        });
        let files = attachments
            .into_iter()
            .map(|(path, filename, content_type, base64)| {
                StoredAttachment {
                    path,
                    filename,
                    content_type,
                    base64,
                }
                .file()
            })
            .collect();
        let outcome = tx
            .queue_for(&Burst {
                trigger_id: &trigger_id,
                agent_id: replay.agent_id,
                session_id: replay.session_id,
                prompt: &prompt,
                files,
                conversation,
                file_under: None,
                now_ms: replay.now_ms,
            })
            .await?;
        let row = match outcome {
            QueueOutcome::Queued(row) => row,
            other => return Ok(Replayed::NotQueued(other)),
        };
        if replay.reply && auto_submitted == 0 {
            tx.insert_reply(&row.session_id, &trigger_id, replay.delivery_id)
                .await?;
        }
        tx.commit().await?;
        Ok(Replayed::Queued(row))
    }
}
