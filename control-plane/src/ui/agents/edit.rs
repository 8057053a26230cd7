//! The agent form: `GET /agents/new` + `POST /agents` (create), `GET /agents/{id}/edit` + `POST /agents/{id}`
//! (edit: the next version; an unchanged form makes none, as the PUT does). A refused form is shown again
//! (400) with what was typed, except secret values, and the error naming the field.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use protocol::validate::{PERMISSION_MODES, RequestError};
use protocol::{Agent, FileEncoding};

use super::form::Fields;
use super::{agent_id, current};
use crate::agents::put;
use crate::http::AppState;
use crate::store::PutError;
use crate::ui::form::Posted;
use crate::ui::page::{Layout, Section, UiError, render};
use crate::ui::viewer::Viewer;

#[derive(Template)]
#[template(path = "agent_form.html")]
struct FormPage {
    layout: Layout,
    /// `None` for a new agent (the form has an `id` input).
    id: Option<String>,
    new_id: String,
    fields: Fields,
    error: Option<String>,
    modes: &'static [&'static str],
    /// Base64 files of the definition: not editable here, kept.
    binaries: Vec<String>,
}

impl FormPage {
    fn action(&self) -> String {
        match &self.id {
            Some(id) => format!("/agents/{id}"),
            None => "/agents".to_owned(),
        }
    }

    fn mode_selected(&self, mode: &str) -> bool {
        self.fields.permission_mode == mode
    }
}

fn page(viewer: &Viewer, id: Option<&str>, fields: Fields, current: Option<&Agent>) -> FormPage {
    let title = match id {
        Some(id) => format!("Edit {id}"),
        None => "New agent".to_owned(),
    };
    FormPage {
        layout: Layout::new(viewer, title, Section::Agents),
        id: id.map(str::to_owned),
        new_id: String::new(),
        fields,
        error: None,
        modes: PERMISSION_MODES,
        binaries: current
            .iter()
            .flat_map(|c| &c.files)
            .filter(|f| f.encoding == FileEncoding::Base64)
            .map(|f| f.path.clone())
            .collect(),
    }
}

pub async fn new(viewer: Viewer) -> Result<Response, UiError> {
    render(&page(&viewer, None, Fields::default(), None))
}

pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let agent = current(&state, &id).await?;
    render(&page(
        &viewer,
        Some(id.as_str()),
        Fields::of(&agent),
        Some(&agent),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let raw = form
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let fields = Fields::posted(&form);
    let refuse = |message: String| {
        let mut shown = page(&viewer, None, fields.clone(), None);
        shown.new_id = raw.clone();
        shown.error = Some(message);
        refused(&shown)
    };
    if raw.is_empty() {
        return refuse("id: give the agent an id".to_owned());
    }
    if let Ok(id) = protocol::AgentId::parse(&raw)
        && current(&state, &id).await.is_ok()
    {
        return refuse(format!(
            "id: agent {id} exists: edit it instead (/agents/{id}/edit)"
        ));
    }
    match save(&state, &raw, &fields, None).await? {
        Ok(()) => Ok(Redirect::to(&format!("/agents/{raw}")).into_response()),
        Err(message) => refuse(message),
    }
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let id = agent_id(&id)?;
    let before = current(&state, &id).await?;
    let fields = Fields::posted(&form);
    match save(&state, id.as_str(), &fields, Some(&before)).await? {
        Ok(()) => Ok(Redirect::to(&format!("/agents/{id}")).into_response()),
        Err(message) => {
            let mut shown = page(&viewer, Some(id.as_str()), fields, Some(&before));
            // A row shown again keeps when its secret was set.
            for row in &mut shown.fields.secrets {
                row.updated_at = before
                    .secrets
                    .iter()
                    .flatten()
                    .find(|(name, _)| **name == row.name)
                    .and_then(|(_, f)| match f {
                        protocol::SecretField::State(s) => s.updated_at.clone(),
                        protocol::SecretField::Value(_) => None,
                    });
            }
            shown.error = Some(message);
            refused(&shown)
        }
    }
}

/// Puts the form's definition; the inner error is the sentence the form shows again.
async fn save(
    state: &AppState,
    id: &str,
    fields: &Fields,
    before: Option<&Agent>,
) -> Result<Result<(), String>, UiError> {
    let agent = match fields.agent(before) {
        Ok(agent) => agent,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let key = state.dispatch.secrets_key.as_ref();
    let registry = &state.dispatch.npm_registry;
    match put::put(&state.store, key, registry, id, agent.clone()).await {
        Ok(_) => Ok(Ok(())),
        Err(PutError::Refused(e)) => Ok(Err(explain(&e, &agent))),
        Err(PutError::Store(e)) => Err(e.into()),
    }
}

/// The refusal as a sentence; a skill's mistake also names the skill.
fn explain(e: &RequestError, agent: &Agent) -> String {
    let skill = e
        .field
        .strip_prefix("skills[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| agent.skills.get(i));
    match skill {
        Some(skill) => format!("skill {:?}: {e}", skill.name),
        None => e.to_string(),
    }
}

fn refused(page: &FormPage) -> Result<Response, UiError> {
    Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
}
