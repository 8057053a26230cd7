use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::state::AppState;

/// Requires `Authorization: Bearer <token>` unless auth is off (`--no-auth`); the scheme in any case, read
/// by `protocol::bearer_token` as the control plane reads it.
pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(protocol::bearer_token);
    match given {
        // Constant time: the comparison must not tell an attacker how much of a guess was right.
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) => {
            next.run(request).await
        }
        Some(_) => unauthorized("the bearer token is not valid"),
        None => unauthorized("missing Authorization: Bearer <token> header"),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}
