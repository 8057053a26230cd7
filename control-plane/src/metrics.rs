//! Counters for `GET /metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub ingest_batches: AtomicU64,
    pub ingest_rejected: AtomicU64,
    pub ingest_unavailable: AtomicU64,
    pub events_inserted: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
    pub group_commits: AtomicU64,
    pub heartbeats: AtomicU64,
    pub followers: AtomicI64,
    pub sessions_lost: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 9] = [
            (
                "agentctl_ingest_batches_total",
                "event batches answered 200",
                &self.ingest_batches,
            ),
            (
                "agentctl_ingest_rejected_total",
                "event batches refused (4xx)",
                &self.ingest_rejected,
            ),
            (
                "agentctl_ingest_unavailable_total",
                "event batches answered 503",
                &self.ingest_unavailable,
            ),
            (
                "agentctl_events_inserted_total",
                "events stored",
                &self.events_inserted,
            ),
            (
                "agentctl_events_duplicate_total",
                "events received again and not stored twice",
                &self.events_duplicate,
            ),
            (
                "agentctl_events_rejected_total",
                "events of sessions an ingest answer refused (invalid, or another runtime's)",
                &self.events_rejected,
            ),
            (
                "agentctl_group_commits_total",
                "ingest transactions committed",
                &self.group_commits,
            ),
            (
                "agentctl_heartbeats_total",
                "runtime heartbeats",
                &self.heartbeats,
            ),
            (
                "agentctl_sessions_lost_total",
                "sessions marked lost",
                &self.sessions_lost,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP agentctl_followers live SSE followers\n# TYPE agentctl_followers gauge\nagentctl_followers {}",
            self.followers.load(Ordering::Relaxed)
        );
        out
    }
}
