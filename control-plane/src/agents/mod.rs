//! Agents kept in the control plane (DESIGN.md §9), as pure decisions; the store runs them inside its
//! transactions and the routes wire them up.
//!
//! - `definition`: a PUT body checked (the checks of `POST /execute`, from `protocol::validate`, plus
//!   DESIGN §9's) and turned into the version to store; a stored version turned into an answer.
//! - `databases`: the `databases` of a definition, their URLs sealed like `secrets` (issue 15).
//! - `secrets`: the PUT semantics of `secrets` (omitted keeps all; `{"set": true}` keeps one).
//! - `packages`: `packages.npm` pinned into a lockfile by npm when a version is made (`--npm-registry`).
//! - `job`: a claimed session as the `ExecuteRequest` a runtime runs.
//! - `put`, `queue`: the shared paths of a PUT and of queueing a session (the JSON API and the UI).

pub mod databases;
pub mod definition;
pub mod job;
pub mod packages;
pub mod put;
pub mod queue;
pub mod secrets;

#[cfg(test)]
mod tests;
