//! `agent-supervisor`: PID 1 of the agent runtime container.
//!
//! It serves the HTTP API of DESIGN.md §3, starts one agent process per session, reaps every process
//! that ends in its PID namespace, turns the agents' output into numbered events in a durable local
//! log, and shuts down without losing a line.
//!
//! Layout:
//! - `config`: the one typed configuration (flags and environment).
//! - `startup`: everything decided once before serving (token, runner, user, runtime id).
//! - `process`: the sole reaper, spawning into a clean session, signalling process groups.
//! - `session`: admission, workspace and environment of a session, and the task that supervises it.
//! - `eventlog`: the append-only per-session log files and their readers.
//! - `proxy`: the credential proxy that holds the Anthropic API key for the agents.
//! - `recover`: start-up recovery of earlier incarnations' sessions from their logs.
//! - `ship`: delivery of events to the control plane, from the local log.
//! - `http`: routes, auth and errors.
//! - `signals` and `run`: signal handling and the shutdown sequence.

pub mod config;
pub mod eventlog;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod process;
pub mod proxy;
pub mod recover;
pub mod redact;
pub mod runtime;
pub mod session;
pub mod ship;
pub mod signals;
pub mod startup;

pub use signals::run;
