//! Start-up recovery: the sessions of earlier incarnations, from their logs in the state directory.
//!
//! Every log is scanned once (streamed, never loaded whole); a torn tail is cut off and corrupt records are
//! counted, never a reason to refuse to start. A session whose log has no `session.finished` lost its
//! process with the previous incarnation: it is finished as `lost`, with the next seq. Sessions with events
//! the control plane has not confirmed are handed to the shipper again, from their cursor.

use std::sync::Arc;

use protocol::{AgentId, EventSource, Session, SessionFinished, SessionId, SessionStatus};
use tokio::sync::watch;

use crate::eventlog::{LogWriter, Progress, scan_and_repair};
use crate::runtime::Runtime;
use crate::session::{SessionEntry, now_ts};

/// What recovery found, for the start-up log line.
#[derive(Debug, Default)]
pub struct Recovered {
    pub sessions: usize,
    pub lost: usize,
    pub corrupt_records: u64,
    pub torn_bytes: u64,
    pub resumed_deliveries: usize,
}

pub fn recover(runtime: &Arc<Runtime>) -> Recovered {
    let mut summary = Recovered::default();
    let dir = runtime.sessions_dir();
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
        match recover_one(runtime, &id, &path, &mut summary) {
            Ok(entry) => recovered.push(entry),
            Err(err) => tracing::error!(session_id = %id, error = ?err, "recover session log; skipped"),
        }
    }
    // The table lists sessions in creation order.
    recovered.sort_by(|a, b| a.snapshot().created_at.cmp(&b.snapshot().created_at));
    let destination = crate::ship::configured(
        runtime.config.control_plane_url.as_deref(),
        runtime.secrets.iter().find(|s| s.name == "INTERNAL_API_KEY"),
    );
    for entry in recovered {
        if let Some(dest) = &destination {
            let acked = std::fs::read_to_string(crate::ship::cursor_path(&entry.log_path))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            let last = entry.progress.borrow().last_seq;
            if last.is_some_and(|last| acked.is_none_or(|a| a < last)) {
                runtime
                    .shippers
                    .for_destination(runtime, dest.clone())
                    .track(entry.clone(), acked);
                summary.resumed_deliveries += 1;
            }
        }
        let mut table = runtime.table();
        table.order.push(entry.id.clone());
        table.by_id.insert(entry.id.clone(), entry);
        summary.sessions += 1;
    }
    summary
}

fn recover_one(
    runtime: &Runtime,
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
            let lost = SessionFinished {
                status: SessionStatus::Lost,
                exit_code: None,
                signal: None,
                duration_ms: 0,
                num_turns: None,
                total_cost_usd: None,
                error: Some("the supervisor restarted while the session was running".to_owned()),
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
            runtime.metrics.session_finished(SessionStatus::Lost);
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
    };
    Ok(Arc::new(SessionEntry::recovered(
        session,
        path.to_owned(),
        receiver,
    )))
}
