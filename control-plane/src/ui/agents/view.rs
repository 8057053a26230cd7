//! The agents' read-only pages, deletion and the run form: `GET /agents`, `GET /agents/{id}`,
//! `GET /agents/{id}/versions/{n}`, `GET /agents/{id}/diff?from=&to=`, `GET|POST /agents/{id}/delete`,
//! `POST /agents/{id}/run`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use protocol::{Agent, QueueSessionRequest, SecretField, SessionId};
use serde::Deserialize;

use super::diff::{self, Line};
use super::{agent_id, current, row};
use crate::agents::definition;
use crate::agents::queue::{self, QueueError, Queued};
use crate::http::AppState;
use crate::time;
use crate::ui::auth::Viewer;
use crate::ui::form::Posted;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};

struct Row {
    id: String,
    description: String,
    model: String,
    version: u32,
    updated: String,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    let rows = state.store.agents().await?;
    let now = time::now_ms();
    let rows = rows
        .iter()
        .map(|row| {
            let agent = definition::stored(row)?;
            Ok(Row {
                id: row.agent_id.clone(),
                description: agent.description.unwrap_or_default(),
                model: agent.model.unwrap_or_default(),
                version: row.version,
                updated: time::parse_rfc3339_ms(&row.created_at)
                    .map_or_else(|| format::timestamp(&row.created_at), |ms| format::ago(now, ms)),
            })
        })
        .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
    render(&ListPage {
        layout: Layout::new(&viewer, "Agents", Section::Agents),
        rows,
    })
}

/// A definition as the agent page and a version's page show it.
struct Summary {
    json: String,
    tools: String,
    disallowed: String,
    skills: Vec<String>,
    files: Vec<String>,
    env: Vec<(String, String)>,
    /// Name and when it was set: never a value.
    secrets: Vec<(String, String)>,
    mcp: String,
    selector: String,
    timeout: String,
}

fn summary(agent: &Agent) -> Summary {
    let mut shown = agent.clone();
    shown.secrets = None;
    Summary {
        json: serde_json::to_string_pretty(&shown).expect("a definition serialises"),
        tools: agent
            .allowed_tools
            .as_ref()
            .map(|t| t.join(", "))
            .unwrap_or_default(),
        disallowed: agent
            .disallowed_tools
            .as_ref()
            .map(|t| t.join(", "))
            .unwrap_or_default(),
        skills: agent.skills.iter().map(|s| s.name.clone()).collect(),
        files: agent.files.iter().map(|f| f.path.clone()).collect(),
        env: agent.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        secrets: agent
            .secrets
            .iter()
            .flatten()
            .map(|(name, field)| {
                let when = match field {
                    SecretField::State(s) => s.updated_at.as_deref().map(format::timestamp),
                    SecretField::Value(_) => None,
                };
                (name.clone(), when.unwrap_or_default())
            })
            .collect(),
        mcp: agent
            .mcp_servers
            .as_ref()
            .map(|m| serde_json::to_string_pretty(m).expect("JSON values serialise"))
            .unwrap_or_default(),
        selector: agent
            .runtime_selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        timeout: agent
            .timeout_seconds
            .map_or_else(|| "the server's default".to_owned(), |s| format!("{s} s")),
    }
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage {
    layout: Layout,
    id: String,
    agent: Agent,
    summary: Summary,
    /// Newest first: version and when it was made.
    versions: Vec<(u32, String)>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let agent = current(&state, &id).await?;
    let (mut versions, _) = state
        .store
        .agent_versions(id.as_str())
        .await?
        .ok_or_else(|| UiError::not_found(format!("agent {id} not found")))?;
    versions.reverse();
    render(&AgentPage {
        layout: Layout::new(&viewer, id.as_str(), Section::Agents),
        id: id.to_string(),
        summary: summary(&agent),
        agent,
        versions: versions
            .into_iter()
            .map(|(v, at)| (v, format::timestamp(&at)))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "agent_version.html")]
struct VersionPage {
    layout: Layout,
    id: String,
    version: u32,
    created: String,
    summary: Summary,
}

pub async fn version(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let row = row(&state, &id, Some(version)).await?;
    let agent = definition::answer(&row)?;
    render(&VersionPage {
        layout: Layout::new(&viewer, format!("{id} version {version}"), Section::Agents),
        id: id.to_string(),
        version,
        created: format::timestamp(&row.created_at),
        summary: summary(&agent),
    })
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: u32,
    to: u32,
}

#[derive(Template)]
#[template(path = "agent_diff.html")]
struct DiffPage {
    layout: Layout,
    id: String,
    from: u32,
    to: u32,
    lines: Vec<Line>,
}

/// A version's definition as the diff compares it: pretty JSON, without the fields every version changes.
async fn diffable(state: &AppState, id: &protocol::AgentId, version: u32) -> Result<String, UiError> {
    let row = row(state, id, Some(version)).await?;
    let mut agent = definition::answer(&row)?;
    agent.version = None;
    agent.updated_at = None;
    Ok(serde_json::to_string_pretty(&agent).expect("a definition serialises") + "\n")
}

pub async fn diff(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let from = diffable(&state, &id, query.from).await?;
    let to = diffable(&state, &id, query.to).await?;
    render(&DiffPage {
        layout: Layout::new(
            &viewer,
            format!("{id}: version {} → {}", query.from, query.to),
            Section::Agents,
        ),
        id: id.to_string(),
        from: query.from,
        to: query.to,
        lines: diff::lines(&from, &to),
    })
}

#[derive(Template)]
#[template(path = "agent_delete.html")]
struct DeletePage {
    layout: Layout,
    id: String,
}

/// The confirmation step before a delete (a page, so it works without JavaScript).
pub async fn confirm_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    current(&state, &id).await?;
    render(&DeletePage {
        layout: Layout::new(&viewer, format!("Delete {id}"), Section::Agents),
        id: id.to_string(),
    })
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let now = time::rfc3339_ms(time::now_ms());
    if !state.store.delete_agent(id.as_str(), &now).await? {
        return Err(UiError::not_found(format!("agent {id} not found")));
    }
    tracing::info!(agent_id = %id, "agent deleted");
    Ok(Redirect::to("/agents").into_response())
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    prompt: String,
    /// A conversation of this agent to continue; empty for a new one.
    #[serde(default, rename = "conversationId")]
    conversation_id: String,
}

pub async fn run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { form, .. }: Posted<RunForm>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let conversation_id = match form.conversation_id.trim() {
        "" => None,
        c => Some(
            SessionId::parse(c.to_owned())
                .map_err(|e| UiError::bad_request(format!("conversationId: {e} (got {c:?})")))?,
        ),
    };
    let request = QueueSessionRequest {
        prompt: form.prompt.replace("\r\n", "\n"),
        session_id: None,
        conversation_id,
        env: Default::default(),
        files: Vec::new(),
    };
    let queued = match queue::queue(&state.store, &state.dispatch, &id, request).await {
        Ok(Queued::New(q) | Queued::Existing(q)) => q,
        Err(QueueError::Invalid(e)) => return Err(UiError::bad_request(e.to_string())),
        Err(QueueError::NotFound(why)) => return Err(UiError::not_found(why)),
        Err(QueueError::Conflict(why)) => return Err(UiError::new(StatusCode::CONFLICT, why)),
        Err(QueueError::Store(e)) => return Err(e.into()),
    };
    Ok(Redirect::to(&format!("/sessions/{}", queued.session_id)).into_response())
}
