//! Sessions: admission of `POST /execute`, the per-session task, and how output becomes events.
//!
//! Layout: `request` validates an `ExecuteRequest` into a `Prepared` session; `workspace` writes its
//! directories and files; `env` builds its environment; `run` is the task that owns one agent process
//! from spawn to `session.finished`; `log` and `lines` turn its output into events.

mod entry;
pub mod env;
mod lines;
mod log;
mod request;
mod run;
pub mod workspace;

pub use entry::SessionEntry;
pub use log::{ResultInfo, SessionLog};
pub use request::{Prepared, RequestError, prepare};
pub use run::{Launch, LaunchError, launch};

/// The timestamp format of events and sessions: RFC 3339, UTC, milliseconds.
pub fn now_ts() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
