//! The session row as a projection of its events.
//!
//! Pure functions over [`SessionRow`]: the store calls [`apply`] for every newly stored event, in seq order,
//! inside the ingest transaction. Fields that several events can set carry the seq they came from (`result_seq`),
//! so a batch that arrives out of order can never replace a later value by an earlier one.

use protocol::{Event, SessionStatus};
use serde_json::Value;

use crate::store::SessionRow;

/// The agent id shown for a session whose `session.started` has not been seen yet.
pub const UNKNOWN_AGENT: &str = "unknown";

/// Updates `row` with what `event` says about the session.
pub fn apply(row: &mut SessionRow, event: &Event) {
    let seq = event.seq as i64;
    row.last_seq = Some(row.last_seq.map_or(seq, |last| last.max(seq)));
    if seq == 0 {
        row.created_at = event.ts.clone();
    }
    match event.kind.as_str() {
        "session.started" => session_started(row, event),
        "session.finished" => session_finished(row, event),
        "result" => result(row, event, seq),
        "system" => system(row, event),
        _ => {}
    }
    // A runtime still sending events for a session the control plane marked lost (it stopped hearing from
    // the runtime) is evidently alive. A session the supervisor itself finished as lost (`finished_at` set)
    // stays lost: events below its `session.finished` may arrive after it, with two batches in flight.
    if row.status == SessionStatus::Lost && row.finished_at.is_none() && event.kind != "session.finished" {
        row.status = SessionStatus::Running;
    }
}

fn data(event: &Event) -> Value {
    serde_json::from_str(event.data.get()).unwrap_or(Value::Null)
}

fn str_field(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn session_started(row: &mut SessionRow, event: &Event) {
    let data = data(event);
    if let Some(agent) = str_field(&data, "agentId") {
        row.agent_id = Some(agent);
    }
    if let Some(pid) = data.get("pid").and_then(Value::as_i64) {
        row.pid = Some(pid);
    }
    row.started_at = Some(event.ts.clone());
    if row.status == SessionStatus::Pending {
        row.status = SessionStatus::Running;
    }
}

fn session_finished(row: &mut SessionRow, event: &Event) {
    let data = data(event);
    let status = str_field(&data, "status")
        .and_then(|s| s.parse::<SessionStatus>().ok())
        .filter(|s| s.is_finished())
        .unwrap_or(SessionStatus::Failed);
    row.status = status;
    row.finished_at = Some(event.ts.clone());
    row.exit_code = data.get("exitCode").and_then(Value::as_i64);
    row.signal = str_field(&data, "signal");
    row.error = str_field(&data, "error");
    // The supervisor's totals are a fallback: the latest `result` message is the source of truth.
    if row.result_seq.is_none() {
        if let Some(turns) = data.get("numTurns").and_then(Value::as_i64) {
            row.num_turns = Some(turns);
        }
        if let Some(cost) = data.get("totalCostUsd").and_then(Value::as_f64) {
            row.total_cost_usd = Some(cost);
        }
    }
}

fn result(row: &mut SessionRow, event: &Event, seq: i64) {
    if row.result_seq.is_some_and(|known| known > seq) {
        return;
    }
    let data = data(event);
    row.result_seq = Some(seq);
    // `total_cost_usd` is cumulative per query(): the latest replaces, never adds.
    row.num_turns = data.get("num_turns").and_then(Value::as_i64).or(row.num_turns);
    row.total_cost_usd = data
        .get("total_cost_usd")
        .and_then(Value::as_f64)
        .or(row.total_cost_usd);
    row.result_text = str_field(&data, "result");
}

fn system(row: &mut SessionRow, event: &Event) {
    let data = data(event);
    if data.get("subtype").and_then(Value::as_str) == Some("init")
        && let Some(model) = str_field(&data, "model")
    {
        row.model = Some(model);
    }
}

/// The highest seq such that every seq from 0 to it is stored, given the previous answer and the seqs stored
/// above it (ascending).
pub fn contiguous(acked: Option<i64>, stored_above: impl IntoIterator<Item = i64>) -> Option<i64> {
    let mut acked = acked;
    for seq in stored_above {
        let next = acked.map_or(0, |a| a + 1);
        if seq < next {
            continue;
        }
        if seq != next {
            break;
        }
        acked = Some(seq);
    }
    acked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_stops_at_the_first_gap() {
        assert_eq!(contiguous(None, [0, 1, 2, 4]), Some(2));
        assert_eq!(contiguous(None, [1, 2]), None);
        assert_eq!(contiguous(Some(3), [4, 5, 7]), Some(5));
        assert_eq!(contiguous(Some(3), [3, 4]), Some(4));
        assert_eq!(contiguous(Some(3), []), Some(3));
    }
}
