//! The control plane's integration tests: one binary (see STYLE.md). Store and HTTP tests run on SQLite and
//! on PostgreSQL (`DATABASE_URL`, an admin URL; `eval "$(scripts/pg.sh start)"` starts a throwaway cluster).

mod agents;
mod api;
mod cli;
mod cli_agents;
mod cli_hardening;
mod cli_logging;
mod cli_transcript;
mod cli_triggers;
mod cli_triggers_test;
mod connections;
mod conversation;
mod corrupt;
mod credentials;
mod debounce;
mod deliveries;
mod dispatch;
mod exclusive;
mod follow;
mod harness;
mod helpers;
mod history;
mod hooks;
mod ingest;
mod logged_serve;
mod rejections;
mod replier;
mod replies;
mod runtimes;
mod secret_leak;
mod secrets;
mod seed;
mod stand_ins;
mod triggers;
mod ui;
