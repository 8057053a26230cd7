//! `agent-supervisor`: PID 1 of the agent runtime container.
//!
//! It serves the HTTP API of DESIGN.md §3, starts one agent process per session, reaps every process
//! that ends in its PID namespace, turns the agents' output into numbered events in a durable local
//! log, and shuts down without losing a line.
//!
//! Layers (a module names only modules of its own layer or below):
//! - values: `secret`, `random`, `redact`, `metrics`, `labels`, `eventlog`, `process`, `packages` (the npm
//!   cache: its installs run through `process`), the value modules of
//!   `session` (`request`, `workspace`, `env`, `lines`, `log`, `outcome`, `removed`) and of `retention`
//!   (`decide`, `ledger`);
//! - config: `config` (flags and environment), `startup` (what is decided once before serving);
//! - state: `session::entry`, `session::table`, `ship::destination`, `ship::shippers`, `state`;
//! - behaviour: `session::{launch, packages, supervise, pump, refused}`, the shippers' tasks, `retention::sweep`,
//!   `dispatch` (the one way a session starts, and the pull loop), `proxy`, `recover`, `http`, `signals`,
//!   `drain`, `lifetime` (`--max-jobs`, `--exit-when-idle`), `shutdown`,
//!   `healthcheck`, and `app`, the composition that `main` calls.

#![warn(unreachable_pub)]

pub mod app;
mod config;
mod dispatch;
mod drain;
mod eventlog;
mod healthcheck;
mod http;
mod labels;
mod lifetime;
mod metrics;
mod packages;
mod process;
mod proxy;
mod random;
mod recover;
mod redact;
mod retention;
mod secret;
mod session;
mod ship;
mod shutdown;
mod signals;
mod startup;
mod state;
