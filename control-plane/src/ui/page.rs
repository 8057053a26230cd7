//! What every page shares: the layout (title, navigation, the browser's CSRF token), rendering a template to
//! a response, and the error page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::store::StoreError;
use crate::ui::viewer::Viewer;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Sessions,
    Agents,
    Triggers,
    Runtimes,
    /// Pages outside the navigation (sign-in, errors).
    None,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::Agents => "agents",
            Self::Triggers => "triggers",
            Self::Runtimes => "runtimes",
            Self::None => "",
        }
    }
}

/// The base template's data (`templates/base.html`): every page template has a `layout` field.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    section: Section,
    /// The signed-in browser's CSRF token: in every form, and in the `X-CSRF-Token` header of htmx requests.
    pub csrf: String,
    /// Whether the navigation and the sign-out button are shown.
    pub signed_in: bool,
    /// `--no-auth`: every page says so.
    pub no_auth: bool,
}

impl Layout {
    pub fn new(viewer: &Viewer, title: impl Into<String>, section: Section) -> Self {
        Self {
            title: title.into(),
            section,
            csrf: viewer.csrf.clone(),
            signed_in: true,
            no_auth: viewer.no_auth,
        }
    }

    /// A page shown to a browser that is not signed in.
    pub fn anonymous(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section: Section::None,
            csrf: String::new(),
            signed_in: false,
            no_auth: false,
        }
    }

    /// Whether `name` is the current section (`aria-current` in the navigation).
    pub fn is(&self, name: &str) -> bool {
        self.section.name() == name
    }

    /// The JSON of the body's `hx-headers`: htmx sends the CSRF token with every request it makes.
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ "X-CSRF-Token": self.csrf }).to_string()
    }
}

/// Whether a request is a browser's asking for a page (`Accept` names `text/html`), so an unknown path
/// gets the HTML error page rather than the API's JSON error.
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// Renders a page template (auto-escaped: agent output is text, never markup).
pub fn render<T: Template>(template: &T) -> Result<Response, UiError> {
    Ok(Html(template.render()?).into_response())
}

/// A page that could not be shown: the status and a sentence for the person who asked.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
}

impl UiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "ui: store");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database could not be read; try again shortly",
        )
    }
}

impl From<askama::Error> for UiError {
    fn from(error: askama::Error) -> Self {
        tracing::error!(error = %error, "ui: render");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this page could not be rendered",
        )
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: Layout::anonymous(format!("{}", self.status.as_u16())),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or(""),
            message: &self.message,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::wants_html;

    #[test]
    fn only_a_request_that_accepts_html_gets_the_html_error_page() {
        let cases: &[(Option<&str>, bool)] = &[
            (None, false),
            (Some("application/json"), false),
            (Some("*/*"), false),
            (Some("text/html"), true),
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                true,
            ),
            (Some("application/json, text/html;q=0.5"), true),
        ];
        for (accept, want) in cases {
            let mut headers = HeaderMap::new();
            if let Some(a) = accept {
                headers.insert(header::ACCEPT, HeaderValue::from_str(a).expect("a header"));
            }
            assert_eq!(wants_html(&headers), *want, "{accept:?}");
        }
    }
}
