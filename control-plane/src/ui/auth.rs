//! Signing in to the web UI: an API token of this server is exchanged for a random session cookie
//! (`HttpOnly`, `SameSite=Strict`, 12 hours), kept in `ui_sessions` by its digest with the browser's CSRF
//! token; who a later request comes from is `crate::ui::viewer`.
//! With `--no-auth` anyone may sign in, but still through the form, so forms keep their CSRF token.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::auth::CredentialDigest;
use crate::store::UiSessionRow;
use crate::time;
use crate::ui::cookie::{self, Attributes};
use crate::ui::form::Posted;
use crate::ui::page::{Layout, UiError, render};
use crate::ui::viewer::cookies;

/// How long a sign-in lasts.
const SESSION_TTL_S: u64 = 12 * 60 * 60;
/// How long a sign-in form may be left open before it is posted.
const SIGN_IN_FORM_TTL_S: u64 = 60 * 60;

/// 244 random bits as hex: a cookie value or a CSRF token.
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Cookies get `Secure` when the server is reached over HTTPS (`--public-url https://…`).
fn secure(state: &AppState) -> bool {
    state
        .hooks
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// Where a browser sent to sign in returns to: a path of this site only (never `//host` or a URL).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n']) =>
        {
            n
        }
        _ => "/",
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    layout: Layout,
    next: &'a str,
    form_token: &'a str,
    no_auth: bool,
    error: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Result<Response, UiError> {
    let form_token = random_token();
    let page = SignInPage {
        layout: Layout::anonymous("Sign in"),
        next,
        form_token: &form_token,
        no_auth: state.keyring.disabled,
        error,
    };
    let mut response = render(&page)?;
    *response.status_mut() = status;
    let set = cookie::set(
        cookie::SIGN_IN,
        &form_token,
        Attributes {
            path: "/sign-in",
            max_age_s: SIGN_IN_FORM_TTL_S,
            secure: secure(state),
        },
    );
    if let Ok(value) = HeaderValue::from_str(&set) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /sign-in`.
pub async fn show(
    State(state): State<AppState>,
    Query(query): Query<NextQuery>,
) -> Result<Response, UiError> {
    sign_in_page(&state, StatusCode::OK, safe_next(query.next.as_deref()), None)
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    form_token: String,
    next: Option<String>,
}

/// `POST /sign-in`: the token is checked like a bearer token of the public API; the answer never repeats it.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, UiError> {
    let next = safe_next(form.next.as_deref());
    let cookies = cookies(&headers);
    let expected = cookie::read(&cookies, cookie::SIGN_IN).unwrap_or("");
    let form_ok = !expected.is_empty()
        && expected.len() == form.form_token.len()
        && bool::from(expected.as_bytes().ct_eq(form.form_token.as_bytes()));
    if !form_ok {
        return sign_in_page(
            &state,
            StatusCode::FORBIDDEN,
            next,
            Some(
                "This sign-in form has expired or did not come from this page (its CSRF token is missing). Try again.",
            ),
        );
    }
    let token = form.token.trim();
    let digest = CredentialDigest::of(token);
    let accepted = state.keyring.disabled || (!token.is_empty() && state.keyring.accepts_api_token(&digest));
    if !accepted {
        let message = if token.is_empty() {
            "Enter an API token of this server."
        } else {
            "That is not an API token of this server (an internal API key is not one either)."
        };
        return sign_in_page(&state, StatusCode::UNAUTHORIZED, next, Some(message));
    }
    let value = random_token();
    let now = time::now_ms();
    let row = UiSessionRow {
        token_digest: if state.keyring.disabled {
            String::new()
        } else {
            digest.to_hex()
        },
        csrf: random_token(),
        expires_ms: now + (SESSION_TTL_S as i64) * 1000,
    };
    state
        .store
        .create_ui_session(&CredentialDigest::of(&value).to_hex(), &row, now)
        .await?;
    let secure = secure(&state);
    let mut response = Redirect::to(next).into_response();
    let session = cookie::set(
        cookie::SESSION,
        &value,
        Attributes {
            path: "/",
            max_age_s: SESSION_TTL_S,
            secure,
        },
    );
    for set in [session, cookie::clear(cookie::SIGN_IN, "/sign-in", secure)] {
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// `POST /sign-out`.
pub async fn sign_out(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    state.store.delete_ui_session(&posted.viewer.id_digest).await?;
    let mut response = Redirect::to("/sign-in").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie::clear(cookie::SESSION, "/", secure(&state))) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn safe_next_keeps_only_paths_of_this_site() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, "/"),
            (Some("/sessions?status=failed"), "/sessions?status=failed"),
            (Some("/"), "/"),
            (Some("//evil.example/x"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("sessions"), "/"),
            (Some(""), "/"),
            (Some("/a\r\nSet-Cookie: x=1"), "/"),
        ];
        for (next, want) in cases {
            assert_eq!(safe_next(*next), *want, "{next:?}");
        }
    }
}
