//! `GET /sessions`: the sessions, newest first, 50 a page (`before=<row id>`), filtered by status, agent and
//! "errors only" (failed, timed out or lost), all in the URL. The first page re-fetches itself every 3 s
//! (htmx, `hx-select` of the table), so new sessions and status changes appear without a reload.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use protocol::SessionStatus;
use serde::Deserialize;

use crate::http::AppState;
use crate::store::{SessionPage, SessionRow};
use crate::time;
use crate::ui::auth::Viewer;
use crate::ui::format;
use crate::ui::page::{Layout, Section, UiError, render};

const PAGE: u32 = 50;

/// The statuses "errors only" shows.
pub(crate) const ERRORS: [SessionStatus; 3] = [
    SessionStatus::Failed,
    SessionStatus::TimedOut,
    SessionStatus::Lost,
];

/// The list's query string, as a form sends it (an empty field is no filter).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    errors: String,
    #[serde(default)]
    before: String,
}

/// The filters, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    pub status: Option<SessionStatus>,
    pub agent: Option<String>,
    pub errors: bool,
    pub before: Option<i64>,
}

impl Filters {
    pub fn parse(query: &ListQuery) -> Result<Self, String> {
        let status = match query.status.trim() {
            "" => None,
            s => Some(
                s.parse::<SessionStatus>()
                    .map_err(|_| format!("status: no status {s:?}"))?,
            ),
        };
        let before = match query.before.trim() {
            "" => None,
            b => Some(
                b.parse::<i64>()
                    .map_err(|_| format!("before: not a row id: {b:?}"))?,
            ),
        };
        let agent = Some(query.agent.trim())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        Ok(Self {
            status,
            agent,
            errors: !query.errors.is_empty(),
            before,
        })
    }

    /// The store's page. "Errors only" with a status that is an error is that status (with one that is not,
    /// see [`Filters::contradict`]).
    pub fn page(&self) -> SessionPage {
        let statuses = match (self.status, self.errors) {
            (Some(s), _) => vec![s],
            (None, true) => ERRORS.to_vec(),
            (None, false) => Vec::new(),
        };
        SessionPage {
            statuses,
            agent_id: self.agent.clone(),
            before: self.before,
            limit: PAGE,
        }
    }

    /// Whether `name` is the status filtered on (the select's `selected`).
    pub fn status_is(&self, name: &str) -> bool {
        self.status.is_some_and(|s| s.as_str() == name)
    }

    /// Whether the filters can match nothing at all ("errors only" with a status that is not an error).
    pub fn contradict(&self) -> bool {
        self.errors && self.status.is_some_and(|s| !ERRORS.contains(&s))
    }

    /// The query string of these filters with `before` set as given (`&`-joined, escaped).
    pub fn query(&self, before: Option<i64>) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = self.status {
            pairs.append_pair("status", s.as_str());
        }
        if let Some(a) = &self.agent {
            pairs.append_pair("agent", a);
        }
        if self.errors {
            pairs.append_pair("errors", "1");
        }
        if let Some(b) = before {
            pairs.append_pair("before", &b.to_string());
        }
        pairs.finish()
    }
}

/// One row of the table, as shown.
pub(crate) struct Row {
    pub id: String,
    pub status: &'static str,
    pub agent: Option<String>,
    pub started: String,
    pub started_ago: String,
    pub duration: String,
    pub turns: String,
    pub cost: String,
}

pub(crate) fn row(session: &SessionRow, now_ms: i64) -> Row {
    let started = session.started_at.as_deref().unwrap_or(&session.created_at);
    let started_ms = time::parse_rfc3339_ms(started);
    let ended_ms = session
        .finished_at
        .as_deref()
        .and_then(time::parse_rfc3339_ms)
        .or_else(|| (!session.status.is_finished()).then_some(now_ms));
    Row {
        id: session.session_id.to_string(),
        status: session.status.as_str(),
        agent: session.agent_id.clone(),
        started: format::timestamp(started),
        started_ago: started_ms.map_or_else(String::new, |ms| format::ago(now_ms, ms)),
        duration: match (session.started_at.as_ref().and(started_ms), ended_ms) {
            (Some(from), Some(to)) => format::duration(to - from),
            _ => String::new(),
        },
        turns: session.num_turns.map_or_else(String::new, |n| n.to_string()),
        cost: session.total_cost_usd.map_or_else(String::new, format::cost),
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    layout: Layout,
    filters: Filters,
    statuses: Vec<&'static str>,
    rows: Vec<Row>,
    /// The query of this page (what it re-fetches while live) and of the next, older one.
    this: String,
    older: Option<String>,
    live: bool,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let filters = Filters::parse(&query).map_err(UiError::bad_request)?;
    let mut sessions = if filters.contradict() {
        Vec::new()
    } else {
        state.store.session_page(&filters.page()).await?
    };
    let older = (sessions.len() > PAGE as usize).then(|| {
        sessions.truncate(PAGE as usize);
        filters.query(sessions.last().map(|s| s.id))
    });
    let now = time::now_ms();
    render(&SessionsPage {
        layout: Layout::new(&viewer, "Sessions", Section::Sessions),
        statuses: SessionStatus::ALL.iter().map(|s| s.as_str()).collect(),
        rows: sessions.iter().map(|s| row(s, now)).collect(),
        this: filters.query(filters.before),
        older,
        live: filters.before.is_none(),
        filters,
    })
}
