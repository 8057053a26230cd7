//! Counters for `GET /metrics`, in the Prometheus text format.
//!
//! A handful of atomics rendered by hand: the set is small and fixed, and a metrics crate would add more
//! code to the static binary than this file has lines.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::SessionStatus;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) sessions_started: AtomicU64,
    pub(crate) spawn_failures: AtomicU64,
    finished: [AtomicU64; SessionStatus::ALL.len()],
    pub(crate) events_written: AtomicU64,
    pub(crate) output_truncated: AtomicU64,
    pub(crate) log_write_errors: AtomicU64,
    pub(crate) requests_rejected: AtomicU64,
    pub(crate) events_delivered: AtomicU64,
    pub(crate) delivery_retries: AtomicU64,
    pub(crate) delivery_dead_letters: AtomicU64,
    pub(crate) delivery_misconfigured: AtomicU64,
    pub(crate) sessions_removed: AtomicU64,
}

/// Values that are read from elsewhere when rendering.
#[derive(Debug)]
pub(crate) struct Gauges {
    pub(crate) sessions_running: usize,
    /// Finished sessions whose local log is still on disk.
    pub(crate) sessions_retained: usize,
    pub(crate) orphans_reaped: u64,
    pub(crate) uptime_seconds: u64,
}

impl Metrics {
    pub(crate) fn session_finished(&self, status: SessionStatus) {
        let index = SessionStatus::ALL
            .iter()
            .position(|s| *s == status)
            .expect("ALL lists every status");
        self.finished[index].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counter(
            "supervisor_sessions_started_total",
            "Agent processes started.",
            get(&self.sessions_started),
        );
        counter(
            "supervisor_spawn_failures_total",
            "Agent processes that could not be started.",
            get(&self.spawn_failures),
        );
        counter(
            "supervisor_events_written_total",
            "Events appended to local logs.",
            get(&self.events_written),
        );
        counter(
            "supervisor_output_truncated_total",
            "Lines cut at --max-line or output dropped past --max-output.",
            get(&self.output_truncated),
        );
        counter(
            "supervisor_log_write_errors_total",
            "Failed writes to local event logs.",
            get(&self.log_write_errors),
        );
        counter(
            "supervisor_requests_rejected_total",
            "API requests answered with a 4xx.",
            get(&self.requests_rejected),
        );
        counter(
            "supervisor_events_delivered_total",
            "Events the control plane confirmed.",
            get(&self.events_delivered),
        );
        counter(
            "supervisor_delivery_retries_total",
            "Event batches sent again after a failure.",
            get(&self.delivery_retries),
        );
        counter(
            "supervisor_delivery_dead_letters_total",
            "Event batches the control plane rejected (kept in the dead-letter directory).",
            get(&self.delivery_dead_letters),
        );
        counter(
            "supervisor_delivery_misconfigured_total",
            "Batch attempts a destination refused as misconfigured (a 4xx other than 400, 413, 422); kept and retried.",
            get(&self.delivery_misconfigured),
        );
        counter(
            "supervisor_sessions_removed_total",
            "Finished sessions whose local log and directories retention removed after delivery.",
            get(&self.sessions_removed),
        );
        counter(
            "supervisor_orphans_reaped_total",
            "Adopted processes reaped.",
            gauges.orphans_reaped,
        );
        let _ = writeln!(
            out,
            "# HELP supervisor_sessions_finished_total Sessions finished, by status."
        );
        let _ = writeln!(out, "# TYPE supervisor_sessions_finished_total counter");
        for (status, count) in SessionStatus::ALL.iter().zip(&self.finished) {
            let _ = writeln!(
                out,
                "supervisor_sessions_finished_total{{status=\"{status}\"}} {}",
                get(count)
            );
        }
        let _ = write!(
            out,
            "# HELP supervisor_sessions_running Agent processes running now.\n# TYPE supervisor_sessions_running gauge\nsupervisor_sessions_running {}\n",
            gauges.sessions_running
        );
        let _ = write!(
            out,
            "# HELP supervisor_sessions_retained Finished sessions whose local log is still on disk.\n# TYPE supervisor_sessions_retained gauge\nsupervisor_sessions_retained {}\n",
            gauges.sessions_retained
        );
        let _ = write!(
            out,
            "# HELP supervisor_uptime_seconds Seconds since start.\n# TYPE supervisor_uptime_seconds gauge\nsupervisor_uptime_seconds {}\n",
            gauges.uptime_seconds
        );
        out
    }
}
