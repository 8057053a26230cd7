//! Statements on `trigger_deliveries`, `trigger_attachments`, `trigger_conversations` and the creation of
//! `trigger_replies` rows: what `POST /hooks/{id}` stores before it answers (DESIGN §10).
//!
//! **Invariants.** An accepted delivery, its attachments, its conversation key and its session (or its
//! `waiting` state) are one transaction: the provider's 2xx is sent only after it committed. A provider id is
//! stored as `dedupe_key` on the first delivery of that id only; the insert is `ON CONFLICT DO NOTHING` on the
//! unique index, so on both backends a redelivery, however many copies race, becomes a `duplicate` row and
//! starts nothing. The agent's row is held `FOR SHARE` (ordered with PUT and DELETE of the agent, not with
//! other deliveries), and deliveries of one ordering scope (`scope.rs`: one conversation key, or a
//! whole trigger for mail threads, whose keys only the lookup ties together) are serialised before the key
//! is looked up, so two deliveries of one new thread cannot each start a conversation, and sessions of one
//! conversation get row ids (the order they run in, `claim.rs`) in arrival order. Deliveries without a
//! conversation key take no lock beyond the agent's share: they run side by side.

use protocol::{DeliveryStatus, FileEncoding, FileSpec, QueueSessionRequest, SessionId};

use super::backend::{Tx, with_conn};
use super::queue::{NewQueued, QueueOutcome, QueuedRow};
use super::scope::order_scope;
use super::{Result, Store};

/// What every delivery row records about the request.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub delivery_id: &'a str,
    pub trigger_id: &'a str,
    pub received_at: &'a str,
    pub received_ms: i64,
    pub provider_id: Option<&'a str>,
    pub verified: bool,
}

/// An attachment of a delivery, its content base64 (how a session's files carry binary content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub path: String,
    pub filename: String,
    pub content_type: String,
    pub base64: String,
}

impl StoredAttachment {
    pub(super) fn file(&self) -> FileSpec {
        FileSpec {
            path: self.path.clone(),
            content: self.base64.clone(),
            encoding: FileEncoding::Base64,
        }
    }
}

/// A verified, normalised delivery with its rendered prompt.
#[derive(Debug, Clone)]
pub struct Accepted<'a> {
    pub received: Received<'a>,
    pub agent_id: &'a str,
    /// The normalised event as JSON, kept for replay and the delivery list.
    pub context: &'a str,
    pub prompt: &'a str,
    pub auto_submitted: bool,
    /// Conversation keys in priority order: the first one already filed wins; none filed → a new
    /// conversation filed under the last one. Empty: a conversation of its own, filed nowhere.
    pub candidates: &'a [String],
    pub attachments: &'a [StoredAttachment],
    /// Hold it `waiting` for the debounce task instead of queueing a session now.
    pub debounce: bool,
    /// The trigger answers: a `pending` reply row is owed for the session (unless `auto_submitted`).
    pub reply: bool,
    /// The id of the session to queue, when one is queued now.
    pub session_id: &'a str,
    pub now_ms: i64,
}

/// What became of an accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    Queued(QueuedRow),
    Waiting,
    /// A redelivery of a provider id already stored: recorded as `duplicate`, nothing started.
    Duplicate,
    /// The session could not be queued (the agent was deleted, …): nothing stored, the caller records why.
    NotQueued(QueueOutcome),
}

impl Store {
    /// Records a delivery that starts nothing: refused, invalid or disabled. Never a dedupe key: a corrected
    /// redelivery of the same id must still be accepted.
    pub async fn record_delivery(
        &self,
        received: &Received<'_>,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.insert_delivery(received, None, status, error).await?;
        tx.commit().await
    }

    /// Stores an accepted delivery and queues its session (or leaves it `waiting`), in one transaction.
    pub async fn accept_delivery(&self, accepted: &Accepted<'_>) -> Result<Acceptance> {
        let received = &accepted.received;
        let mut tx = self.begin().await?;
        let status = if accepted.debounce {
            DeliveryStatus::Waiting
        } else {
            DeliveryStatus::Queued
        };
        if !tx
            .insert_delivery(received, received.provider_id, status, None)
            .await?
        {
            // Another delivery holds this provider id (committed, or committed while we waited on it).
            tx.insert_delivery(received, None, DeliveryStatus::Duplicate, None)
                .await?;
            tx.commit().await?;
            return Ok(Acceptance::Duplicate);
        }
        if let Some(refusal) = tx.lock_agent(accepted.agent_id).await? {
            return Ok(Acceptance::NotQueued(refusal));
        }
        if let Some(scope) = order_scope(received.trigger_id, accepted.candidates) {
            tx.serialise(&scope).await?;
        }
        tx.insert_attachments(received.delivery_id, accepted.attachments)
            .await?;
        let found = tx
            .find_conversation(received.trigger_id, accepted.candidates)
            .await?;
        // A debounced message of a thread that has no conversation yet joins the burst still waiting under
        // one of its keys (B answering A inside A's window): the thread becomes one conversation, not two.
        let joined = match (&found, accepted.debounce) {
            (None, true) => tx.waiting_key(received.trigger_id, accepted.candidates).await?,
            _ => None,
        };
        let key = found
            .as_ref()
            .map(|(key, _)| key.clone())
            .or(joined)
            .or_else(|| accepted.candidates.last().cloned());
        let fields = DeliveryFields {
            delivery_id: received.delivery_id,
            conversation_key: key.as_deref(),
            context: accepted.context,
            prompt: accepted.prompt,
            auto_submitted: accepted.auto_submitted,
        };
        tx.set_delivery_fields(&fields).await?;
        if accepted.debounce {
            // A waiting mail of a known thread files its own key now, so an answer to it finds the thread
            // even before the burst is flushed (a new thread's key is filed by the flush).
            if let (Some((_, conversation)), Some(own)) = (&found, accepted.candidates.last()) {
                let at = crate::time::rfc3339_ms(accepted.now_ms);
                tx.file_conversation(received.trigger_id, own, conversation, &at)
                    .await?;
            }
            tx.commit().await?;
            return Ok(Acceptance::Waiting);
        }
        let files = accepted.attachments.iter().map(StoredAttachment::file).collect();
        let queued = tx
            .queue_for(&Burst {
                trigger_id: received.trigger_id,
                agent_id: accepted.agent_id,
                session_id: accepted.session_id,
                prompt: accepted.prompt,
                files,
                conversation: found.map(|(_, conversation)| conversation),
                file_under: accepted.candidates.last().map(String::as_str),
                now_ms: accepted.now_ms,
            })
            .await?;
        let row = match queued {
            QueueOutcome::Queued(row) => row,
            other => return Ok(Acceptance::NotQueued(other)),
        };
        tx.mark_queued(&[received.delivery_id.to_owned()], &row.session_id)
            .await?;
        if accepted.reply && !accepted.auto_submitted {
            tx.insert_reply(&row.session_id, received.trigger_id, received.delivery_id)
                .await?;
        }
        tx.commit().await?;
        Ok(Acceptance::Queued(row))
    }
}

/// What a delivery row learns once it is accepted.
struct DeliveryFields<'a> {
    delivery_id: &'a str,
    conversation_key: Option<&'a str>,
    context: &'a str,
    prompt: &'a str,
    auto_submitted: bool,
}

/// A session to queue for one delivery or a debounced burst of them.
pub(super) struct Burst<'a> {
    pub trigger_id: &'a str,
    pub agent_id: &'a str,
    pub session_id: &'a str,
    pub prompt: &'a str,
    pub files: Vec<FileSpec>,
    /// The conversation to continue; `None`: a new one (id = the session id).
    pub conversation: Option<String>,
    /// The key a new conversation is filed under (also filed for a continued one: the mail's own
    /// `msg:<Message-ID>`, so an answer to this very mail finds the thread).
    pub file_under: Option<&'a str>,
    pub now_ms: i64,
}

impl Tx {
    /// Inserts a delivery row; with `dedupe_key`, false when that key is taken (nothing inserted).
    async fn insert_delivery(
        &mut self,
        received: &Received<'_>,
        dedupe_key: Option<&str>,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<bool> {
        let status = status.to_string();
        let inserted = with_conn!(&mut *self, |c| {
            sqlx::query(
                "INSERT INTO trigger_deliveries (delivery_id, trigger_id, received_at, received_ms, \
                 provider_id, dedupe_key, verified, status, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (trigger_id, dedupe_key) DO NOTHING",
            )
            .bind(received.delivery_id)
            .bind(received.trigger_id)
            .bind(received.received_at)
            .bind(received.received_ms)
            .bind(received.provider_id)
            .bind(dedupe_key)
            .bind(i64::from(received.verified))
            .bind(&status)
            .bind(error)
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        Ok(inserted)
    }

    /// Holds the agent's row against PUT/DELETE of the agent (`FOR SHARE`: not against other deliveries);
    /// `Some` when it takes no sessions.
    pub(super) async fn lock_agent(&mut self, agent_id: &str) -> Result<Option<QueueOutcome>> {
        let sql = format!(
            "SELECT version, deleted_at FROM agents WHERE agent_id = $1{}",
            self.share_lock()
        );
        let head = with_conn!(&mut *self, |c| {
            sqlx::query_as::<_, (i64, Option<String>)>(&sql)
                .bind(agent_id)
                .fetch_optional(c)
                .await?
        });
        Ok(match head {
            None | Some((0, _)) => Some(QueueOutcome::UnknownAgent),
            Some((_, Some(_))) => Some(QueueOutcome::DeletedAgent),
            Some(_) => None,
        })
    }

    async fn insert_attachments(
        &mut self,
        delivery_id: &str,
        attachments: &[StoredAttachment],
    ) -> Result<()> {
        for (idx, a) in attachments.iter().enumerate() {
            with_conn!(&mut *self, |c| {
                sqlx::query(
                    "INSERT INTO trigger_attachments (delivery_id, idx, path, filename, content_type, data) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(delivery_id)
                .bind(idx as i64)
                .bind(&a.path)
                .bind(&a.filename)
                .bind(&a.content_type)
                .bind(&a.base64)
                .execute(c)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }

    async fn set_delivery_fields(&mut self, f: &DeliveryFields<'_>) -> Result<()> {
        with_conn!(&mut *self, |c| {
            sqlx::query(
                "UPDATE trigger_deliveries SET conversation_key = $2, context = $3, prompt = $4, \
                 auto_submitted = $5 WHERE delivery_id = $1",
            )
            .bind(f.delivery_id)
            .bind(f.conversation_key)
            .bind(f.context)
            .bind(f.prompt)
            .bind(i64::from(f.auto_submitted))
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Queues the session of a delivery or burst in its conversation, files the conversation's key, and
    /// points the burst's deliveries at the session (the caller has set their status).
    pub(super) async fn queue_for(&mut self, burst: &Burst<'_>) -> Result<QueueOutcome> {
        let created_at = crate::time::rfc3339_ms(burst.now_ms);
        let mut outcome = self
            .insert_burst(burst, burst.conversation.as_deref(), &created_at)
            .await?;
        if let (QueueOutcome::UnknownConversation, Some(gone)) = (&outcome, burst.conversation.as_deref()) {
            // Retention deleted the thread's conversation (idle longer than `--retention`) after its key was
            // read: the thread starts a new conversation, filed under its key instead.
            self.forget_conversation(burst.trigger_id, gone).await?;
            outcome = self.insert_burst(burst, None, &created_at).await?;
        }
        let QueueOutcome::Queued(row) = &outcome else {
            return Ok(outcome);
        };
        if let Some(key) = burst.file_under {
            self.file_conversation(burst.trigger_id, key, &row.conversation_id, &created_at)
                .await?;
        }
        Ok(outcome)
    }

    /// Queues the burst's session in `conversation` (`None`: a new one).
    async fn insert_burst(
        &mut self,
        burst: &Burst<'_>,
        conversation: Option<&str>,
        created_at: &str,
    ) -> Result<QueueOutcome> {
        let request = QueueSessionRequest {
            prompt: burst.prompt.to_owned(),
            session_id: None,
            conversation_id: conversation.and_then(|c| SessionId::parse(c).ok()),
            env: Default::default(),
            files: burst.files.clone(),
        };
        let stored = serde_json::to_string(&request).expect("a request serialises");
        self.insert_queued(&NewQueued {
            session_id: burst.session_id,
            agent_id: burst.agent_id,
            conversation_id: conversation,
            request: &stored,
            now_ms: burst.now_ms,
            created_at,
        })
        .await
    }

    /// Sets `status = queued` and the session on deliveries.
    pub(super) async fn mark_queued(&mut self, delivery_ids: &[String], session_id: &str) -> Result<()> {
        let list = super::backend::json_list(delivery_ids)?;
        let sql = format!(
            "UPDATE trigger_deliveries SET status = 'queued', session_id = $1 WHERE delivery_id IN ({})",
            self.json_texts("$2")
        );
        with_conn!(&mut *self, |c| {
            sqlx::query(&sql)
                .bind(session_id)
                .bind(&list)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The answer owed for `session_id`, `pending` until the reply worker sends it.
    pub(super) async fn insert_reply(
        &mut self,
        session_id: &str,
        trigger_id: &str,
        delivery_id: &str,
    ) -> Result<()> {
        with_conn!(&mut *self, |c| {
            sqlx::query(
                "INSERT INTO trigger_replies (session_id, trigger_id, delivery_id, status) \
                 VALUES ($1, $2, $3, 'pending') ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(session_id)
            .bind(trigger_id)
            .bind(delivery_id)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}
