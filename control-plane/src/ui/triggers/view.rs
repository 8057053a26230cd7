//! The triggers' pages: `GET /triggers`, `GET /triggers/{id}` (hook URL, warning, definition, deliveries:
//! paged with `?before=`, refreshed by htmx every 5 s), `GET|POST /triggers/{id}/delete`, and
//! `POST /deliveries/{id}/replay` (→ 303 back to the trigger).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use protocol::{DeliveryStatus, Trigger, VerifyScheme};
use serde::Deserialize;

use super::{answer, text, trigger_id};
use crate::http::AppState;
use crate::store::DeliveryRow;
use crate::triggers::config::hook_path;
use crate::triggers::definition::scheme_name;
use crate::triggers::intake;
use crate::triggers::replay::{self, ReplayError};
use crate::ui::form::Posted;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};
use crate::ui::viewer::Viewer;

/// Deliveries per page of a trigger's page.
const PAGE: u32 = 50;

struct Row {
    id: String,
    kind: &'static str,
    agent: String,
    scheme: &'static str,
    unverified: bool,
    enabled: bool,
    last: String,
}

#[derive(Template)]
#[template(path = "triggers.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
}

fn kind(trigger: &Trigger) -> &'static str {
    match trigger.kind {
        protocol::TriggerKind::Webhook => "webhook",
        protocol::TriggerKind::Email => "email",
        protocol::TriggerKind::Sms => "sms",
    }
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    let mut rows = Vec::new();
    for row in state.store.triggers().await? {
        let trigger = crate::triggers::definition::answer(&row)?;
        let last = state.store.deliveries(&row.trigger_id, None, 1).await?;
        rows.push(Row {
            kind: kind(&trigger),
            agent: trigger.agent_id.to_string(),
            scheme: scheme_name(trigger.verify.scheme),
            unverified: trigger.verify.scheme == VerifyScheme::None,
            enabled: trigger.enabled,
            last: last
                .first()
                .map(|d| format!("{} {}", format::timestamp(&d.received_at), d.status))
                .unwrap_or_default(),
            id: row.trigger_id,
        });
    }
    render(&ListPage {
        layout: Layout::new(&viewer, "Triggers", Section::Triggers),
        rows,
    })
}

struct DeliveryView {
    id: String,
    received: String,
    status: String,
    verified: bool,
    error: String,
    session: Option<String>,
    reply: String,
    replayable: bool,
}

fn delivery(row: DeliveryRow) -> DeliveryView {
    DeliveryView {
        received: format::timestamp(&row.received_at),
        status: row.status.to_string(),
        verified: row.verified,
        error: row.error.unwrap_or_default(),
        replayable: row.status == DeliveryStatus::Queued,
        session: row.session_id,
        reply: row.reply.map(|r| r.status).unwrap_or_default(),
        id: row.delivery_id,
    }
}

#[derive(Template)]
#[template(path = "trigger.html")]
struct TriggerPage {
    layout: Layout,
    id: String,
    hook_url: String,
    unverified: bool,
    kind: &'static str,
    scheme: &'static str,
    agent: String,
    enabled: bool,
    definition: String,
    deliveries: Vec<DeliveryView>,
    /// The `before=` of the next (older) page.
    older: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    before: Option<i64>,
}

/// Where the provider posts: the URL the hook itself checks signatures against (`--public-url`, else `http://`
/// and the Host this page was asked on).
fn hook_url(state: &AppState, headers: &HeaderMap, id: &str) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    intake::hook_url(state.hooks.public_url.as_deref(), host, &hook_path(id))
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let id = trigger_id(&id)?;
    let trigger = answer(&state, &id).await?;
    let mut rows = state
        .store
        .deliveries(id.as_str(), paging.before, PAGE + 1)
        .await?;
    let older = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    render(&TriggerPage {
        layout: Layout::new(&viewer, id.as_str(), Section::Triggers),
        hook_url: hook_url(&state, &headers, id.as_str()),
        unverified: trigger.verify.scheme == VerifyScheme::None,
        kind: kind(&trigger),
        scheme: scheme_name(trigger.verify.scheme),
        agent: trigger.agent_id.to_string(),
        enabled: trigger.enabled,
        definition: text::shown(&trigger),
        deliveries: rows.into_iter().map(delivery).collect(),
        older,
        id: id.to_string(),
    })
}

#[derive(Template)]
#[template(path = "trigger_delete.html")]
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
    let id = trigger_id(&id)?;
    answer(&state, &id).await?;
    render(&DeletePage {
        layout: Layout::new(&viewer, format!("Delete {id}"), Section::Triggers),
        id: id.to_string(),
    })
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let id = trigger_id(&id)?;
    if !state.store.delete_trigger(id.as_str()).await? {
        return Err(UiError::not_found(format!("trigger {id} not found")));
    }
    tracing::info!(trigger_id = %id, "trigger deleted");
    Ok(Redirect::to("/triggers").into_response())
}

pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let Some(found) = state.store.delivery(&id).await? else {
        return Err(UiError::not_found(format!("delivery {id} not found")));
    };
    match replay::replay(&state.store, &state.dispatch, &id).await {
        Ok(_) => Ok(Redirect::to(&format!("/triggers/{}", found.trigger_id)).into_response()),
        Err(ReplayError::NotFound(why)) => Err(UiError::not_found(why)),
        Err(ReplayError::Conflict(why)) => Err(UiError::new(StatusCode::CONFLICT, why)),
        Err(ReplayError::Store(e)) => Err(e.into()),
    }
}
