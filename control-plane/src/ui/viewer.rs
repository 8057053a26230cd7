//! Who is asking: [`Viewer`], the extractor every page and form of the UI takes. A browser is signed in when
//! its `agentctl_session` cookie's digest is a live row of `ui_sessions` whose API token the server still
//! accepts (a token taken away signs its browsers out on their next request). Without one: 303 to
//! `/sign-in?next=…`, or 401 with `HX-Redirect` to htmx. Signing in and out is `crate::ui::auth`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::auth::CredentialDigest;
use crate::time;
use crate::ui::cookie;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// What its forms carry (`crate::ui::form`).
    pub csrf: String,
    /// `--no-auth`: shown on every page.
    pub no_auth: bool,
    /// The `ui_sessions` key of its cookie (what sign-out deletes).
    pub(crate) id_digest: String,
}

/// Every `Cookie` header of a request, as one.
pub(crate) fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Viewer {
    async fn find(parts: &Parts, state: &AppState) -> Option<Self> {
        let cookies = cookies(&parts.headers);
        let value = cookie::read(&cookies, cookie::SESSION)?;
        let id_digest = CredentialDigest::of(value).to_hex();
        let row = match state.store.ui_session(&id_digest, time::now_ms()).await {
            Ok(row) => row?,
            Err(error) => {
                tracing::warn!(error = %error, "ui: read the sign-in");
                return None;
            }
        };
        let no_auth = state.keyring.disabled;
        if !no_auth {
            let digest = CredentialDigest::from_hex(&row.token_digest)?;
            if !state.keyring.accepts_api_token(&digest) {
                return None;
            }
        }
        Some(Self {
            csrf: row.csrf,
            no_auth,
            id_digest,
        })
    }

    /// Whether `presented` is this browser's CSRF token (constant-time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        presented.len() == self.csrf.len() && bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Self::find(parts, state).await {
            Some(viewer) => Ok(viewer),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// 303 to the sign-in page, coming back here after; to htmx (which follows redirects itself and would swap
/// the sign-in page into a fragment) 401 with `HX-Redirect`.
fn to_sign_in(parts: &Parts) -> Response {
    let next = if parts.method == axum::http::Method::GET {
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    } else {
        "/"
    };
    let location = format!(
        "/sign-in?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    if parts.headers.contains_key("hx-request") {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert("hx-redirect", value);
        }
        return response;
    }
    Redirect::to(&location).into_response()
}
