//! Start-up recovery: the sessions of earlier incarnations, from their logs in the state directory.
//!
//! Every log is scanned once (streamed, never loaded whole); a torn tail is cut off and corrupt records are
//! counted, never a reason to refuse to start. A session whose log has no `session.finished` lost its
//! process with the previous incarnation: it is finished as `lost`, with the next seq. Sessions with events
//! the control plane has not confirmed are handed to the shipper again, from their cursor.

use std::sync::Arc;

use protocol::{AgentId, EventSource, Session, SessionFinished, SessionId};
use tokio::sync::watch;

use crate::eventlog::{LogWriter, Progress, now_ts, scan_and_repair};
use crate::session::entry::SessionEntry;
use crate::session::outcome::{Ending, Facts, decide};
use crate::ship::cursor;
use crate::state::AppState;

/// What recovery found, for the start-up log line.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) sessions: usize,
    pub(crate) lost: usize,
    pub(crate) corrupt_records: u64,
    pub(crate) torn_bytes: u64,
    pub(crate) resumed_deliveries: usize,
}

/// Kills what still runs as a uid of `--uid-range` (agents of an earlier incarnation that was not PID 1, or
/// whose namespace outlived it), so that no session starts as a uid in use. A uid whose processes survive
/// SIGKILL is withheld from the pool.
pub(crate) async fn end_leftover_processes(state: &AppState) {
    if state.sessions.free_uids().is_none() {
        return;
    }
    for uid in crate::process::uids_in_use(state.config.uid_range) {
        match crate::process::kill_uid(&state.reaper, uid, std::time::Duration::from_secs(10)).await {
            Ok(()) => tracing::info!(
                uid,
                "killed the processes an earlier incarnation left running as this uid"
            ),
            Err(err) => {
                state.sessions.withhold_uid(uid);
                tracing::error!(uid, error = %err, "processes of an earlier incarnation survived; the uid is not used");
            }
        }
    }
}

pub(crate) fn recover(state: &AppState) -> Recovered {
    let mut summary = Recovered::default();
    let dir = state.sessions_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) => {
            tracing::error!(dir = %dir.display(), error = %err, "read state directory; starting without old sessions");
            return summary;
        }
    };
    let mut recovered = Vec::new();
    for file in entries.flatten() {
        let path = file.path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| SessionId::parse(s).ok())
        else {
            tracing::warn!(path = %path.display(), "ignoring a log whose name is not a session id");
            continue;
        };
        match recover_one(state, &id, &path, &mut summary) {
            Ok(entry) => recovered.push(entry),
            Err(err) => tracing::error!(session_id = %id, error = ?err, "recover session log; skipped"),
        }
    }
    // The table lists sessions in creation order.
    recovered.sort_by(|a, b| a.snapshot().created_at.cmp(&b.snapshot().created_at));
    for entry in recovered {
        if let Some(dest) = &state.control_plane {
            let acked = cursor::read(&entry.log_path);
            let last = entry.progress.borrow().last_seq;
            if last.is_some_and(|last| acked.is_none_or(|a| a < last)) {
                state
                    .shippers
                    .for_destination(dest.clone())
                    .track(entry.clone(), acked);
                summary.resumed_deliveries += 1;
            }
        }
        state.sessions.insert_finished(entry);
        summary.sessions += 1;
    }
    summary
}

fn recover_one(
    state: &AppState,
    id: &SessionId,
    path: &std::path::Path,
    summary: &mut Recovered,
) -> anyhow::Result<Arc<SessionEntry>> {
    use anyhow::Context;
    let mut scan = scan_and_repair(path).context("scan")?;
    summary.corrupt_records += scan.corrupt;
    summary.torn_bytes += scan.torn_bytes;
    if scan.corrupt > 0 || scan.torn_bytes > 0 {
        tracing::warn!(session_id = %id, corrupt = scan.corrupt, torn_bytes = scan.torn_bytes, "repaired session log");
    }
    let started: serde_json::Value = scan
        .started
        .as_ref()
        .and_then(|d| serde_json::from_str(d.get()).ok())
        .unwrap_or_default();
    let agent_id = started["agentId"]
        .as_str()
        .and_then(|a| AgentId::parse(a).ok())
        .unwrap_or_else(|| AgentId::parse("unknown").expect("a valid agent id"));
    let finished = match scan
        .finished
        .as_ref()
        .and_then(|d| serde_json::from_str::<SessionFinished>(d.get()).ok())
    {
        Some(finished) => finished,
        None => {
            // Its process died with the previous incarnation of the supervisor.
            let decision = decide(&Facts {
                ending: Ending::Lost,
                result: None,
                sdk_messages: 0,
                last_stderr_line: None,
                timeout: state.config.session_timeout,
                after_result_grace: state.config.after_result_grace,
            });
            let lost = SessionFinished {
                status: decision.status,
                exit_code: None,
                signal: None,
                duration_ms: 0,
                num_turns: None,
                total_cost_usd: None,
                error: decision.error,
                stderr_tail: None,
            };
            let mut writer =
                LogWriter::reopen(path, id.clone(), scan.valid_len, scan.last_seq).context("reopen")?;
            let ts = now_ts();
            let seq = writer.push_value(&ts, EventSource::Supervisor, "session.finished", &lost);
            writer.finish().context("append session.finished")?;
            scan.valid_len = writer.progress().committed_len;
            scan.last_seq = Some(seq);
            scan.last_ts = Some(ts);
            summary.lost += 1;
            state.metrics.session_finished(lost.status);
            tracing::warn!(session_id = %id, "session was running when the supervisor stopped; finished as lost");
            lost
        }
    };
    let progress = Progress {
        committed_len: scan.valid_len,
        last_seq: scan.last_seq,
        finished: true,
    };
    let (_, receiver) = watch::channel(progress);
    let session = Session {
        session_id: id.clone(),
        agent_id,
        status: finished.status,
        pid: started["pid"].as_u64().and_then(|p| u32::try_from(p).ok()),
        created_at: scan.first_ts.clone().unwrap_or_default(),
        started_at: scan.first_ts.clone(),
        finished_at: scan.last_ts.clone(),
        exit_code: finished.exit_code,
        signal: finished.signal.clone(),
        last_seq: scan.last_seq,
        num_turns: finished.num_turns,
        total_cost_usd: finished.total_cost_usd,
        error: finished.error.clone(),
        conversation_id: None,
        agent_version: None,
    };
    Ok(Arc::new(SessionEntry::recovered(
        session,
        path.to_owned(),
        receiver,
    )))
}
