//! `GET /sessions/{id}/live?after=<seq>&from=<seq>`: the session page's live transcript, the API's follow loop
//! (`crate::http::sse::follow_with`: gap-free, keep-alives, shutdown, the followers metric) with messages
//! that are HTML: `event: event` with the new event's `article` (htmx's SSE extension appends it to
//! `#transcript`), `event: end` once the session is finished (which closes the stream).
//!
//! A tool result fills its call's place (`#result-<id>`, an out-of-band swap in the same message) when the
//! call is on the page: one of the page's events from `from` to `after`, or one sent on this stream.

use std::collections::HashSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::Event as SseEvent;
use protocol::Event;
use serde::Deserialize;
use serde_json::Value;

use super::page::{EVENTS_PAGE, session_row};
use super::transcript::{self, Body, Item, Part, ToolResult};
use crate::http::AppState;
use crate::http::sse::{Render, follow_with};
use crate::store::SessionRow;
use crate::ui::auth::Viewer;
use crate::ui::page::UiError;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LiveQuery {
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    from: Option<u64>,
}

#[derive(Template)]
#[template(path = "transcript_live.html")]
struct LiveFragment {
    items: Vec<Item>,
    /// Results whose call is on the page: swapped into the call.
    into_calls: Vec<ToolResult>,
}

/// The UI's messages: remembers the tool calls on the page, to pair their results.
pub(crate) struct Html {
    session_id: String,
    calls: HashSet<String>,
}

impl Html {
    pub fn new(session_id: String, calls: HashSet<String>) -> Self {
        Self { session_id, calls }
    }

    /// The HTML of one event: its article, and its results' out-of-band swaps into their calls.
    pub fn fragment(&mut self, event: &Event) -> String {
        let data: Value = serde_json::from_str(event.data.get()).unwrap_or(Value::Null);
        let calls = &self.calls;
        let mut into_calls = Vec::new();
        let item = if event.kind == "assistant" {
            transcript::item(&self.session_id, event, &data, &mut |_| None)
        } else {
            let results = if event.kind == "user" {
                transcript::tool_results(&data)
            } else {
                Vec::new()
            };
            transcript::item(&self.session_id, event, &data, &mut |id| {
                let found = calls
                    .contains(id)
                    .then(|| results.iter().find(|r| r.call_id == id))
                    .flatten();
                if let Some(r) = found {
                    into_calls.push(r.clone());
                }
                found.cloned()
            })
        };
        if event.kind == "assistant" {
            self.calls.extend(transcript::tool_call_ids(&data));
        }
        let fragment = LiveFragment {
            items: vec![item],
            into_calls,
        };
        fragment.render().unwrap_or_else(|error| {
            tracing::error!(error = %error, "ui: render a live event");
            String::new()
        })
    }
}

impl Render for Html {
    fn event(&mut self, event: &Event) -> SseEvent {
        SseEvent::default()
            .id(event.seq.to_string())
            .event("event")
            .data(self.fragment(event))
    }

    fn end(&mut self, row: &SessionRow) -> SseEvent {
        SseEvent::default().event("end").data(row.status.as_str())
    }
}

pub(crate) async fn live(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<LiveQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    // A browser reconnecting after a drop says what it has; that wins over the URL it was opened with.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(query.after);
    let mut calls = HashSet::new();
    if let (Some(after), Some(from)) = (query.after, query.from) {
        let shown = state
            .store
            .events(&row.session_id, from.checked_sub(1), Some(after), EVENTS_PAGE)
            .await?;
        for event in shown.iter().filter(|e| e.kind == "assistant") {
            let data: Value = serde_json::from_str(event.data.get()).unwrap_or(Value::Null);
            calls.extend(transcript::tool_call_ids(&data));
        }
    }
    let html = Html::new(row.session_id.to_string(), calls);
    Ok(follow_with(state, row.session_id, after, html))
}
