//! `agentctl serve --retention DUR`: a background task that deletes finished sessions older than that, with
//! their events and the rows only they own, in bounded transactions so ingest keeps flowing. What may go is
//! decided by `store::retention_plan`; the statements are `store::retention`'s.
//!
//! Every period (a quarter of the retention, at most a minute, at least a second) a sweep walks the
//! sessions finished before now − retention, oldest first, [`SCAN`] at a time: the deletable ones go in
//! transactions of at most [`MAX_SESSIONS`] sessions and about [`MAX_EVENTS`] events, with [`PAUSE`]
//! between them, so the one SQLite writer and PostgreSQL's locks are free for ingest most of the time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::retention_plan::{Step, conversation_floor, decide, steps};
use crate::store::{RetentionCursor, Store, StoreError};

/// Sessions one scan reads, and at most one transaction deletes.
pub const SCAN: u32 = 500;
pub const MAX_SESSIONS: usize = 500;
/// About the most events one transaction deletes.
pub const MAX_EVENTS: u64 = 50_000;
/// The pause between two deleting transactions.
pub const PAUSE: Duration = Duration::from_millis(50);

/// `--retention`: how long finished sessions are kept; `None`: for ever (`off`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention(pub Option<Duration>);

/// `--retention`'s value: a duration as the other flags of `serve` take one (`30d`, `12h`), or `off`.
pub fn parse_flag(text: &str) -> Result<Retention, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Retention(None));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e}: give a duration such as 30d or 12h, or `off`"))?;
    if duration < Duration::from_secs(1) {
        return Err("must be at least 1s (or `off`)".into());
    }
    Ok(Retention(Some(duration)))
}

/// How often the sweep runs for a retention: a quarter of it, at most a minute, at least a second.
pub fn period(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub events: u64,
}

/// Runs the sweep every [`period`] until `shutdown`.
pub async fn run(store: Store, metrics: Arc<Metrics>, retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(period(retention));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        let cutoff_ms = crate::time::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        match sweep(&store, &metrics, cutoff_ms, &shutdown).await {
            Ok(swept) if swept.sessions > 0 || swept.events > 0 => tracing::info!(
                sessions = swept.sessions,
                events = swept.events,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "retention: deleted old finished sessions"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "retention sweep"),
        }
    }
}

/// One sweep: deletes what may go of the sessions finished before `cutoff_ms`, counting it in `metrics`
/// as it goes. Stops early on `shutdown`.
pub async fn sweep(
    store: &Store,
    metrics: &Metrics,
    cutoff_ms: i64,
    shutdown: &CancellationToken,
) -> Result<Swept, StoreError> {
    let cutoff = crate::time::rfc3339_ms(cutoff_ms);
    let mut swept = Swept::default();
    let mut cursor: Option<RetentionCursor> = None;
    // A floor only moves up while the sweep runs (an idle conversation made live again is kept by the
    // deletion's guard): one read per conversation and sweep keeps enough.
    let mut floors: HashMap<String, i64> = HashMap::new();
    let mut first = true;
    loop {
        let page = store.retention_candidates(&cutoff, cursor.as_ref(), SCAN).await?;
        let Some((_, last)) = page.last() else {
            return Ok(swept);
        };
        cursor = Some(last.clone());
        let mut doomed = Vec::new();
        for (candidate, _) in &page {
            let floor = match &candidate.conversation_id {
                None => None,
                Some(conversation) => match floors.get(conversation) {
                    Some(floor) => Some(*floor),
                    None => {
                        let floor =
                            conversation_floor(&store.conversation_facts(conversation, &cutoff).await?);
                        floors.insert(conversation.clone(), floor);
                        Some(floor)
                    }
                },
            };
            if decide(candidate, cutoff_ms, floor).is_ok() {
                doomed.push((candidate.session_id.clone(), candidate.events));
            }
        }
        for step in steps(&doomed, MAX_SESSIONS, MAX_EVENTS) {
            if shutdown.is_cancelled() {
                return Ok(swept);
            }
            if !first {
                tokio::time::sleep(PAUSE).await;
            }
            first = false;
            let ids = match step {
                Step::Delete(ids) => ids,
                Step::Trim(id) => {
                    loop {
                        let n = store.trim_events(&id, MAX_EVENTS).await?;
                        swept.events += n;
                        Metrics::add(&metrics.retention_deleted_events, n);
                        if n < MAX_EVENTS || shutdown.is_cancelled() {
                            break;
                        }
                        tokio::time::sleep(PAUSE).await;
                    }
                    vec![id]
                }
            };
            let (sessions, events) = store.delete_sessions(&ids).await?;
            swept.sessions += sessions;
            swept.events += events;
            Metrics::add(&metrics.retention_deleted_sessions, sessions);
            Metrics::add(&metrics.retention_deleted_events, events);
        }
        if page.len() < SCAN as usize {
            return Ok(swept);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{parse_flag, period};

    #[test]
    fn the_flag_takes_a_duration_or_off() {
        let cases: &[(&str, Result<Option<u64>, &str>)] = &[
            ("off", Ok(None)),
            ("OFF", Ok(None)),
            ("30d", Ok(Some(30 * 86_400))),
            ("12h", Ok(Some(12 * 3_600))),
            ("1s", Ok(Some(1))),
            ("500ms", Err("must be at least 1s")),
            ("0s", Err("must be at least 1s")),
            ("forever", Err("give a duration")),
            ("", Err("give a duration")),
            ("-1d", Err("give a duration")),
        ];
        for (text, want) in cases {
            let got = parse_flag(text).map(|r| r.0.map(|d| d.as_secs()));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn the_sweep_runs_every_quarter_of_the_retention_between_a_second_and_a_minute() {
        let cases = [(1, 1), (2, 1), (8, 2), (120, 30), (240, 60), (30 * 86_400, 60)];
        for (retention, want) in cases {
            assert_eq!(
                period(Duration::from_secs(retention)),
                Duration::from_secs(want),
                "{retention}s"
            );
        }
    }
}
