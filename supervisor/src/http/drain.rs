//! `POST /drain` (DESIGN.md §9): begin the drain for scale-in. Asking twice is fine: the drain that runs
//! goes on, and the answer says where it is.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// 202 with the body of `/health` (`status: "draining"`, the sessions still running).
pub(super) async fn drain(State(state): State<Arc<AppState>>) -> Response {
    crate::drain::begin(&state, "POST /drain");
    let (_, body) = super::health_body(&state);
    (StatusCode::ACCEPTED, Json(body)).into_response()
}
