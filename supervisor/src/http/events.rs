//! `GET /sessions/{id}/events`: NDJSON from the local log, optionally following it until the session ends.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, error, find};
use crate::eventlog::{LogReader, ReadRecord};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    after: Option<u64>,
    #[serde(default)]
    follow: bool,
}

/// Lines are sent in batches of about this size.
const BATCH_BYTES: usize = 64 * 1024;

pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(error::from_rejection)?;
    let entry = find(&state, &id)?;
    let reader = LogReader::open(&entry.log_path, entry.progress.clone())
        .await
        .map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                // Retention removed it between the lookup and the open.
                return super::removed(&entry.id);
            }
            tracing::error!(session_id = %entry.id, error = %err, "open event log");
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not read the event log",
            )
        })?;
    let cursor = (reader, query.after, query.follow);
    let stream = futures_util::stream::unfold(cursor, |(mut reader, after, follow)| async move {
        let mut batch = Vec::new();
        loop {
            match reader.next(follow && batch.is_empty()).await {
                Ok(Some(ReadRecord::Event { seq, json, .. })) => {
                    if after.is_some_and(|after| seq <= after) {
                        continue;
                    }
                    batch.extend_from_slice(&json);
                    batch.push(b'\n');
                    if batch.len() >= BATCH_BYTES {
                        break;
                    }
                }
                Ok(Some(ReadRecord::Corrupt)) => tracing::warn!("skipped a corrupt record in an event log"),
                Ok(None) if batch.is_empty() => return None,
                Ok(None) => break,
                Err(err) => return Some((Err(err), (reader, after, follow))),
            }
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from(batch)),
            (reader, after, follow),
        ))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}
