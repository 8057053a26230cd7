//! Delivery of events to the control plane (DESIGN.md §4): at-least-once shipping from the local log.
//!
//! One `Shipper` per destination (the configured control plane, or a request's `storage`). It has one
//! request in flight, or two while the logs hold more than a full batch: the control plane may then commit
//! a session's batches out of order (it acks only the gap-free prefix), but outcomes are applied here in
//! the order the batches were read. A session's cursor (the highest seq the destination confirmed) is kept
//! in `<state>/sessions/<id>.acked`; an event leaves the local log only in the sense that the cursor passes
//! it — the log itself is never edited.
//!
//! Invariants:
//! - Nothing is dropped silently: a batch is retried (transport errors, 408, 429, 5xx) until accepted,
//!   split on 413, and only an answer that says the batch itself is invalid (400, 422) moves it to the
//!   dead-letter directory, with a metric and an error log. Any other refusal (404, 401, …) is a
//!   misconfigured destination: retried slowly, counted, logged once a minute, nothing lost.
//! - The cursor only moves forward, and only past events the destination answered 2xx for (or that were
//!   dead-lettered). A session the answer names in `rejected` (another runtime owns it, or an event is
//!   invalid) is reported in its log and shipped no more (its cursor becomes `cursor::REJECTED`); the
//!   other sessions of the batch were stored and keep flowing.
//!
//! Layout: `destination` (where, with which key), `shippers` (one shipper per destination, started on
//! first use), `shipper` (the delivery loop), `batch` (reading logs into batches), `transport` (the HTTP
//! requests and what an answer's status means; the claims of `dispatch` go through it too), `backoff`, `cursor`, `dead_letter`, `rejection`, `heartbeat`, `commands` (what
//! answers ask for), `context` (what shippers use of the supervisor).

pub(crate) mod backoff;
mod batch;
mod commands;
pub(crate) mod context;
pub(crate) mod cursor;
mod dead_letter;
pub(crate) mod destination;
mod heartbeat;
mod rejection;
pub(crate) mod shipper;
pub(crate) mod shippers;
pub(crate) mod transport;

use std::time::Duration;

/// Batches close at the first of these (reference/delivery-and-ingest.md §6).
const BATCH_MAX_BYTES: usize = 1 << 20;
const BATCH_MAX_EVENTS: usize = 2000;
const LINGER: Duration = Duration::from_millis(200);
