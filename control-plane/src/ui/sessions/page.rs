//! `GET /sessions/{id}`: the facts, the actions and the newest 200 events of a session (`?before=<seq>`: the
//! 200 before that seq, which is what the "earlier" button opens without JavaScript);
//! `GET /sessions/{id}/transcript?before=<seq>`: the "earlier" fragment htmx puts in front;
//! `GET /sessions/{id}/head`: the facts again, which the page polls every 3 s while the session is unfinished
//! (chosen over out-of-band swaps on the live stream: it also catches a status change that comes with no new
//! event, such as `lost`); once finished it also swaps in the result footer and drops the cancel form.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use protocol::{Event, SessionId};
use serde::Deserialize;

use super::transcript::{self, Body, Item, Part};
use crate::http::AppState;
use crate::store::SessionRow;
use crate::time;
use crate::ui::auth::Viewer;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};

/// Events per transcript page.
pub(crate) const EVENTS_PAGE: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct BeforeQuery {
    #[serde(default)]
    before: Option<u64>,
}

/// The session's facts as shown (`templates/session_head.html`).
pub(crate) struct Facts {
    pub id: String,
    pub status: &'static str,
    pub finished: bool,
    pub agent: Option<String>,
    pub version: Option<i64>,
    pub conversation: Option<String>,
    pub runtime: Option<String>,
    pub created: String,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub duration: String,
    pub turns: String,
    pub cost: String,
    pub model: Option<String>,
    pub exit: String,
    pub error: Option<String>,
    pub result_text: Option<String>,
    pub cancel_requested: bool,
}

pub(crate) fn facts(row: &SessionRow, now_ms: i64) -> Facts {
    let listed = super::list::row(row, now_ms);
    let exit = match (row.exit_code, &row.signal) {
        (Some(code), Some(signal)) => format!("exit code {code}, signal {signal}"),
        (Some(code), None) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => String::new(),
    };
    Facts {
        id: row.session_id.to_string(),
        status: row.status.as_str(),
        finished: row.status.is_finished(),
        agent: row.agent_id.clone(),
        version: row.agent_version,
        conversation: row.conversation_id.clone(),
        runtime: row.runtime_id.clone(),
        created: format::timestamp(&row.created_at),
        started: row.started_at.as_deref().map(format::timestamp),
        ended: row.finished_at.as_deref().map(format::timestamp),
        duration: listed.duration,
        turns: listed.turns,
        cost: listed.cost,
        model: row.model.clone(),
        exit,
        error: row.error.clone(),
        result_text: row.result_text.clone(),
        cancel_requested: row.cancel_requested_ms.is_some(),
    }
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    layout: Layout,
    /// The cancel form's CSRF token (the actions are also rendered without a layout, see [`HeadFragment`]).
    layout_csrf: String,
    f: Facts,
    /// The facts fragment also swaps the footer and actions (only in the polled answer).
    oob: bool,
    /// What `?cancel=` said after the form's redirect.
    notice: Option<&'static str>,
    items: Vec<Item>,
    earlier: Option<u64>,
    /// While running and showing the newest page: the live stream's URL.
    live: Option<String>,
    /// Showing an older page: the link back to the newest.
    older_page: bool,
}

#[derive(Template)]
#[template(path = "session_head.html")]
struct HeadFragment {
    layout_csrf: String,
    f: Facts,
    oob: bool,
}

#[derive(Template)]
#[template(path = "transcript_earlier.html")]
struct EarlierFragment {
    id: String,
    items: Vec<Item>,
    earlier: Option<u64>,
}

pub(crate) async fn session_row(state: &AppState, raw: String) -> Result<SessionRow, UiError> {
    let missing = || UiError::not_found(format!("There is no session {raw:?}."));
    let id = SessionId::parse(raw.clone()).map_err(|_| missing())?;
    state.store.session(&id).await?.ok_or_else(missing)
}

/// The page of events below `before` (the newest when `None`), and the seq to ask "earlier" for.
async fn events(
    state: &AppState,
    row: &SessionRow,
    before: Option<u64>,
) -> Result<(Vec<Event>, Option<u64>), UiError> {
    let events = state
        .store
        .events_before(&row.session_id, before, EVENTS_PAGE)
        .await?;
    let earlier = events.first().map(|e| e.seq).filter(|&seq| seq > 0);
    Ok((events, earlier))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    before: Option<u64>,
    #[serde(default)]
    cancel: Option<String>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let finished = row.status.is_finished();
    // While the session runs, the page ends at the gap-free prefix: the live stream continues from there and
    // never past it, so an event of a batch committed out of order is not skipped.
    let before = query
        .before
        .or_else(|| (!finished).then(|| row.acked_seq.map_or(0, |a| u64::try_from(a).unwrap_or(0) + 1)));
    let (events, earlier) = events(&state, &row, before).await?;
    let id = row.session_id.to_string();
    let live = (query.before.is_none() && !finished).then(|| {
        let after = events.last().map(|e| e.seq);
        let from = events.first().map_or(0, |e| e.seq);
        match after {
            Some(after) => format!("/sessions/{id}/live?after={after}&from={from}"),
            None => format!("/sessions/{id}/live"),
        }
    });
    let notice = match query.cancel.as_deref() {
        Some("requested") => Some("Cancel requested: the session stops as soon as its runtime hears of it."),
        Some("cancelled") => Some("Cancelled: the session had not started yet."),
        Some("finished") => Some("The session had already finished: there was nothing to cancel."),
        _ => None,
    };
    render(&SessionPage {
        layout: Layout::new(&viewer, format!("Session {id}"), Section::Sessions),
        layout_csrf: viewer.csrf.clone(),
        f: facts(&row, time::now_ms()),
        oob: false,
        notice,
        items: transcript::page(&id, &events),
        earlier,
        live,
        older_page: query.before.is_some(),
    })
}

pub(crate) async fn head(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let f = facts(&row, time::now_ms());
    render(&HeadFragment {
        layout_csrf: viewer.csrf,
        oob: f.finished,
        f,
    })
}

pub(crate) async fn earlier(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<BeforeQuery>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let before = query
        .before
        .ok_or_else(|| UiError::bad_request("before: the seq to show the events before"))?;
    let (events, earlier) = events(&state, &row, Some(before)).await?;
    let id = row.session_id.to_string();
    render(&EarlierFragment {
        items: transcript::page(&id, &events),
        id,
        earlier,
    })
}
