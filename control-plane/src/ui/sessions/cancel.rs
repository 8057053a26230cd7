//! `POST /sessions/{id}/cancel`: what `POST /api/v1/sessions/{id}/cancel` does (the same function), then 303
//! back to the session page, which says what happened (`?cancel=requested|cancelled|finished`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::IgnoredAny;

use super::page::session_row;
use crate::http::AppState;
use crate::http::public::cancel_session;
use crate::store::CancelOutcome;
use crate::ui::form::Posted;
use crate::ui::page::UiError;

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    // The form has nothing but its CSRF token, which `Posted` checked.
    _form: Posted<IgnoredAny>,
) -> Result<Response, UiError> {
    let row = session_row(&state, id).await?;
    let said = match cancel_session(&state, &row.session_id).await? {
        None => {
            return Err(UiError::not_found(format!(
                "There is no session {}.",
                row.session_id
            )));
        }
        Some(CancelOutcome::Queued) => "requested",
        Some(CancelOutcome::Dequeued) => "cancelled",
        Some(CancelOutcome::AlreadyFinished(_)) => "finished",
    };
    Ok(Redirect::to(&format!("/sessions/{}?cancel={said}", row.session_id)).into_response())
}
