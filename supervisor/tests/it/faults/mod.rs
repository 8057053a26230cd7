//! The delivery fault suite (issue 4, reference/delivery-and-ingest.md §7), each case with an oracle.
//!
//! Fake agents (the shell runner) print NDJSON lines whose content is a function of their number, so the
//! oracle knows every line that was emitted. After each fault it compares what the control plane stores
//! (its public API, paged, and the row count in its database) with the supervisor's local log (records
//! whose checksum holds) and with what the agents emitted, and counts missing, duplicated and corrupted
//! events. Pass: 0 missing, 0 duplicates, 0 corrupted, a fresh line stored within 10 s after the fault
//! ended, and the supervisor's VmRSS under `RSS_CAP_KIB` throughout.
//!
//! Quick variants run by default; `FAULTS_FULL=1` (`scripts/faults.sh --full`) runs the long ones.
//! Every case prints a `FAULTS|` row (see `scripts/faults.sh`, which gathers them into one table).
//!
//! The folder: `cases/` (one file per fault, numbered as in the results table), `oracle` (what the agents
//! emitted against what the control plane stored, and the pass criteria), `fixtures` (the fake agents,
//! PostgreSQL clusters, the memory sampler). The control plane they kill and restart is the crate's
//! (`support::ControlPlane`).

mod cases;
pub(crate) mod fixtures;
mod oracle;

/// Whether the long variants run (`FAULTS_FULL=1`, `scripts/faults.sh --full`).
pub(crate) fn full() -> bool {
    std::env::var("FAULTS_FULL").as_deref() == Ok("1")
}
