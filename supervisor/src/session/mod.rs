//! Sessions: admission of `POST /execute`, the per-session task, and how output becomes events.
//!
//! Layout, values first: `request` validates an `ExecuteRequest` into a `Prepared` session; `workspace`
//! writes its directories and files; `env` builds its environment; `lines` and `log` turn output into
//! events; `outcome` is the status decision. State: `entry` is one session, `table` all of them.
//! Behaviour: `launch` admits and starts one, `supervise` owns its process until `session.finished`,
//! `packages` installs a job's packages before its agent starts, `pump` reads its output, `refused` records a claimed job that could not start as a `failed` session.

pub(crate) mod entry;
pub(crate) mod env;
pub(crate) mod launch;
mod lines;
pub(crate) mod log;
pub(crate) mod outcome;
mod packages;
mod pump;
pub(crate) mod refused;
pub(crate) mod removed;
pub(crate) mod request;
mod supervise;
pub(crate) mod table;
pub(crate) mod workspace;
