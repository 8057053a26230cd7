//! `agentctl`: the Agent Studio control plane and its session CLI.
//!
//! Layout:
//! - `store`: PostgreSQL or SQLite behind one type; all SQL lives there. The session row is a projection of
//!   the session's events (`store::projection`), updated in the ingest transaction.
//! - `ingest`: validation of event batches and the group-commit writer that stores them; `event_time`: an
//!   event's time clamped to the server's clock.
//! - `follow`: wake-ups for live followers: in-process broadcast, plus a PostgreSQL NOTIFY doorbell between
//!   replicas and a poll fallback.
//! - `http`: the internal (supervisor) and public APIs, auth and error bodies.
//! - `server`: `agentctl serve`: configuration, startup, background tasks, shutdown; `connections`: its
//!   accept loop (connection cap, header-read and idle timeouts); `serve_args`: its flags, secrets never on
//!   argv (`trigger_flags`: the hook's and the reply worker's); `database_url`: whether a database URL holds a password, and the URL with it hidden; `exclusive`:
//!   one server per SQLite file; `credentials`: the credentials it generates.
//! - `retention`: `serve --retention`, the task that deletes old finished sessions in bounded batches.
//! - `conversation`: `conversation.state` pieces diverted from the event log at ingest, and joined into the
//!   next job's `conversation` at claim time.
//! - `cli`: every other subcommand, a client of the public API; `manifest`: a definition file's text (YAML or
//!   JSON) as JSON, for `agents|triggers apply -f` and the UI's trigger form.
//! - `triggers`: inbound requests that become sessions and the answers that go back (DESIGN §10).
//! - `ui`: the web UI (DESIGN §11): server-rendered pages over the same store calls as `http`'s handlers.

pub mod agents;
pub mod cli;
pub mod connections;
pub mod conversation;
pub mod credentials;
pub mod database_url;
pub mod dispatch;
pub mod event_time;
pub mod exclusive;
pub mod follow;
pub mod http;
pub mod ingest;
pub mod manifest;
pub mod metrics;
pub mod retention;
pub mod secrets;
pub mod serve_args;
pub mod server;
pub mod store;
pub mod time;
pub mod trigger_flags;
pub mod triggers;
pub mod ui;
