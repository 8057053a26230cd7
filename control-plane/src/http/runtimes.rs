//! `GET /api/v1/runtimes` (DESIGN.md §9): every runtime the control plane has heard of, with what its
//! heartbeats report, and `lost` for one silent for longer than `--heartbeat-timeout`.

use axum::Json;
use axum::extract::State;
use protocol::RuntimeList;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::time;

pub async fn list(State(state): State<AppState>) -> Result<Json<RuntimeList>, ApiError> {
    let timeout_ms = i64::try_from(state.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX);
    let runtimes = state
        .store
        .runtimes(time::now_ms().saturating_sub(timeout_ms))
        .await?;
    Ok(Json(RuntimeList { runtimes }))
}
