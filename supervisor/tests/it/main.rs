//! Integration tests of `agent-supervisor`: the real binary, real processes, real PID namespaces.
// The harness waits for the processes it starts itself; the sole-reaper rule is the supervisor's.
#![allow(clippy::disallowed_methods)]
// A failed unwrap in a test is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // Not every helper is used by every test module.
mod support;

mod agents_e2e;
mod api;
mod context;
mod conversation;
mod conversation_cp;
mod databases;
mod delivery;
mod destinations;
mod dispatch;
mod drain;
mod faults;
mod hardening;
mod isolation;
mod lifecycle;
mod lifetime;
mod output;
mod packages;
mod pid1;
mod proxy;
mod pull;
mod recovery;
mod rejections;
mod retention;
mod sdk;
mod secret_flags;
mod triggers_e2e;
mod ui_browser;
