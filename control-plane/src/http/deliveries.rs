//! A trigger's deliveries (`GET /api/v1/triggers/{id}/deliveries`), replaying one
//! (`POST /api/v1/deliveries/{id}/replay`) and previewing a trigger's templates against a sample
//! (`POST /api/v1/triggers/{id}/preview`: no verification, nothing stored).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::{
    Delivery, DeliveryList, DeliveryReply, PreviewRequest, PreviewResponse, ReplyStatus, SessionId,
};
use serde::Deserialize;

use crate::http::error::ApiError;
use crate::http::{AppState, parse_json, read_body};
use crate::store::{DeliveryRow, StoreError};
use crate::triggers::config::config;
use crate::triggers::replay::{self, ReplayError};
use crate::triggers::{inbound, intake, keys, template};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be 1..={MAX_LIMIT} (got {limit})"
        )));
    }
    let before = match &page.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("cursor: {c:?} is not a cursor of this list")))?,
        ),
    };
    let mut rows = state.store.deliveries(&id, before, limit + 1).await?;
    if rows.is_empty() && before.is_none() && state.store.trigger(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("trigger {id} not found")));
    }
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(DeliveryList {
        deliveries: rows.into_iter().map(delivery).collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

fn delivery(row: DeliveryRow) -> Result<Delivery, StoreError> {
    let reply = row
        .reply
        .map(|r| -> Result<DeliveryReply, StoreError> {
            Ok(DeliveryReply {
                status: r
                    .status
                    .parse::<ReplyStatus>()
                    .map_err(|e| StoreError::Corrupt(format!("trigger_replies: {e}")))?,
                attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                error: r.error,
                sent_at: r.sent_at,
            })
        })
        .transpose()?;
    Ok(Delivery {
        duplicate: row.status == protocol::DeliveryStatus::Duplicate,
        session_id: row.session_id.map(session_id).transpose()?,
        delivery_id: row.delivery_id,
        received_at: row.received_at,
        provider_id: row.provider_id,
        verified: row.verified,
        status: row.status,
        error: row.error,
        reply,
    })
}

fn session_id(s: String) -> Result<SessionId, StoreError> {
    SessionId::parse(s.clone()).map_err(|e| StoreError::Corrupt(format!("session {s}: {e}")))
}

pub async fn replay(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match replay::replay(&state.store, &state.dispatch, &id).await {
        Ok(answer) => Ok((StatusCode::ACCEPTED, Json(answer)).into_response()),
        Err(ReplayError::NotFound(why)) => Err(ApiError::not_found(why)),
        Err(ReplayError::Conflict(why)) => Err(ApiError::new(StatusCode::CONFLICT, "conflict", why)),
        Err(ReplayError::Store(e)) => Err(e.into()),
    }
}

pub async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PreviewResponse>, ApiError> {
    let Some(row) = state.store.trigger(&id).await? else {
        return Err(ApiError::not_found(format!("trigger {id} not found")));
    };
    let cfg = config(&row, state.dispatch.secrets_key.as_ref())?;
    let body = read_body(&headers, body).await?;
    let sample: PreviewRequest = parse_json(&body)?;
    let raw = match &sample.body {
        serde_json::Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let mut sample_headers = HeaderMap::new();
    for (name, value) in &sample.headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| ApiError::bad_request(format!("headers: {name:?} is not a header name")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| ApiError::bad_request(format!("headers.{name}: not a header value")))?;
        sample_headers.append(name, value);
    }
    let content_type = sample_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let request = inbound::Request {
        body: &raw,
        content_type,
        headers: &sample_headers,
        query: sample.query.as_deref().unwrap_or(""),
    };
    let kind = intake::inbound_kind(cfg.trigger.kind);
    let normalised = inbound::normalise(kind, &request, &inbound::Limits::default())
        .await
        .map_err(|e| ApiError::bad_request(format!("body: {e}")))?;
    let prompt = template::render(&cfg.trigger.prompt, &normalised.context)
        .map_err(|e| ApiError::bad_request(format!("prompt: {e}")))?;
    let template_key = match &cfg.trigger.conversation {
        Some(source) => Some(
            template::render(source, &normalised.context)
                .map_err(|e| ApiError::bad_request(format!("conversation: {e}")))?,
        ),
        None => None,
    };
    // The key a new thread is filed under: the template's, else the thread's own.
    let conversation_key = keys::candidates(template_key.as_deref(), &normalised.thread).pop();
    Ok(Json(PreviewResponse {
        prompt,
        conversation_key,
    }))
}
