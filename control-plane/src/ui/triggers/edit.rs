//! The trigger form: `GET /triggers/new` + `POST /triggers`, `GET /triggers/{id}/edit` + `POST /triggers/{id}`.
//! A refused form is shown again (400) with its text and the error naming the line or the field.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::{answer, text, trigger_id};
use crate::http::AppState;
use crate::store::{PutError, TriggerPut};
use crate::triggers::put;
use crate::ui::auth::Viewer;
use crate::ui::form::Posted;
use crate::ui::page::{Layout, Section, UiError, render};

#[derive(Template)]
#[template(path = "trigger_form.html")]
struct FormPage {
    layout: Layout,
    /// `None` for a new trigger (the form has an `id` input).
    id: Option<String>,
    new_id: String,
    definition: String,
    error: Option<String>,
}

impl FormPage {
    fn action(&self) -> String {
        match &self.id {
            Some(id) => format!("/triggers/{id}"),
            None => "/triggers".to_owned(),
        }
    }
}

const EXAMPLE: &str = "agentId: support-bot\nkind: webhook\nverify:\n  scheme: github\n  secrets: [\"…\"]\nprompt: |\n  {{ body }}\n";

fn page(viewer: &Viewer, id: Option<&str>, definition: String) -> FormPage {
    FormPage {
        layout: Layout::new(
            viewer,
            id.map_or_else(|| "New trigger".to_owned(), |id| format!("Edit {id}")),
            Section::Triggers,
        ),
        id: id.map(str::to_owned),
        new_id: String::new(),
        definition,
        error: None,
    }
}

pub async fn new(viewer: Viewer) -> Result<Response, UiError> {
    render(&page(&viewer, None, EXAMPLE.to_owned()))
}

pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = trigger_id(&id)?;
    let trigger = answer(&state, &id).await?;
    render(&page(&viewer, Some(id.as_str()), text::shown(&trigger)))
}

fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.replace("\r\n", "\n"))
        .unwrap_or_default()
}

pub async fn create(
    State(state): State<AppState>,
    Posted { viewer, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let raw = field(&form, "id").trim().to_owned();
    let definition = field(&form, "definition");
    let outcome = match text::parse(&raw, &definition) {
        Err(e) => Err(e),
        Ok((id, _)) if state.store.trigger(&id).await?.is_some() => Err(format!(
            "id: trigger {id} exists: edit it instead (/triggers/{id}/edit)"
        )),
        Ok((id, trigger)) => save(&state, &id, trigger).await?.map(|()| id),
    };
    match outcome {
        Ok(id) => Ok(Redirect::to(&format!("/triggers/{id}")).into_response()),
        Err(message) => {
            let mut shown = page(&viewer, None, definition);
            shown.new_id = raw;
            shown.error = Some(message);
            refused(&shown)
        }
    }
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { viewer, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let id = trigger_id(&id)?;
    answer(&state, &id).await?;
    let definition = field(&form, "definition");
    let outcome = match text::parse(id.as_str(), &definition) {
        Err(e) => Err(e),
        Ok((_, trigger)) => save(&state, id.as_str(), trigger).await?,
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/triggers/{id}")).into_response()),
        Err(message) => {
            let mut shown = page(&viewer, Some(id.as_str()), definition);
            shown.error = Some(message);
            refused(&shown)
        }
    }
}

/// Puts the definition; the inner error is the sentence the form shows again.
async fn save(state: &AppState, id: &str, trigger: protocol::Trigger) -> Result<Result<(), String>, UiError> {
    let key = state.dispatch.secrets_key.as_ref();
    match put::put(&state.store, key, id, trigger).await {
        Ok((_, TriggerPut::UnknownAgent(agent))) => Ok(Err(put::unknown_agent(&agent))),
        Ok(_) => Ok(Ok(())),
        Err(PutError::Refused(e)) => Ok(Err(e.to_string())),
        Err(PutError::Store(e)) => Err(e.into()),
    }
}

fn refused(page: &FormPage) -> Result<Response, UiError> {
    Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
}
