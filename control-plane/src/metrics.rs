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
    /// Sessions handed to runtimes by claims.
    pub claims: AtomicU64,
    /// Claimed sessions not started within the lease (requeued or failed).
    pub lease_expiries: AtomicU64,
    /// Sessions, and their events, deleted by `--retention`.
    pub retention_deleted_sessions: AtomicU64,
    pub retention_deleted_events: AtomicU64,
    /// How long claims waited before they answered (jobs or empty).
    pub claim_wait: Histogram,
    /// From queuing a session to handing it to a runtime.
    pub queue_to_claim: Histogram,
    /// From queuing a session to its `session.started` (seen by the lease sweep, so up to a second late).
    pub queue_to_start: Histogram,
}

/// Upper bounds of the latency buckets, in milliseconds.
const BUCKETS_MS: [u64; 13] = [
    1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
];

/// A Prometheus histogram of durations (seconds in the text format).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: u64) {
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            if ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            let le = *bound as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{le}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn observe_claim_wait(&self, waited: std::time::Duration) {
        self.claim_wait
            .observe_ms(u64::try_from(waited.as_millis()).unwrap_or(u64::MAX));
    }

    pub fn observe_queue_to_claim(&self, ms: i64) {
        self.queue_to_claim.observe_ms(u64::try_from(ms).unwrap_or(0));
    }

    pub fn observe_queue_to_start(&self, ms: i64) {
        self.queue_to_start.observe_ms(u64::try_from(ms).unwrap_or(0));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 13] = [
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
            (
                "agentctl_claims_total",
                "queued sessions handed to runtimes",
                &self.claims,
            ),
            (
                "agentctl_lease_expiries_total",
                "claimed sessions not started within the claim lease",
                &self.lease_expiries,
            ),
            (
                "agentctl_retention_deleted_sessions_total",
                "finished sessions deleted by --retention",
                &self.retention_deleted_sessions,
            ),
            (
                "agentctl_retention_deleted_events_total",
                "events of sessions deleted by --retention",
                &self.retention_deleted_events,
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
        self.claim_wait.render(
            &mut out,
            "agentctl_claim_wait_seconds",
            "how long a claim waited before it answered",
        );
        self.queue_to_claim.render(
            &mut out,
            "agentctl_queue_to_claim_seconds",
            "from queuing a session to a runtime claiming it",
        );
        self.queue_to_start.render(
            &mut out,
            "agentctl_queue_to_start_seconds",
            "from queuing a session to its session.started event",
        );
        out
    }
}
