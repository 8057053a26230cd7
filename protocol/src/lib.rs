//! Wire types shared by `agent-supervisor`, `agentctl` and the agent runner.
//!
//! This is the only crate whose types derive serde for the wire (DESIGN.md §2–5), so a field cannot drift
//! between the side that writes it and the side that reads it. Every type serialises as camelCase JSON and
//! absent values are `null`, never missing (one exception: an ingest answer's `rejected` is left out when
//! empty, so an answer without refusals reads as it did before the field existed).
//!
//! Layout:
//! - `auth`: the token of an `Authorization: Bearer` header, read alike by both servers.
//! - `ids`: `AgentId` and `SessionId`, parsed (not merely validated) from strings.
//! - `event`: the numbered `Event`, the rule for a valid event `type`, and the data of the supervisor's own
//!   lifecycle events.
//! - `session`: `Session`, `SessionStatus` and the control plane's `SessionDetail`.
//! - `execute`: `POST /execute` request and answer, and the job spec the runner reads on stdin.
//! - `databases`: an agent's database connections and a job's (issue 15).
//! - `agent`: agent definitions, queued sessions and conversations (DESIGN.md §9).
//! - `packages`: the packages an agent needs installed (`packages.npm` and its pinned lockfile).
//! - `trigger`: trigger definitions, previews and deliveries (DESIGN.md §10).
//! - `validate`: the checks of a request's context, shared by the supervisor and the control plane.
//! - `api`: error body, health, cancel, the internal ingest/heartbeat/claim messages and the runtime list.

mod agent;
mod api;
mod auth;
mod databases;
mod event;
mod execute;
mod ids;
mod npm_registry;
mod packages;
mod session;
mod trigger;
pub mod validate;

pub use agent::{
    Agent, AgentList, AgentVersion, AgentVersions, Conversation, QueueSessionRequest, QueuedSession,
    SecretField, SecretState,
};
pub use api::{
    CancelResponse, ClaimRequest, ClaimResponse, Command, ErrorBody, ErrorDetail, EventBatch, EventPage,
    Health, HealthSessions, Heartbeat, HeartbeatResponse, IngestResponse, LegacyLogEntry,
    LegacySessionStatus, RuntimeInfo, RuntimeList, RuntimeState, SessionList, SessionsResponse,
};
pub use auth::bearer_token;
pub use databases::{AgentDatabase, DatabaseSpec, MIN_REDACTED_PASSWORD};
pub use event::{
    Event, EventSource, INVALID_EVENT_TYPE, MAX_EVENT_TYPE_BYTES, OutputStream, OutputTruncated,
    SessionFinished, SessionStarted, event_type_problem,
};
pub use execute::{
    AgentOptions, ConversationState, ExecuteRequest, ExecuteResponse, FileEncoding, FileSpec, RunnerJob,
    SkillSpec, StorageSpec,
};
pub use ids::{AgentId, InvalidId, SessionId, TriggerId};
pub use npm_registry::NpmRegistry;
pub use packages::Packages;
pub use session::{Session, SessionDetail, SessionStatus};
pub use trigger::{
    Delivery, DeliveryList, DeliveryReply, DeliveryStatus, PreviewRequest, PreviewResponse, ReplyKind,
    ReplyStatus, SignatureEncoding, Trigger, TriggerKind, TriggerList, TriggerReply, TriggerVerify,
    VerifyScheme,
};

#[cfg(test)]
mod tests;
