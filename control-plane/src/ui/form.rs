//! Forms posted from the UI: [`Posted`] is the only way a handler reads one, and it refuses a form without
//! the browser's CSRF token (a `csrf` field, or htmx's `X-CSRF-Token` header) with 403 before anything is
//! parsed or changed.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::http::AppState;
use crate::ui::page::UiError;
use crate::ui::viewer::Viewer;

/// The form field (and, for htmx requests, the header) that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A form posted by a signed-in browser with its CSRF token; `form` is the body parsed as `T`
/// (`application/x-www-form-urlencoded`; `Vec<(String, String)>` keeps repeated names).
#[derive(Debug)]
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let body = crate::http::read_body(&parts.headers, Body::new(body))
            .await
            .map_err(IntoResponse::into_response)?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| UiError::bad_request(format!("the form could not be read: {e}")).into_response())?;
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                pairs
                    .iter()
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v.clone())
            });
        if !presented.as_deref().is_some_and(|p| viewer.csrf_matches(p)) {
            return Err(UiError::new(
                StatusCode::FORBIDDEN,
                "This form was refused: it did not carry this browser's CSRF token (it may come from another \
                 site, or from a page older than your sign-in). Reload the page and try again.",
            )
            .into_response());
        }
        let form = serde_urlencoded::from_bytes(&body)
            .map_err(|e| UiError::bad_request(format!("the form could not be read: {e}")).into_response())?;
        Ok(Self { viewer, form })
    }
}
