//! `/runtimes`: every runtime with its capacity, running sessions, last heartbeat and state (draining and
//! lost stand out). The table refreshes itself every 5 s (htmx polling of the same page).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use protocol::{RuntimeInfo, RuntimeState};

use crate::http::AppState;
use crate::time;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};
use crate::ui::viewer::Viewer;

/// One row of the table, as shown.
struct Row {
    id: String,
    state: &'static str,
    capacity: String,
    running: usize,
    labels: String,
    version: String,
    heartbeat_at: String,
    heartbeat_ago: String,
}

fn state_name(state: RuntimeState) -> &'static str {
    match state {
        RuntimeState::Active => "active",
        RuntimeState::Draining => "draining",
        RuntimeState::Lost => "lost",
    }
}

fn row(runtime: RuntimeInfo, now_ms: i64) -> Row {
    let heartbeat_ms = time::parse_rfc3339_ms(&runtime.last_heartbeat_at).unwrap_or(now_ms);
    Row {
        state: state_name(runtime.state),
        capacity: runtime
            .capacity
            .map_or_else(|| "unlimited".to_owned(), |c| c.to_string()),
        running: runtime.running,
        labels: runtime
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        version: runtime.version,
        heartbeat_at: format::timestamp(&runtime.last_heartbeat_at),
        heartbeat_ago: format::ago(now_ms, heartbeat_ms),
        id: runtime.runtime_id,
    }
}

#[derive(Template)]
#[template(path = "runtimes.html")]
struct RuntimesPage {
    layout: Layout,
    rows: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, UiError> {
    let now = time::now_ms();
    let timeout_ms = i64::try_from(state.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
    let runtimes = state.store.runtimes(now.saturating_sub(timeout_ms)).await?;
    render(&RuntimesPage {
        layout: Layout::new(&viewer, "Runtimes", Section::Runtimes),
        rows: runtimes.into_iter().map(|r| row(r, now)).collect(),
    })
}
