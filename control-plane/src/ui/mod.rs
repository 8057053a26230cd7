//! The web UI of `agentctl serve` (DESIGN.md §11): server-rendered pages (askama templates in
//! `control-plane/templates/`, auto-escaped) with htmx and its SSE extension for live parts, all embedded in
//! the binary (`assets`). Off with `--no-ui`.
//!
//! - `auth`: sign-in with an API token → session cookie; [`auth::Viewer`], the extractor every page takes.
//! - `form`: [`form::Posted`], the CSRF-checked form every POST takes.
//! - `page`: the layout, rendering, the error page; `headers`: CSP and the other headers of every answer.
//! - `cookie`, `format`: pure helpers.
//! - One module per section: `runtimes`, `sessions`, `agents`, `triggers`, `conversations`.
//!
//! Pages read the store directly, as the JSON handlers of `crate::http` do, and change things only through
//! the same store calls those handlers make.

mod agents;
pub mod assets;
pub mod auth;
mod conversations;
pub mod cookie;
pub mod form;
pub mod format;
pub mod headers;
pub mod page;
mod runtimes;
mod sessions;
mod triggers;

use axum::Router;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::http::AppState;

/// The UI's routes, merged into the API's router by `crate::http::router` unless `--no-ui`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/sessions") }))
        .route("/sign-in", get(auth::show).post(auth::submit))
        .route("/sign-out", post(auth::sign_out))
        .route("/runtimes", get(runtimes::list))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", get(sessions::show))
        .route("/sessions/{id}/head", get(sessions::head))
        .route("/sessions/{id}/transcript", get(sessions::earlier))
        .route("/sessions/{id}/live", get(sessions::live))
        .route("/sessions/{id}/download.jsonl", get(sessions::download))
        .route("/sessions/{id}/events/{seq}", get(sessions::event))
        .route("/sessions/{id}/cancel", post(sessions::cancel))
        .route("/agents", get(agents::list).post(agents::create))
        .route("/agents/new", get(agents::new))
        .route("/agents/{id}", get(agents::show).post(agents::update))
        .route("/agents/{id}/edit", get(agents::edit))
        .route(
            "/agents/{id}/delete",
            get(agents::confirm_delete).post(agents::delete),
        )
        .route("/agents/{id}/versions/{version}", get(agents::version))
        .route("/agents/{id}/diff", get(agents::diff))
        .route("/agents/{id}/run", post(agents::run))
        .route("/conversations/{id}", get(conversations::show))
        .route("/triggers", get(triggers::list).post(triggers::create))
        .route("/triggers/new", get(triggers::new))
        .route("/triggers/{id}", get(triggers::show).post(triggers::update))
        .route("/triggers/{id}/edit", get(triggers::edit))
        .route(
            "/triggers/{id}/delete",
            get(triggers::confirm_delete).post(triggers::delete),
        )
        .route("/deliveries/{id}/replay", post(triggers::replay))
        .route("/assets/{name}", get(assets::asset))
        .layer(middleware::from_fn(headers::security))
}
