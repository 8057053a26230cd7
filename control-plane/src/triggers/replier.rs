//! The reply worker (DESIGN §10 "Replies"): a task of every `agentctl serve` replica that sends the answer
//! owed for each session of a trigger with `reply` once the session is final. The rows are the state
//! (`store/replies.rs`): a claim leases a reply for [`LEASE`], the send runs outside any transaction, and
//! the outcome is written after it, so a crash mid-send retries the reply when the lease runs out, and two
//! replicas never send one reply at once. A retry is recognisably the same message downstream: the
//! webhook's `webhook-id` and a mail's Message-ID are derived from the reply, not drawn.
//!
//! The decisions are pure functions ([`before_sending`], [`after_sending`], [`keys_to_file`]) with table
//! tests; [`run`] and `attempt` only fetch, compose, send and record.

use std::time::{Duration, SystemTime};

use protocol::{ReplyKind, SessionStatus};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::config::config;
use super::reply::{self, Answer, Outgoing, Providers, ReplyConfig, SendError, Sent, token};
use crate::dispatch::Bell;
use crate::secrets::SecretsKey;
use crate::store::{DueReply, ReplyOutcome, Store, StoreError};
use crate::time;

/// How often due replies are looked for when nothing wakes the worker earlier.
pub const TICK: Duration = Duration::from_millis(500);
/// Rounds woken by the queue bell (a session finished) are at least this far apart.
const MIN_GAP: Duration = Duration::from_millis(100);
/// Replies claimed and sent (concurrently) per round.
const BATCH: u32 = 16;
/// How long a claimed reply is this worker's: longer than one send may take (30 s), so a live worker
/// never has its reply taken over, and short enough that a crashed one's replies go out soon.
pub const LEASE: Duration = Duration::from_secs(60);

/// The worker's settings (`agentctl serve` flags).
#[derive(Debug, Clone)]
pub struct ReplierSettings {
    /// `--twilio-api-url`, `--mailgun-api-url`, `--sendgrid-api-url`.
    pub providers: Providers,
    /// `--reply-backoff-base` (hidden): the first retry's wait.
    pub backoff_base: Duration,
}

impl Default for ReplierSettings {
    fn default() -> Self {
        Self {
            providers: Providers::default(),
            backoff_base: reply::BACKOFF_BASE,
        }
    }
}

/// What the worker works with.
struct Worker {
    store: Store,
    secrets_key: Option<SecretsKey>,
    settings: ReplierSettings,
    client: reqwest::Client,
}

/// Sends due replies every [`TICK`], and soon after the queue bell rings, until `shutdown`.
pub async fn run(
    store: Store,
    bell: Bell,
    secrets_key: Option<SecretsKey>,
    settings: ReplierSettings,
    shutdown: CancellationToken,
) {
    let client = reqwest::Client::builder()
        // A provider's API answers where it was asked; a redirect is a refusal (3xx), never followed to
        // a host the credentials were not meant for.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client without TLS options builds");
    let worker = Worker {
        store,
        secrets_key,
        settings,
        client,
    };
    let mut rung = bell.subscribe();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            changed = rung.changed() => {
                if changed.is_err() {
                    return;
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(MIN_GAP) => {}
                }
            }
        }
        // Shutdown does not wait for a slow provider: a reply cut off mid-send stays leased and pending, and
        // is sent again once the lease runs out, as after a crash.
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = worker.drain() => {}
        }
    }
}

impl Worker {
    /// Rounds until one claims less than a full batch (a full one may mean more are due).
    async fn drain(&self) {
        loop {
            match self.round().await {
                Ok(claimed) if claimed == BATCH as usize => continue,
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(%error, "send trigger replies");
                    return;
                }
            }
        }
    }

    /// Claims a batch of due replies and attempts each; answers how many were claimed.
    async fn round(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .claim_replies(time::now_ms(), LEASE.as_millis() as i64, BATCH)
            .await?;
        let attempts = due.iter().map(|reply| async move {
            let outcome = self.attempt(reply).await?;
            log(reply, &outcome);
            self.store.finish_reply(&reply.session_id, &outcome).await
        });
        for result in futures_util::future::join_all(attempts).await {
            // One reply's trouble with the store leaves it leased; it is tried again after the lease.
            if let Err(error) = result {
                tracing::warn!(%error, "record a trigger reply");
            }
        }
        Ok(due.len())
    }

    /// One attempt at `due`: what became of it.
    async fn attempt(&self, due: &DueReply) -> Result<ReplyOutcome, StoreError> {
        if let Some(outcome) = before_sending(due) {
            return Ok(outcome);
        }
        let failed = |error: String| ReplyOutcome::Failed {
            attempts: due.attempts,
            error,
        };
        let Some(row) = self.store.trigger(&due.trigger_id).await? else {
            return Ok(ReplyOutcome::Skipped {
                error: format!("trigger {} was deleted", due.trigger_id),
            });
        };
        let cfg = match config(&row, self.secrets_key.as_ref()) {
            Ok(cfg) => cfg,
            Err(error) => return Ok(failed(error.to_string())),
        };
        let Some(reply) = &cfg.trigger.reply else {
            return Ok(ReplyOutcome::Skipped {
                error: "the trigger no longer replies".to_owned(),
            });
        };
        let context: Value = match due.context.as_deref().map(serde_json::from_str).transpose() {
            Ok(context) => context.unwrap_or(Value::Null),
            Err(error) => return Ok(failed(format!("the delivery's stored context: {error}"))),
        };
        let reply_config = ReplyConfig {
            kind: reply.kind,
            url: reply.url.clone(),
            from: reply.from.clone(),
            credentials: cfg.reply_credentials.clone(),
        };
        let reply_token = match (reply.kind, &self.secrets_key) {
            (ReplyKind::Mailgun | ReplyKind::Sendgrid, Some(key)) => Some(token::mint(
                &key.derive(token::KEY_LABEL),
                &due.trigger_id,
                &due.conversation_id,
            )),
            _ => None,
        };
        let answer = Answer {
            trigger_id: &due.trigger_id,
            delivery_id: &due.delivery_id,
            session_id: &due.session_id,
            conversation_id: &due.conversation_id,
            text: due.result_text.as_deref().unwrap_or_default(),
            context: &context,
            reply_token: reply_token.as_deref(),
        };
        let outgoing = match reply::compose(
            &reply_config,
            &self.settings.providers,
            &answer,
            SystemTime::now(),
        ) {
            Ok(outgoing) => outgoing,
            Err(unsendable) => return Ok(failed(unsendable.to_string())),
        };
        // Filed before the send: an answer to the reply can arrive only after it, and then finds them.
        let keys = keys_to_file(&outgoing, reply_token.as_deref());
        if !keys.is_empty() {
            self.store
                .file_conversation_keys(
                    &due.trigger_id,
                    &keys,
                    &due.conversation_id,
                    &time::rfc3339_ms(time::now_ms()),
                )
                .await?;
        }
        let sent = reply::send(&self.client, &outgoing).await;
        Ok(after_sending(
            due.attempts,
            &outgoing,
            sent,
            self.settings.backoff_base,
            jitter(),
            time::now_ms(),
        ))
    }
}

/// The outcome decided before anything is composed: a session that did not succeed is not answered, and
/// one without a result text has nothing to answer with (the providers refuse an empty message).
pub fn before_sending(due: &DueReply) -> Option<ReplyOutcome> {
    let error = if due.session_status != SessionStatus::Succeeded {
        format!("the session ended {}", due.session_status)
    } else if due
        .result_text
        .as_deref()
        .is_none_or(|text| text.trim().is_empty())
    {
        "the session's result is empty: nothing to answer".to_owned()
    } else {
        return None;
    };
    Some(ReplyOutcome::Skipped { error })
}

/// The outcome of the attempt after `attempts_before` others: sent; another attempt after the backoff
/// (or the provider's `Retry-After`) while the error is retryable and attempts remain; else failed.
pub fn after_sending(
    attempts_before: u32,
    outgoing: &Outgoing,
    sent: Result<Sent, SendError>,
    backoff_base: Duration,
    jitter: f64,
    now_ms: i64,
) -> ReplyOutcome {
    let attempts = attempts_before.saturating_add(1);
    match sent {
        Ok(sent) => ReplyOutcome::Sent {
            attempts,
            sent_at: time::rfc3339_ms(now_ms),
            message_id: outgoing.message_id.clone().or(sent.provider_id),
        },
        Err(error) if error.retryable && attempts < reply::MAX_ATTEMPTS => ReplyOutcome::Retry {
            attempts,
            next_ms: now_ms + error.delay(backoff_base, attempts, jitter).as_millis() as i64,
            error: error.message,
        },
        Err(error) => ReplyOutcome::Failed {
            attempts,
            error: error.message,
        },
    }
}

/// The conversation keys a reply hands out: its Message-ID (`msg:<id>`, without angle brackets, as the
/// hook files inbound ids), so a mail with `In-Reply-To` it continues the conversation, and the reply
/// token of its `Reply-To` address (`token:<t>`).
pub fn keys_to_file(outgoing: &Outgoing, reply_token: Option<&str>) -> Vec<String> {
    let mut keys: Vec<String> = outgoing
        .message_id
        .iter()
        .map(|id| format!("msg:{}", id.trim_start_matches('<').trim_end_matches('>')))
        .collect();
    keys.extend(reply_token.map(token::key));
    keys
}

/// A uniform draw in 0..1 for the backoff's jitter, from the random bits of a v4 UUID (53 of them, all an
/// `f64` holds).
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

fn log(due: &DueReply, outcome: &ReplyOutcome) {
    let (session_id, trigger_id) = (&due.session_id, &due.trigger_id);
    match outcome {
        ReplyOutcome::Sent { attempts, .. } => {
            tracing::info!(%session_id, %trigger_id, attempts, "reply sent");
        }
        ReplyOutcome::Retry { attempts, error, .. } => {
            tracing::warn!(%session_id, %trigger_id, attempts, %error, "reply not sent: retrying")
        }
        ReplyOutcome::Failed { attempts, error } => {
            tracing::warn!(%session_id, %trigger_id, attempts, %error, "reply failed");
        }
        ReplyOutcome::Skipped { error } => {
            tracing::info!(%session_id, %trigger_id, %error, "reply skipped");
        }
    }
}

#[cfg(test)]
mod tests;
