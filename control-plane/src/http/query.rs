//! The query strings of the public API, as types.
//!
//! [`Params`] is axum's `Query` with our error body: a parameter that does not parse is answered 400 with a
//! message that names it (`limit: invalid digit found in string`). Unknown parameters are ignored.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use protocol::SessionStatus;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// A query string parsed into `T`.
#[derive(Debug)]
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(params)) => Ok(Self(params)),
            Err(rejection) => {
                // axum's text is "Failed to deserialize query string: <parameter>: <why>".
                let text = rejection.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(ApiError::bad_request(format!("invalid query string: {why}")))
            }
        }
    }
}

/// `GET /api/v1/sessions?status=&agentId=&cursor=&limit=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    pub status: Option<SessionStatus>,
    pub agent_id: Option<String>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl ListQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 1000;

    /// Only sessions older than this row id.
    pub fn before(&self) -> Result<Option<i64>, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        match cursor.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(ApiError::bad_request(format!(
                "cursor: {cursor:?} is not a cursor this server returned"
            ))),
        }
    }

    pub fn limit(&self) -> Result<u32, ApiError> {
        limit(self.limit, Self::DEFAULT_LIMIT, Self::MAX_LIMIT)
    }
}

/// `GET /api/v1/sessions/{id}/events?after=&limit=`.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    /// Events with a seq above this one.
    pub after: Option<u64>,
    pub limit: Option<u32>,
}

impl EventsQuery {
    pub const DEFAULT_LIMIT: u32 = 1000;
    pub const MAX_LIMIT: u32 = 10_000;

    pub fn limit(&self) -> Result<u32, ApiError> {
        limit(self.limit, Self::DEFAULT_LIMIT, Self::MAX_LIMIT)
    }
}

fn limit(given: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match given.unwrap_or(default) {
        limit @ 1.. if limit <= max => Ok(limit),
        _ => Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {max}"
        ))),
    }
}
