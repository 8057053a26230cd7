//! `POST /hooks/{triggerId}` (DESIGN §10): a provider's request, verified over the raw body, normalised,
//! rendered into a prompt and stored with its session before the answer. Outside the bearer-token layer:
//! the signature is the credential.
//!
//! Order matters: nothing is parsed before the signature verified, a disabled trigger is told only to a
//! signed request, and every request that names a trigger leaves a delivery row, whatever became of it
//! (refused and oversized ones without their body).

use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use protocol::DeliveryStatus;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::{Acceptance, Accepted, QueueOutcome, Received, StoredAttachment};
use crate::time;
use crate::triggers::config::{TriggerConfig, config};
use crate::triggers::intake::{self, Outcome};
use crate::triggers::verify::Inbound;
use crate::triggers::{inbound, keys, signature_fields, template};

/// Settings of the hook route (`agentctl serve` flags).
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// `--public-url`: the base URL providers call (Twilio signs it); `http://<Host>` when unset.
    pub public_url: Option<String>,
    /// `--hook-body-max`: the largest body read; a larger one is answered 413 and recorded.
    pub body_max: usize,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            body_max: 16 * 1024 * 1024,
        }
    }
}

/// An oversized body is read and dropped up to this many times the bound, so the provider reads the 413.
const DRAIN_FACTOR: usize = 4;

pub async fn hook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(row) = state.store.trigger(&id).await? else {
        return Err(ApiError::not_found(format!("trigger {id} not found")));
    };
    let cfg = config(&row, state.dispatch.secrets_key.as_ref())?;
    let channel = intake::channel(cfg.trigger.kind, cfg.trigger.verify.scheme);
    let received_ms = time::now_ms();
    let received_at = time::rfc3339_ms(received_ms);
    let delivery_id = uuid::Uuid::new_v4().to_string();
    let received = Received {
        delivery_id: &delivery_id,
        trigger_id: &row.trigger_id,
        received_at: &received_at,
        received_ms,
        provider_id: None,
        verified: false,
    };
    let outcome = match read_bounded(body, state.hooks.body_max).await {
        Err(ReadError::TooLarge) => {
            let why = intake::too_large(state.hooks.body_max);
            state
                .store
                .record_delivery(&received, DeliveryStatus::Invalid, Some(&why))
                .await?;
            Outcome::TooLarge(why)
        }
        Err(ReadError::Broken(why)) => return Err(ApiError::bad_request(why)),
        Ok(body) => intake(&state, &cfg, &received, &uri, &headers, &body).await?,
    };
    if let Outcome::Accepted { session_id, .. } = &outcome {
        tracing::info!(trigger_id = %row.trigger_id, delivery_id = %delivery_id, session_id = ?session_id, "delivery accepted");
    } else {
        tracing::info!(trigger_id = %row.trigger_id, delivery_id = %delivery_id, outcome = ?outcome, "delivery not started");
    }
    let answer = intake::answer(channel, &outcome);
    Ok((
        answer.status,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response())
}

/// Everything after the body is read: verify, normalise, render, store.
async fn intake(
    state: &AppState,
    cfg: &TriggerConfig,
    base: &Received<'_>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Outcome, ApiError> {
    let store = &state.store;
    let mut received = *base;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = intake::hook_url(state.hooks.public_url.as_deref(), host, path_and_query);
    let request = Inbound {
        body,
        headers,
        url: &url,
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok());
    let verified =
        match signature_fields::verify(&cfg.verify, &request, content_type, SystemTime::now()).await {
            Ok(verified) => verified,
            Err(refusal) => {
                let why = refusal.to_string();
                store
                    .record_delivery(&received, DeliveryStatus::Refused, Some(&why))
                    .await?;
                return Ok(Outcome::Refused(why));
            }
        };
    received.verified = true;
    if !cfg.trigger.enabled {
        store
            .record_delivery(&received, DeliveryStatus::Disabled, None)
            .await?;
        return Ok(Outcome::Disabled);
    }
    let inbound_request = inbound::Request {
        body,
        content_type,
        headers,
        query: uri.query().unwrap_or(""),
    };
    let kind = intake::inbound_kind(cfg.trigger.kind);
    let normalised = match inbound::normalise(kind, &inbound_request, &inbound::Limits::default()).await {
        Ok(normalised) => normalised,
        Err(invalid) => return invalid_delivery(state, &received, invalid.to_string()).await,
    };
    let dedupe = intake::dedupe_key(verified.provider_id, normalised.provider_id.clone());
    received.provider_id = dedupe.as_deref();
    let prompt = match template::render(&cfg.trigger.prompt, &normalised.context) {
        Ok(prompt) => prompt,
        Err(e) => return invalid_delivery(state, &received, format!("prompt template: {e}")).await,
    };
    let template_key = match &cfg.trigger.conversation {
        Some(source) => match template::render(source, &normalised.context) {
            Ok(key) => Some(key),
            Err(e) => {
                return invalid_delivery(state, &received, format!("conversation template: {e}")).await;
            }
        },
        None => None,
    };
    let candidates = keys::candidates(template_key.as_deref(), &normalised.thread);
    let attachments: Vec<StoredAttachment> = normalised
        .attachments
        .iter()
        .map(|a| StoredAttachment {
            path: a.path.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            base64: base64::engine::general_purpose::STANDARD.encode(&a.data),
        })
        .collect();
    let context = normalised.context.to_string();
    let session_id = uuid::Uuid::new_v4().to_string();
    let accepted = Accepted {
        received,
        agent_id: cfg.trigger.agent_id.as_str(),
        context: &context,
        prompt: &prompt,
        auto_submitted: normalised.auto_submitted,
        candidates: &candidates,
        attachments: &attachments,
        debounce: cfg.trigger.debounce_seconds > 0,
        reply: cfg.trigger.reply.is_some(),
        session_id: &session_id,
        now_ms: received.received_ms,
    };
    let delivery_id = received.delivery_id.to_owned();
    Ok(match store.accept_delivery(&accepted).await? {
        Acceptance::Queued(row) => {
            state.dispatch.bell.ring().await;
            Outcome::Accepted {
                delivery_id,
                session_id: Some(row.session_id),
                status: DeliveryStatus::Queued,
            }
        }
        Acceptance::Waiting => Outcome::Accepted {
            delivery_id,
            session_id: None,
            status: DeliveryStatus::Waiting,
        },
        Acceptance::Duplicate => Outcome::Duplicate { delivery_id },
        Acceptance::NotQueued(QueueOutcome::DeletedAgent | QueueOutcome::UnknownAgent) => {
            let why = format!(
                "agent {} was deleted: it takes no new sessions",
                cfg.trigger.agent_id
            );
            // Recorded without the provider id: the agent may come back, and a redelivery then counts.
            received.provider_id = None;
            store
                .record_delivery(&received, DeliveryStatus::Invalid, Some(&why))
                .await?;
            Outcome::Gone(why)
        }
        Acceptance::NotQueued(other) => {
            let why = match other {
                QueueOutcome::ForeignConversation(owner) => format!(
                    "the conversation of this thread belongs to agent {owner}, not {}: the trigger's agent changed",
                    cfg.trigger.agent_id
                ),
                other => format!("the session could not be queued: {other:?}"),
            };
            received.provider_id = None;
            store
                .record_delivery(&received, DeliveryStatus::Invalid, Some(&why))
                .await?;
            Outcome::Invalid(why)
        }
    })
}

/// Records a verified delivery whose body or prompt could not be made; the provider is answered 400.
async fn invalid_delivery(
    state: &AppState,
    received: &Received<'_>,
    why: String,
) -> Result<Outcome, ApiError> {
    state
        .store
        .record_delivery(received, DeliveryStatus::Invalid, Some(&why))
        .await?;
    Ok(Outcome::Invalid(why))
}

enum ReadError {
    TooLarge,
    Broken(String),
}

/// Reads at most `max` bytes; past it, drains a bounded amount more so the 413 is read, not a reset.
async fn read_bounded(body: Body, max: usize) -> Result<Bytes, ReadError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|e| ReadError::Broken(format!("could not read the request body: {e}")))?;
        total += chunk.len();
        if total <= max {
            bytes.extend_from_slice(&chunk);
        } else if total > max.saturating_mul(DRAIN_FACTOR) {
            break;
        }
    }
    if total > max {
        return Err(ReadError::TooLarge);
    }
    Ok(Bytes::from(bytes))
}
