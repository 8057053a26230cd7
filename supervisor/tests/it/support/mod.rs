//! The test harness, one for the crate: a real `agent-supervisor` process (optionally PID 1 of a fresh PID
//! namespace), the control plane it ships to (in-process, killable), `fake-anthropic` and the real SDK
//! runner, the processes below a supervisor, and one way to wait for a condition.

mod browser;
mod browser_commands;
mod browser_driver;
mod control_plane;
mod dispatcher;
mod events;
mod model;
mod process;
mod provider_posts;
mod refusal;
mod relay;
mod stand_in;
mod supervisor;
mod wait;

pub(crate) use browser::*;
pub(crate) use control_plane::*;
pub(crate) use dispatcher::*;
pub(crate) use events::*;
pub(crate) use model::*;
pub(crate) use process::*;
pub(crate) use provider_posts::*;
pub(crate) use refusal::*;
pub(crate) use relay::*;
pub(crate) use stand_in::*;
pub(crate) use supervisor::*;
pub(crate) use wait::*;
