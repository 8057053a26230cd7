//! The event store: PostgreSQL or SQLite behind one type.
//!
//! **Invariant:** all SQL of the control plane lives in this module; routes and the CLI never build SQL.
//! Both backends run the same code: every statement is written once and compiled against each backend by
//! the `with_conn!`/`with_pool!` macros of `backend.rs`, the only file that knows there are two backends;
//! the few statements that differ (bulk insert, row locks, lists bound as JSON) get their variant there.
//!
//! Writes on SQLite go through a pool of exactly one connection, so two writers never race for SQLite's
//! write lock (a deferred transaction that reads and then writes would fail with `SQLITE_BUSY` instead of
//! waiting). On PostgreSQL, row locks taken in session-id order serialise writers of the same session, also
//! across replicas.
//!
//! - `backend`: the pools, transactions, migrations and the per-backend statement variants;
//!   `migrations`: both backends' migration files, embedded.
//! - `error`: [`StoreError`] and how a database error is classified (unavailable, insert race).
//! - `rows`: the rows as read (`sqlx::FromRow`, by column name) and their conversion to [`SessionRow`] and `Event`, where
//!   stored data that does not parse becomes [`StoreError::Corrupt`].
//! - `sessions`, `events`, `runtimes`: the statements on each table.
//! - `ingest`: one group commit; `projection`: the pure event → session-row projection; `copy`: the
//!   PostgreSQL `COPY` text encoding.
//! - `seed`: the seed-compatible routes (`/api/internal/logs`, `/api/internal/sessions/status`).
//! - `doorbell`: NOTIFY/LISTEN between replicas (PostgreSQL).
//! - `agents`: agent definitions and their immutable versions; `queue`: queued sessions and
//!   conversations; `claim`: claims (`FOR UPDATE SKIP LOCKED`) and their leases.
//! - `conversation`: the pieces of sessions' conversation state (stored at ingest, read at claim time).
//! - `triggers`: trigger definitions and their sealed secrets (DESIGN §10); `deliveries`: what
//!   `POST /hooks/{id}` stores before it answers (dedupe, conversation keys, the session); `bursts`: debounced
//!   deliveries flushed into one session; `delivery_list`: the deliveries list and replay; `scope`: which
//!   deliveries are serialised; `trigger_conversations`: conversation keys → conversations; `replies`: the
//!   reply worker's claims and outcomes.
//! - `session_pages`: the web UI's pages of sessions and of one session's events (one index scan each).
//! - `credentials`: digests of the credentials `agentctl serve` generated.
//! - `retention`: the retention sweep's scan and bounded deletions; `retention_plan`: its pure decisions
//!   (what may go, what a conversation keeps, how deletions are cut into transactions).

mod agents;
mod backend;
mod bursts;
mod claim;
mod conversation;
mod copy;
mod credentials;
mod deliveries;
mod delivery_list;
mod doorbell;
mod error;
mod events;
mod ingest;
mod migrations;
pub mod projection;
mod queue;
mod replies;
mod retention;
pub mod retention_plan;
mod rows;
mod runtimes;
mod scope;
mod seed;
mod session_pages;
mod sessions;
mod trigger_conversations;
mod triggers;
mod ui_sessions;

use protocol::SessionStatus;

pub use agents::{AgentPlan, AgentVersionRow, PutError, PutOutcome, StoredSecret};
pub use backend::{Backend, Store};
pub use bursts::{Flush, Flushed, WaitingBurst, WaitingDelivery};
pub use claim::{Claimed, Expired};
pub use deliveries::{Acceptance, Accepted, Received, StoredAttachment};
pub use delivery_list::{DeliveryRow, Replay, Replayed, ReplyRow};
pub use doorbell::DOORBELL_CHANNEL;
pub use error::StoreError;
pub use ingest::{BatchOutcome, CommitResult, IngestBatch, Refusal};
pub use queue::{NewQueued, QueueOutcome, QueuedRow};
pub use replies::{DueReply, ReplyOutcome};
pub use retention::Cursor as RetentionCursor;
pub use rows::SessionRow;
pub use seed::{SeedRefusal, legal_transition};
pub use session_pages::SessionPage;
pub use triggers::{TriggerPlan, TriggerPut, TriggerRow};
pub use ui_sessions::UiSessionRow;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Filters of `GET /api/v1/sessions`.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub status: Option<SessionStatus>,
    pub agent_id: Option<String>,
    /// Only sessions older than this row id (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// What `POST /api/v1/sessions/{id}/cancel` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Queued,
    /// A session that was still queued: cancelled at once, it never ran.
    Dequeued,
    AlreadyFinished(SessionStatus),
}
