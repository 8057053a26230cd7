//! The oracle: what the agents emitted and the supervisor logged, against what the control plane stored,
//! counted as missing, duplicated and corrupted events; and the pass criteria every case reports against.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fixtures::{Agent, agent_cmd, expected_line, line_n};
use crate::support::{ControlPlane, Sup, eventually};

/// The supervisor's memory cap for every case.
const RSS_CAP_KIB: u64 = 64 * 1024;
/// A fresh line must be stored this soon after a fault ends.
const LIVENESS: Duration = Duration::from_secs(10);
/// How long the oracle waits for the control plane to catch up with the local log.
const SETTLE: Duration = Duration::from_secs(180);

/// The records of a session's local log whose checksum holds, and the number of corrupt ones.
pub(crate) fn local_log(state: &Path, id: &str) -> (Vec<Value>, usize) {
    let Ok(data) = std::fs::read(state.join("sessions").join(format!("{id}.log"))) else {
        return (Vec::new(), 0);
    };
    let mut events = Vec::new();
    let mut corrupt = 0;
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Some(tab) = line.iter().rposition(|b| *b == b'\t') else {
            corrupt += 1;
            continue;
        };
        let (json, crc) = (&line[..tab], &line[tab + 1..]);
        let ok = std::str::from_utf8(crc)
            .ok()
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .is_some_and(|c| c == crc32fast::hash(json));
        match serde_json::from_slice::<Value>(json) {
            Ok(event) if ok => events.push(event),
            _ => corrupt += 1,
        }
    }
    (events, corrupt)
}

#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) emitted: u64,
    pub(crate) local: usize,
    pub(crate) stored: usize,
    pub(crate) db_rows: i64,
    pub(crate) missing: usize,
    pub(crate) dup: usize,
    pub(crate) corrupted: usize,
    /// Allowed gaps (dead-lettered batches, records the test itself corrupted).
    pub(crate) excused: usize,
    pub(crate) problems: Vec<String>,
}

/// What may legitimately be absent from the control plane: by seq, and by line number.
#[derive(Debug, Default, Clone)]
pub(crate) struct Excused {
    pub(crate) seqs: BTreeSet<u64>,
    pub(crate) lines: BTreeSet<u64>,
}

/// Waits until the control plane holds every local event of each agent (or `SETTLE` passes; `wait`
/// false: no waiting), then counts.
pub(crate) async fn tally(
    cp: &ControlPlane,
    state: &Path,
    agents: &[Agent],
    excused: &HashMap<String, Excused>,
    wait: bool,
) -> Tally {
    let mut total = Tally::default();
    let none = Excused::default();
    for agent in agents {
        let id = agent.id.as_str();
        let excused = excused.get(id).unwrap_or(&none);
        let (local, _) = local_log(state, id);
        let want = local
            .iter()
            .filter(|e| !excused.seqs.contains(&e["seq"].as_u64().unwrap()))
            .count();
        let mut stored = Vec::new();
        // Whether it settled is what the counts below say.
        eventually(if wait { SETTLE } else { Duration::ZERO }, async || {
            stored = cp.try_events(id).await.unwrap_or_default();
            stored.len() >= want
        })
        .await;
        let rows = cp.rows(id).await;

        // Duplicates: a seq twice in the API, a line twice under different seqs, extra rows.
        let mut by_seq: BTreeMap<u64, &Value> = BTreeMap::new();
        let mut dup = 0;
        for event in &stored {
            if by_seq.insert(event["seq"].as_u64().unwrap(), event).is_some() {
                dup += 1;
            }
        }
        let mut line_count: BTreeMap<u64, usize> = BTreeMap::new();
        let mut corrupted = 0;
        for event in &stored {
            if let Some(n) = line_n(event, id) {
                *line_count.entry(n).or_default() += 1;
                if event["data"] != expected_line(id, n) {
                    corrupted += 1;
                }
            }
        }
        dup += line_count.values().map(|c| c - 1).sum::<usize>();
        if rows as usize > by_seq.len() {
            dup += rows as usize - by_seq.len();
            total.problems.push(format!(
                "{id}: {rows} rows in the database, {} distinct events in the API",
                by_seq.len()
            ));
        }

        // Corrupted: differs from the local record of the same seq.
        let mut missing = 0;
        let mut local_lines = BTreeMap::new();
        for event in &local {
            let seq = event["seq"].as_u64().unwrap();
            if let Some(n) = line_n(event, id) {
                local_lines.insert(n, seq);
            }
            match by_seq.get(&seq) {
                Some(stored) if *stored != event => corrupted += 1,
                Some(_) => {}
                None if excused.seqs.contains(&seq) => total.excused += 1,
                None => missing += 1,
            }
        }
        // Missing: a line the agent emitted (and the supervisor read) that is not stored. Lines absent from
        // the local log are counted here too; the ones in it were counted above.
        let emitted = if agent.complete {
            agent.n
        } else {
            local_lines.keys().next_back().copied().unwrap_or(0)
        };
        for n in 1..=emitted {
            if line_count.contains_key(&n) || local_lines.contains_key(&n) {
                continue;
            }
            if excused.lines.contains(&n) {
                total.excused += 1;
            } else {
                missing += 1;
            }
        }
        if missing > 0 || dup > 0 || corrupted > 0 {
            total.problems.push(format!(
                "{id}: emitted {emitted}, local {}, stored {}, missing {missing}, dup {dup}, corrupted {corrupted}",
                local.len(),
                stored.len()
            ));
        }
        total.emitted += emitted;
        total.local += local.len();
        total.stored += stored.len();
        total.db_rows += rows;
        total.missing += missing;
        total.dup += dup;
        total.corrupted += corrupted;
    }
    total
}

/// Starts a one-line session and returns how long after `fault_end` its line was stored.
pub(crate) async fn liveness(sup: &Sup, cp: &ControlPlane, fault_end: Instant, tag: &str) -> Duration {
    let id = format!("live-{tag}");
    sup.run_cmd(&id, &agent_cmd(&id, 1, 1, "0")).await;
    // A line stored later than this fails the liveness bound anyway; the report shows how late it was.
    eventually(Duration::from_secs(60), async || {
        cp.try_events(&id)
            .await
            .is_some_and(|events| events.iter().any(|e| line_n(e, &id) == Some(1)))
    })
    .await;
    fault_end.elapsed()
}

/// Prints the case's row and asserts the pass criteria.
pub(crate) fn report(case: &str, tally: &Tally, live: Option<Duration>, peak_kib: u64, note: &str) {
    let live_text = live.map_or("-".to_owned(), |l| format!("{:.1}", l.as_secs_f64()));
    println!(
        "FAULTS|{case:<28}|{:>8}|{:>8}|{:>8}|{:>7}|{:>4}|{:>9}|{:>7}|{:>10}|{:>8.1}|{note}",
        tally.emitted,
        tally.stored,
        tally.db_rows,
        tally.missing,
        tally.dup,
        tally.corrupted,
        tally.excused,
        live_text,
        peak_kib as f64 / 1024.0,
    );
    for problem in &tally.problems {
        println!("  {case}: {problem}");
    }
    assert_eq!(tally.missing, 0, "{case}: missing events: {:?}", tally.problems);
    assert_eq!(tally.dup, 0, "{case}: duplicates: {:?}", tally.problems);
    assert_eq!(tally.corrupted, 0, "{case}: corrupted: {:?}", tally.problems);
    if let Some(live) = live {
        assert!(
            live <= LIVENESS,
            "{case}: a fresh line took {live:?} after the fault"
        );
    }
    assert!(
        peak_kib <= RSS_CAP_KIB,
        "{case}: supervisor RSS peaked at {peak_kib} KiB (cap {RSS_CAP_KIB} KiB)"
    );
}

pub(crate) fn header() {
    println!(
        "FAULTS|{:<28}|{:>8}|{:>8}|{:>8}|{:>7}|{:>4}|{:>9}|{:>7}|{:>10}|{:>8}|note",
        "case",
        "emitted",
        "stored",
        "db rows",
        "missing",
        "dup",
        "corrupted",
        "excused",
        "liveness s",
        "RSS MiB"
    );
}

pub(crate) async fn wait_all_finished(sup: &Sup, agents: &[Agent]) {
    for agent in agents {
        sup.wait_finished(&agent.id, Duration::from_secs(300)).await;
    }
}
