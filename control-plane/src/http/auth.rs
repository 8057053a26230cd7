//! Bearer credentials of the two APIs.
//!
//! Internal keys (supervisors) and API tokens (people and tools) are separate sets: a token is refused on
//! the internal API and a key on the public one, with a message that says which kind was expected.
//! Comparisons are constant-time, and every configured credential is compared, so the time of an answer
//! does not tell which one nearly matched.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::error::ApiError;

/// A credential that must not be printed by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub internal_keys: Vec<Secret>,
    pub api_tokens: Vec<Secret>,
    /// `--no-auth`: local development only.
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Internal,
    Public,
}

fn matches(candidates: &[Secret], presented: &[u8]) -> bool {
    let mut found = subtle::Choice::from(0);
    for c in candidates {
        found |= c.0.as_bytes().ct_eq(presented);
    }
    found.into()
}

impl Auth {
    pub fn check(&self, headers: &HeaderMap, api: Api) -> Result<(), ApiError> {
        if self.disabled {
            return Ok(());
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing Authorization header: expected `Bearer <token>`",
            ));
        };
        let Some(token) = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        else {
            return Err(ApiError::unauthorized(
                "malformed Authorization header: expected `Bearer <token>`",
            ));
        };
        let token = token.trim().as_bytes();
        let (own, other, own_name, other_name) = match api {
            Api::Internal => (
                &self.internal_keys,
                &self.api_tokens,
                "internal API key",
                "API token",
            ),
            Api::Public => (
                &self.api_tokens,
                &self.internal_keys,
                "API token",
                "internal API key",
            ),
        };
        if matches(own, token) {
            return Ok(());
        }
        if matches(other, token) {
            return Err(ApiError::unauthorized(format!(
                "this route needs an {own_name}; an {other_name} was presented"
            )));
        }
        Err(ApiError::unauthorized(format!("invalid {own_name}")))
    }
}

pub async fn require_internal(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.auth.check(request.headers(), Api::Internal) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

pub async fn require_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.auth.check(request.headers(), Api::Public) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}
