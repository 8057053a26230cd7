//! The session row as a projection of its events.
//!
//! Pure functions over [`SessionRow`]: the store calls [`apply`] for every newly stored event, in seq order,
//! inside the ingest transaction. Fields that several events can set carry the seq they came from (`result_seq`),
//! so a batch that arrives out of order can never replace a later value by an earlier one.
//!
//! History is not rewritten: only the supervisor's own `session.started`/`session.finished` (source
//! `supervisor`) move the status (an agent printing a line of that type does not; the supervisor's
//! `packages.installing` moves a `pending` session to `running`, the claim taken), and a final status is
//! final (`finished_at` set): a later `session.finished` or `session.started` is stored but changes nothing.
//! A session the control plane marked `lost` (no `finished_at`) still takes its runtime's own final status.

use protocol::{Event, EventSource, SessionStatus};
use serde_json::Value;

use crate::store::SessionRow;

/// The agent id shown for a session whose `session.started` has not been seen yet.
pub const UNKNOWN_AGENT: &str = "unknown";

/// Updates `row` with what `event` says about the session.
pub fn apply(row: &mut SessionRow, event: &Event) {
    let seq = event.seq as i64;
    row.last_seq = Some(row.last_seq.map_or(seq, |last| last.max(seq)));
    // A session queued here (an agent's, DESIGN §9) was created when it was queued; the supervisor's first
    // event only says when a runtime admitted it.
    if seq == 0 && row.agent_version.is_none() {
        row.created_at = event.ts.clone();
    }
    let from_supervisor = event.source == EventSource::Supervisor;
    match event.kind.as_str() {
        "session.started" if from_supervisor => session_started(row, event),
        "session.finished" if from_supervisor => session_finished(row, event),
        // The runtime installs the job's packages before `session.started` (issue 15): it has the claim, so
        // the session is no longer `pending` and its lease does not send it to another runtime meanwhile.
        "packages.installing" if from_supervisor && row.status == SessionStatus::Pending => {
            row.status = SessionStatus::Running;
        }
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
    // A finished session keeps the start it had; one whose `session.finished` arrived first takes this one.
    if row.finished_at.is_some() && row.started_at.is_some() {
        return;
    }
    let data = data(event);
    if let Some(agent) = str_field(&data, "agentId") {
        row.agent_id = Some(agent);
    }
    if let Some(pid) = data.get("pid").and_then(Value::as_i64) {
        row.pid = Some(pid);
    }
    row.started_at = Some(event.ts.clone());
    // `queued`: a runtime whose `session.started` arrived after the claim's lease had put the session back in
    // the queue (the claim needs an unowned row, so the session is not handed out again).
    if matches!(row.status, SessionStatus::Pending | SessionStatus::Queued) {
        row.status = SessionStatus::Running;
    }
}

fn session_finished(row: &mut SessionRow, event: &Event) {
    if row.finished_at.is_some() {
        return;
    }
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
    use expect_test::{Expect, expect};
    use protocol::{EventSource, SessionId};
    use serde_json::value::RawValue;

    use super::*;

    fn pending() -> SessionRow {
        SessionRow {
            id: 1,
            session_id: SessionId::parse("s-1").expect("a valid id"),
            agent_id: None,
            runtime_id: Some("rt-1".into()),
            status: SessionStatus::Pending,
            pid: None,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            exit_code: None,
            signal: None,
            last_seq: None,
            acked_seq: None,
            num_turns: None,
            total_cost_usd: None,
            result_seq: None,
            model: None,
            result_text: None,
            error: None,
            cancel_requested_ms: None,
            conversation_id: None,
            agent_version: None,
        }
    }

    /// Applies `(seq, type, data)` events in the order given to a pending row (a lost one with
    /// `start: Lost`) and shows the fields the projection sets. Types `session.*` and `packages.*` come from the supervisor,
    /// the others from the agent; `agent:session.finished` is the agent printing that type.
    #[track_caller]
    fn check(start: SessionStatus, events: &[(u64, &str, &str)], expect: Expect) {
        let mut row = pending();
        row.status = start;
        for &(seq, kind, data) in events {
            let (source, kind) = match kind.strip_prefix("agent:") {
                Some(kind) => (EventSource::Agent, kind),
                None if kind.starts_with("session.") || kind.starts_with("packages.") => {
                    (EventSource::Supervisor, kind)
                }
                None => (EventSource::Agent, kind),
            };
            let event = Event {
                session_id: row.session_id.clone(),
                seq,
                ts: format!("t{seq}"),
                source,
                kind: kind.to_owned(),
                data: RawValue::from_string(data.to_owned()).expect("test data is JSON"),
            };
            apply(&mut row, &event);
        }
        let shown = format!(
            "status={:?} agent={:?} pid={:?} created={:?} started={:?} finished={:?} last_seq={:?}\n\
             exit={:?} signal={:?} error={:?} turns={:?} cost={:?} result_seq={:?} result={:?} model={:?}",
            row.status,
            row.agent_id,
            row.pid,
            row.created_at,
            row.started_at,
            row.finished_at,
            row.last_seq,
            row.exit_code,
            row.signal,
            row.error,
            row.num_turns,
            row.total_cost_usd,
            row.result_seq,
            row.result_text,
            row.model,
        );
        expect.assert_eq(&shown);
    }

    const STARTED: &str = r#"{"agentId":"reviewer","pid":42,"runtimeId":"rt-1","runner":"node"}"#;
    const INIT: &str = r#"{"type":"system","subtype":"init","model":"claude-x"}"#;
    const RESULT_1: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01,"result":"first"}"#;
    const RESULT_2: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":3,"total_cost_usd":0.044615999999999996,"result":"second"}"#;
    const SUCCEEDED: &str = r#"{"status":"succeeded","exitCode":0,"signal":null,"durationMs":5,"numTurns":9,"totalCostUsd":9.0,"error":null}"#;

    #[test]
    fn a_queued_session_started_late_runs_and_keeps_the_time_it_was_queued() {
        let mut row = pending();
        row.status = SessionStatus::Queued;
        row.agent_version = Some(1);
        row.created_at = "queued-at".into();
        let event = Event {
            session_id: row.session_id.clone(),
            seq: 0,
            ts: "t0".into(),
            source: EventSource::Supervisor,
            kind: "session.started".into(),
            data: RawValue::from_string(STARTED.to_owned()).expect("test data is JSON"),
        };
        apply(&mut row, &event);
        expect![[r#"Running queued-at Some("t0")"#]].assert_eq(&format!(
            "{:?} {} {:?}",
            row.status, row.created_at, row.started_at
        ));
    }

    #[test]
    fn the_session_row_is_a_projection_of_its_events() {
        check(
            SessionStatus::Pending,
            &[
                (0, "session.started", STARTED),
                (1, "system", INIT),
                (2, "result", RESULT_1),
                (3, "result", RESULT_2),
                (4, "session.finished", SUCCEEDED),
            ],
            expect![[r#"
                status=Succeeded agent=Some("reviewer") pid=Some(42) created="t0" started=Some("t0") finished=Some("t4") last_seq=Some(4)
                exit=Some(0) signal=None error=None turns=Some(3) cost=Some(0.044615999999999996) result_seq=Some(3) result=Some("second") model=Some("claude-x")"#]],
        );
        // A runtime installing the job's packages has taken the claim: no longer `pending`, not started yet.
        check(
            SessionStatus::Pending,
            &[(0, "packages.installing", r#"{"manager":"npm"}"#)],
            expect![[r#"
                status=Running agent=None pid=None created="t0" started=None finished=None last_seq=Some(0)
                exit=None signal=None error=None turns=None cost=None result_seq=None result=None model=None"#]],
        );
        // An agent printing that type moves nothing.
        check(
            SessionStatus::Pending,
            &[(0, "agent:packages.installing", r#"{"manager":"npm"}"#)],
            expect![[r#"
                status=Pending agent=None pid=None created="t0" started=None finished=None last_seq=Some(0)
                exit=None signal=None error=None turns=None cost=None result_seq=None result=None model=None"#]],
        );
        // The latest result wins even when the batch holding it arrived first.
        check(
            SessionStatus::Pending,
            &[(3, "result", RESULT_2), (2, "result", RESULT_1)],
            expect![[r#"
                status=Pending agent=None pid=None created="" started=None finished=None last_seq=Some(3)
                exit=None signal=None error=None turns=Some(3) cost=Some(0.044615999999999996) result_seq=Some(3) result=Some("second") model=None"#]],
        );
        // Without a result, the supervisor's totals are the fallback; an unknown final status is `failed`.
        check(
            SessionStatus::Running,
            &[(
                7,
                "session.finished",
                r#"{"status":"bogus","exitCode":1,"signal":"SIGKILL","numTurns":2,"totalCostUsd":0.5,"error":"killed"}"#,
            )],
            expect![[r#"
                status=Failed agent=None pid=None created="" started=None finished=Some("t7") last_seq=Some(7)
                exit=Some(1) signal=Some("SIGKILL") error=Some("killed") turns=Some(2) cost=Some(0.5) result_seq=None result=None model=None"#]],
        );
        // A session the control plane marked lost comes back to life with its runtime's next event ...
        check(
            SessionStatus::Lost,
            &[(5, "assistant", r#"{"type":"assistant"}"#)],
            expect![[r#"
                status=Running agent=None pid=None created="" started=None finished=None last_seq=Some(5)
                exit=None signal=None error=None turns=None cost=None result_seq=None result=None model=None"#]],
        );
        // ... but one the supervisor finished as lost stays lost when earlier events arrive late.
        check(
            SessionStatus::Running,
            &[
                (
                    9,
                    "session.finished",
                    r#"{"status":"lost","exitCode":null,"error":"supervisor restarted"}"#,
                ),
                (8, "assistant", r#"{"type":"assistant"}"#),
            ],
            expect![[r#"
                status=Lost agent=None pid=None created="" started=None finished=Some("t9") last_seq=Some(9)
                exit=None signal=None error=Some("supervisor restarted") turns=None cost=None result_seq=None result=None model=None"#]],
        );
        // A `session.started` does not move a finished session back to running.
        check(
            SessionStatus::Pending,
            &[
                (4, "session.finished", SUCCEEDED),
                (0, "session.started", STARTED),
            ],
            expect![[r#"
                status=Succeeded agent=Some("reviewer") pid=Some(42) created="t0" started=Some("t0") finished=Some("t4") last_seq=Some(4)
                exit=Some(0) signal=None error=None turns=Some(9) cost=Some(9.0) result_seq=None result=None model=None"#]],
        );
    }

    #[test]
    fn a_final_status_is_final() {
        const FAILED: &str = r#"{"status":"failed","exitCode":1,"error":"rewritten"}"#;
        // A second `session.finished`, and a `session.started` after it, change nothing.
        check(
            SessionStatus::Pending,
            &[
                (0, "session.started", STARTED),
                (1, "session.finished", SUCCEEDED),
                (2, "session.finished", FAILED),
                (3, "session.started", r#"{"agentId":"other","pid":7}"#),
                (4, "text", r#"{"text":"late"}"#),
            ],
            expect![[r#"
                status=Succeeded agent=Some("reviewer") pid=Some(42) created="t0" started=Some("t0") finished=Some("t1") last_seq=Some(4)
                exit=Some(0) signal=None error=None turns=Some(9) cost=Some(9.0) result_seq=None result=None model=None"#]],
        );
        // Only the supervisor finishes a session: an agent printing `session.finished` does not.
        check(
            SessionStatus::Running,
            &[
                (1, "agent:session.finished", SUCCEEDED),
                (2, "agent:session.started", r#"{"agentId":"other","pid":7}"#),
            ],
            expect![[r#"
                status=Running agent=None pid=None created="" started=None finished=None last_seq=Some(2)
                exit=None signal=None error=None turns=None cost=None result_seq=None result=None model=None"#]],
        );
        // A session the control plane marked lost takes its runtime's own final status.
        check(
            SessionStatus::Lost,
            &[(5, "session.finished", FAILED)],
            expect![[r#"
                status=Failed agent=None pid=None created="" started=None finished=Some("t5") last_seq=Some(5)
                exit=Some(1) signal=None error=Some("rewritten") turns=None cost=None result_seq=None result=None model=None"#]],
        );
    }

    #[test]
    fn contiguous_stops_at_the_first_gap() {
        assert_eq!(contiguous(None, [0, 1, 2, 4]), Some(2));
        assert_eq!(contiguous(None, [1, 2]), None);
        assert_eq!(contiguous(Some(3), [4, 5, 7]), Some(5));
        assert_eq!(contiguous(Some(3), [3, 4]), Some(4));
        assert_eq!(contiguous(Some(3), []), Some(3));
    }
}
