//! `/api/v1/triggers…`: trigger definitions (DESIGN.md §10). Their signing secrets and reply credentials
//! are write-only: answers hold `{"set": true, "updatedAt"}` in their place.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{Trigger, TriggerId, TriggerList};

use crate::http::error::ApiError;
use crate::http::{AppState, read_json};
use crate::store::TriggerPut;
use crate::triggers::{definition, put};

/// Largest definition: two templates of at most 64 KiB each, with room for the rest.
pub const MAX_DEFINITION: usize = 256 * 1024;

pub(crate) fn trigger_id(raw: &str) -> Result<TriggerId, ApiError> {
    TriggerId::parse(raw).map_err(|e| ApiError::bad_request(format!("id: {e} (got {raw:?})")))
}

pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: Trigger = read_json(&headers, body, MAX_DEFINITION, "a trigger definition").await?;
    let key = state.dispatch.secrets_key.as_ref();
    let (_, outcome) = put::put(&state.store, key, &id, body).await?;
    let (status, row) = match outcome {
        TriggerPut::Created(row) => (StatusCode::CREATED, row),
        TriggerPut::Replaced(row) | TriggerPut::Unchanged(row) => (StatusCode::OK, row),
        TriggerPut::UnknownAgent(agent) => return Err(ApiError::not_found(put::unknown_agent(&agent))),
    };
    Ok((status, Json(definition::answer(&row)?)).into_response())
}

pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Trigger>, ApiError> {
    let id = trigger_id(&id)?;
    let row = state
        .store
        .trigger(id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("trigger {id} not found")))?;
    Ok(Json(definition::answer(&row)?))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<TriggerList>, ApiError> {
    let rows = state.store.triggers().await?;
    let triggers = rows
        .iter()
        .map(definition::answer)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(TriggerList { triggers }))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = trigger_id(&id)?;
    if !state.store.delete_trigger(id.as_str()).await? {
        return Err(ApiError::not_found(format!("trigger {id} not found")));
    }
    tracing::info!(trigger_id = %id, "trigger deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
