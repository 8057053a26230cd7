//! `/api/v1/agents…`: agent definitions (DESIGN.md §9).
//!
//! A deleted agent answers 404 on `GET /api/v1/agents/{id}` and takes no new session, while its history
//! stays readable: `GET /api/v1/agents/{id}?version=N` and `/versions` still answer (with `deletedAt` in
//! the versions list), and so do its sessions. A PUT after a delete makes the next version.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{Agent, AgentId, AgentList, AgentVersion, AgentVersions};
use serde::Deserialize;

use crate::agents::{definition, put};
use crate::http::error::ApiError;
use crate::http::query::Params;
use crate::http::{AppState, read_json};
use crate::store::PutOutcome;
use crate::time;

/// Largest definition: what a supervisor takes as one `POST /execute` body (its `--max-body` default), so
/// every job of the agent fits.
pub const MAX_DEFINITION: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionQuery {
    version: Option<u32>,
}

pub(crate) fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).map_err(|e| ApiError::bad_request(format!("id: {e} (got {raw:?})")))
}

pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: Agent = read_json(&headers, body, MAX_DEFINITION, "an agent definition").await?;
    let key = state.dispatch.secrets_key.as_ref();
    let registry = &state.dispatch.npm_registry;
    let (_, outcome) = put::put(&state.store, key, registry, &id, body).await?;
    let (status, row) = match outcome {
        PutOutcome::Created(row) => (StatusCode::CREATED, row),
        PutOutcome::Replaced(row) | PutOutcome::Unchanged(row) => (StatusCode::OK, row),
    };
    Ok((status, Json(definition::answer(&row)?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params<VersionQuery>,
) -> Result<Json<Agent>, ApiError> {
    let id = agent_id(&id)?;
    let row = state
        .store
        .agent(id.as_str(), query.version)
        .await?
        .ok_or_else(|| match query.version {
            Some(v) => ApiError::not_found(format!("agent {id} has no version {v}")),
            None => ApiError::not_found(format!("agent {id} not found")),
        })?;
    if query.version.is_none() && row.deleted_at.is_some() {
        return Err(ApiError::not_found(format!(
            "agent {id} was deleted; its versions stay readable (?version=N, /versions)"
        )));
    }
    Ok(Json(definition::answer(&row)?))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<AgentList>, ApiError> {
    let rows = state.store.agents().await?;
    let agents = rows
        .iter()
        .map(definition::answer)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(AgentList { agents }))
}

pub async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AgentVersions>, ApiError> {
    let id = agent_id(&id)?;
    let (versions, deleted_at) = state
        .store
        .agent_versions(id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("agent {id} not found")))?;
    Ok(Json(AgentVersions {
        agent_id: id,
        deleted_at,
        versions: versions
            .into_iter()
            .map(|(version, created_at)| AgentVersion { version, created_at })
            .collect(),
    }))
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = agent_id(&id)?;
    let now = time::rfc3339_ms(time::now_ms());
    if !state.store.delete_agent(id.as_str(), &now).await? {
        return Err(ApiError::not_found(format!("agent {id} not found")));
    }
    tracing::info!(agent_id = %id, "agent deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
