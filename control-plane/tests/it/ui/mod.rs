//! The web UI over HTTP (DESIGN §11): what a browser is sent, checked without one (the real browser's tests
//! are `supervisor/tests/it/ui_browser`). `browser`: a signed-in cookie client for these tests.

mod agents;
pub mod browser;
mod conversations;
mod sessions;
mod sessions_live;
mod sign_in;
mod triggers;
