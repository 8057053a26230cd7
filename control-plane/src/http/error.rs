//! The error answer of both APIs: `{"error": {"code", "message"}}`.
//!
//! 4xx messages say what the caller got wrong and name the field; 5xx are logged with their cause chain and
//! answered generically, so internals never leak.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::ErrorBody;

use crate::store::{PutError, StoreError};

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is unavailable; retry later",
        )
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %error, cause = %cause, "database unavailable");
                Self::unavailable()
            }
            _ => {
                tracing::error!(error = ?anyhow::Error::new(error), "store error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code, self.message);
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}

/// A PUT that stored nothing: the store's failure, or the definition's planner refused it (400, its message
/// names the field).
impl<E: std::fmt::Display> From<PutError<E>> for ApiError {
    fn from(error: PutError<E>) -> Self {
        match error {
            PutError::Store(e) => ApiError::from(e),
            PutError::Refused(e) => ApiError::bad_request(e.to_string()),
        }
    }
}
