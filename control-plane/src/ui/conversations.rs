//! `GET /conversations/{id}`: a conversation's agent and its sessions in order, each linking to its page.
//! Read with the store call of `GET /api/v1/conversations/{id}`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use protocol::SessionId;

use crate::http::AppState;
use crate::ui::auth::Viewer;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};

struct Row {
    id: String,
    status: String,
    created: String,
    started: String,
    turns: String,
    cost: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    layout: Layout,
    id: String,
    agent: String,
    rows: Vec<Row>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = SessionId::parse(id.clone())
        .map_err(|e| UiError::not_found(format!("{id:?} is not a conversation id: {e}")))?;
    let rows = state.store.conversation(id.as_str()).await?;
    let Some(first) = rows.first() else {
        return Err(UiError::not_found(format!("conversation {id} not found")));
    };
    let agent = first.agent_id.clone().unwrap_or_default();
    render(&ConversationPage {
        layout: Layout::new(&viewer, format!("Conversation {id}"), Section::Sessions),
        id: id.to_string(),
        agent,
        rows: rows
            .iter()
            .map(|r| Row {
                id: r.session_id.to_string(),
                status: r.status.to_string(),
                created: format::timestamp(&r.created_at),
                started: r.started_at.as_deref().map(format::timestamp).unwrap_or_default(),
                turns: r.num_turns.map(|n| n.to_string()).unwrap_or_default(),
                cost: r.total_cost_usd.map(format::cost).unwrap_or_default(),
            })
            .collect(),
    })
}
