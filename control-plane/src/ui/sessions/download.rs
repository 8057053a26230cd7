//! `GET /sessions/{id}/download.jsonl`: every event of the session as JSON lines, read from the store a page
//! at a time while the answer streams (so a session of any length costs one page of memory), long after its
//! runtime is gone. `GET /sessions/{id}/events/{seq}`: one event as JSON, the "whole event" of a value the
//! page cut.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use protocol::{Event, SessionId};

use super::page::session_row;
use crate::http::AppState;
use crate::store::{Store, StoreError};
use crate::ui::page::UiError;
use crate::ui::viewer::Viewer;

const DOWNLOAD_PAGE: u32 = 1000;

/// One event as one line of JSON (raw data may hold line breaks between its tokens; a line must not).
pub(crate) fn json_line(event: &Event) -> String {
    let mut json = serde_json::to_string(event).expect("events serialise");
    if json.contains(['\n', '\r']) {
        let value: serde_json::Value = serde_json::from_str(&json).expect("our own JSON parses");
        json = value.to_string();
    }
    json.push('\n');
    json
}

/// The next page of lines after `after`, or `None` at the end.
async fn next_page(
    store: &Store,
    id: &SessionId,
    after: Option<u64>,
) -> Result<Option<(Bytes, Option<u64>)>, StoreError> {
    let events = store.events(id, after, None, DOWNLOAD_PAGE).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(None);
    };
    let text: String = events.iter().map(json_line).collect();
    Ok(Some((Bytes::from(text), Some(last))))
}

pub(crate) async fn download(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let id = row.session_id;
    let disposition = format!("attachment; filename=\"{id}.jsonl\"");
    let store = state.store.clone();
    // A store error aborts the body (the browser reports a failed download) rather than ending it, which
    // would look like a whole file.
    let pages = futures_util::stream::unfold(Some(None), move |cursor: Option<Option<u64>>| {
        let (store, id) = (store.clone(), id.clone());
        async move {
            let after = cursor?;
            match next_page(&store, &id, after).await {
                Ok(Some((bytes, last))) => Some((Ok(bytes), Some(last))),
                Ok(None) => None,
                Err(error) => {
                    tracing::warn!(error = %error, session_id = %id, "ui: download events");
                    Some((Err(std::io::Error::other("the events could not be read")), None))
                }
            }
        }
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|_| UiError::bad_request("a session id"))?,
            ),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

pub(crate) async fn event(
    State(state): State<AppState>,
    _viewer: Viewer,
    Path((id, seq)): Path<(String, u64)>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let found = state
        .store
        .events(&row.session_id, seq.checked_sub(1), Some(seq), 1)
        .await?;
    let event = found
        .into_iter()
        .next()
        .ok_or_else(|| UiError::not_found(format!("Session {} has no event {seq}.", row.session_id)))?;
    let disposition = format!("inline; filename=\"{}-{seq}.json\"", row.session_id);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|_| UiError::bad_request("a session id"))?,
            ),
        ],
        serde_json::to_string_pretty(&event).expect("events serialise"),
    )
        .into_response())
}
