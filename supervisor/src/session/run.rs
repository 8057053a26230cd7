//! Launching a session and the task that owns its agent process until `session.finished`.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use protocol::{OutputStream, RunnerJob, Session, SessionFinished, SessionStarted, SessionStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::lines::{Lines, Piece};
use super::workspace::{SessionDirs, WriteFilesError};
use super::{Prepared, SessionEntry, SessionLog, env, now_ts};
use crate::eventlog::LogWriter;
use crate::process::{ExitStatus, SpawnSpec, signal_group, signal_name};
use crate::redact::Redactor;
use crate::runtime::Runtime;

/// After the agent exits, how long its output pipes may stay open (held by a grandchild) before the
/// rest of its process group is killed.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 256 * 1024;

/// What `launch` did.
#[derive(Debug)]
pub enum Launch {
    Started(Arc<SessionEntry>),
    /// The same request was made before: nothing was started.
    Existing(Arc<SessionEntry>),
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the supervisor is shutting down")]
    ShuttingDown,
    #[error("session {0} already exists with a different request")]
    Conflict(String),
    #[error("{0} sessions are running, the limit of --max-sessions")]
    Busy(usize),
    #[error(transparent)]
    Files(WriteFilesError),
    #[error("spawn runner {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("create event log for session {session}")]
    Log {
        session: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why the supervisor stopped an agent that had not exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Cancelled,
    TimedOut,
    AfterResult,
    Shutdown,
}

/// Admits, prepares and starts a session.
pub async fn launch(runtime: &Arc<Runtime>, prepared: Prepared) -> Result<Launch, LaunchError> {
    let entry = match admit(runtime, &prepared)? {
        Launch::Existing(entry) => return Ok(Launch::Existing(entry)),
        Launch::Started(entry) => entry,
    };
    let dirs = SessionDirs::new(&runtime.config.workspace, entry.id.as_str());
    let run_as = runtime.run_as;
    let files = prepared.files.clone();
    let written = {
        let dirs = dirs.clone();
        tokio::task::spawn_blocking(move || {
            dirs.create(run_as)?;
            for file in &files {
                let components: Vec<&str> = file.components.iter().map(String::as_str).collect();
                dirs.write_file(&file.field, &components, &file.content, run_as)?;
            }
            Ok::<(), WriteFilesError>(())
        })
        .await
        .expect("writing files does not panic")
    };
    if let Err(err) = written {
        // Nothing ran: forget the session entirely so the caller can correct the request and retry.
        forget(runtime, &entry);
        return Err(LaunchError::Files(err));
    }

    let job = RunnerJob {
        session_id: entry.id.clone(),
        agent_id: entry.agent_id.clone(),
        prompt: prepared.request.prompt.clone(),
        cwd: dirs.cwd.to_string_lossy().into_owned(),
        options: prepared.request.options.clone(),
    };
    let spec = SpawnSpec {
        program: runtime.runner.program.clone(),
        args: runtime.runner.args.clone(),
        env: env::build(
            &dirs.home,
            &runtime.config.agent_env,
            &prepared.request.env,
            runtime.anthropic_proxy.as_deref(),
        ),
        cwd: dirs.cwd.clone(),
        run_as,
    };
    if let Some(dest) = destination(runtime, &prepared) {
        runtime
            .shippers
            .for_destination(runtime, dest)
            .track(entry.clone(), None);
    }
    let reaper = runtime.reaper.clone();
    let spawned = tokio::task::spawn_blocking(move || spec.spawn(&reaper))
        .await
        .expect("spawn does not panic");
    let started_at = Instant::now();
    let spawned = match spawned {
        Ok(spawned) => spawned,
        Err(source) => {
            runtime
                .metrics
                .spawn_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let error = LaunchError::Spawn {
                program: runtime.runner.program.display().to_string(),
                source,
            };
            tracing::error!(session_id = %entry.id, error = %error, "agent did not start");
            let outcome = Outcome {
                status: SessionStatus::Failed,
                exit: None,
            };
            finish(runtime, &entry, outcome, started_at, Some(error.to_string()));
            return Err(error);
        }
    };
    runtime
        .metrics
        .sessions_started
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    runtime.table().live_pgids.insert(spawned.pid);
    let ts = now_ts();
    entry.update(|s| {
        s.status = SessionStatus::Running;
        s.pid = Some(spawned.pid);
        s.started_at = Some(ts.clone());
    });
    let started = SessionStarted {
        agent_id: entry.agent_id.to_string(),
        pid: spawned.pid,
        runtime_id: runtime.runtime_id.clone(),
        runner: runtime.runner.display.clone(),
    };
    entry.with_log(|log| {
        log.supervisor(&ts, "session.started", &started);
        commit(runtime, log);
    });
    tracing::info!(session_id = %entry.id, agent_id = %entry.agent_id, pid = spawned.pid, "session started");

    let job = serde_json::to_vec(&job).expect("a job always serialises");
    let task_runtime = runtime.clone();
    let task_entry = entry.clone();
    let timeout = prepared.timeout;
    runtime.tasks.spawn(async move {
        supervise(task_runtime, task_entry, spawned, job, timeout, started_at).await;
    });
    Ok(Launch::Started(entry))
}

/// Where a session's events go: the request's `storage`, else the configured control plane.
fn destination(runtime: &Runtime, prepared: &Prepared) -> Option<crate::ship::Destination> {
    match &prepared.request.storage {
        Some(storage) => Some(crate::ship::Destination {
            url: storage.api_url.clone(),
            key: storage.api_key.clone(),
        }),
        None => crate::ship::configured(
            runtime.config.control_plane_url.as_deref(),
            runtime.secrets.iter().find(|s| s.name == "INTERNAL_API_KEY"),
        ),
    }
}

/// Checks admission and registers a pending session.
fn admit(runtime: &Arc<Runtime>, prepared: &Prepared) -> Result<Launch, LaunchError> {
    if runtime.shutdown.is_cancelled() {
        return Err(LaunchError::ShuttingDown);
    }
    let mut table = runtime.table();
    if let Some(existing) = table.by_id.get(&prepared.session_id) {
        return if existing.request_hash == prepared.request_hash {
            Ok(Launch::Existing(existing.clone()))
        } else {
            Err(LaunchError::Conflict(prepared.session_id.to_string()))
        };
    }
    if table.running >= runtime.config.max_sessions {
        return Err(LaunchError::Busy(table.running));
    }
    let log_path = runtime
        .sessions_dir()
        .join(format!("{}.log", prepared.session_id));
    let writer = LogWriter::create(&log_path, prepared.session_id.clone()).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            // A session of a previous incarnation: its seqs must never be reused.
            LaunchError::Conflict(prepared.session_id.to_string())
        } else {
            LaunchError::Log {
                session: prepared.session_id.to_string(),
                source,
            }
        }
    })?;
    let progress = writer.subscribe();
    let secrets = prepared
        .request
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(runtime.secrets.iter().map(|s| (s.name, s.value.as_str())))
        .chain(
            prepared
                .request
                .storage
                .iter()
                .filter_map(|s| s.api_key.as_deref())
                .map(|k| ("STORAGE_API_KEY", k)),
        );
    let redactor = Arc::new(Redactor::new(secrets));
    let log = SessionLog::new(writer, redactor, runtime.config.max_output);
    let session = Session {
        session_id: prepared.session_id.clone(),
        agent_id: prepared.request.agent_id.clone(),
        status: SessionStatus::Pending,
        pid: None,
        created_at: now_ts(),
        started_at: None,
        finished_at: None,
        exit_code: None,
        signal: None,
        last_seq: None,
        num_turns: None,
        total_cost_usd: None,
        error: None,
    };
    let entry = Arc::new(SessionEntry::new(
        session,
        prepared.request_hash,
        log,
        log_path,
        progress,
    ));
    table.by_id.insert(entry.id.clone(), entry.clone());
    table.order.push(entry.id.clone());
    table.running += 1;
    Ok(Launch::Started(entry))
}

fn forget(runtime: &Runtime, entry: &SessionEntry) {
    let mut table = runtime.table();
    table.by_id.remove(&entry.id);
    table.order.retain(|id| id != &entry.id);
    table.running -= 1;
    drop(table);
    entry.take_log();
    let _ = std::fs::remove_file(&entry.log_path);
}

/// Writes pending events; a failed write is counted and logged, and the events stay pending.
fn commit(runtime: &Runtime, log: &mut SessionLog) {
    match log.writer().commit() {
        Ok(records) => {
            runtime
                .metrics
                .events_written
                .fetch_add(records, std::sync::atomic::Ordering::Relaxed);
        }
        Err(err) => {
            runtime
                .metrics
                .log_write_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(path = %log.writer().path().display(), error = %err, "write event log");
        }
    }
}

/// Owns one agent process from spawn to `session.finished`.
async fn supervise(
    runtime: Arc<Runtime>,
    entry: Arc<SessionEntry>,
    spawned: crate::process::Spawned,
    job: Vec<u8>,
    timeout: Duration,
    started_at: Instant,
) {
    let pgid = spawned.pid;
    let mut exit = spawned.exit;
    tokio::spawn(write_job(spawned.stdin, job));
    let (result_tx, mut result_rx) = watch::channel(false);
    let max_line = usize::try_from(runtime.config.max_line).unwrap_or(usize::MAX);
    let mut stdout = tokio::spawn(pump(
        runtime.clone(),
        entry.clone(),
        spawned.stdout,
        OutputStream::Stdout,
        max_line,
        Some(result_tx),
    ));
    let mut stderr = tokio::spawn(pump(
        runtime.clone(),
        entry.clone(),
        spawned.stderr,
        OutputStream::Stderr,
        max_line,
        None,
    ));

    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let after_result = tokio::time::sleep(Duration::MAX);
    tokio::pin!(after_result);
    let mut result_seen = false;
    let mut reason = None;
    let status = loop {
        // Biased: when the supervisor (as PID 1) signals every process at shutdown, the agent's exit
        // can be ready at the same time as the shutdown; the stop reason must win, or a stopped session
        // would be reported as failed.
        tokio::select! {
            biased;
            () = entry.cancel.cancelled() => { reason = Some(StopReason::Cancelled); break stop(&runtime, pgid, &mut exit).await; }
            () = &mut deadline => { reason = Some(StopReason::TimedOut); break stop(&runtime, pgid, &mut exit).await; }
            () = runtime.shutdown.cancelled() => { reason = Some(StopReason::Shutdown); break stop(&runtime, pgid, &mut exit).await; }
            () = &mut after_result, if result_seen => { reason = Some(StopReason::AfterResult); break stop(&runtime, pgid, &mut exit).await; }
            status = &mut exit => break status.ok(),
            changed = result_rx.changed(), if !result_seen => {
                if changed.is_ok() && *result_rx.borrow() {
                    result_seen = true;
                    after_result.as_mut().reset(tokio::time::Instant::now() + runtime.config.after_result_grace);
                }
            }
        }
    };

    // The agent is gone, but a grandchild may still hold its pipes: give the output a moment to end,
    // then kill whatever is left of the group so no orphan outlives its session.
    entry.drain.cancel();
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        (&mut stdout).await.ok();
        (&mut stderr).await.ok();
    })
    .await
    .is_ok();
    kill_leftovers(&runtime, pgid);
    if !drained
        && tokio::time::timeout(DRAIN_DEADLINE, async {
            (&mut stdout).await.ok();
            (&mut stderr).await.ok();
        })
        .await
        .is_err()
    {
        // An escaped process (own session) keeps the pipe open: stop reading it.
        stdout.abort();
        stderr.abort();
        tracing::warn!(session_id = %entry.id, "output still open after the agent exited; stopped reading it");
    }
    runtime.table().live_pgids.remove(&pgid);

    let (status, error) = decide(&runtime, &entry, status, reason, timeout);
    finish(&runtime, &entry, status, started_at, error);
}

/// The final status and error of a session whose process ended.
fn decide(
    runtime: &Runtime,
    entry: &SessionEntry,
    exit: Option<ExitStatus>,
    reason: Option<StopReason>,
    timeout: Duration,
) -> (Outcome, Option<String>) {
    let (result, sdk_messages, stderr_tail) = entry
        .with_log(|log| (log.last_result.clone(), log.sdk_messages, log.stderr_tail()))
        .unwrap_or_default();
    let how = match exit {
        Some(ExitStatus::Exited(code)) => format!("exited with code {code}"),
        Some(ExitStatus::Signaled { signal, .. }) => format!("was killed by {}", signal_name(signal)),
        None => "ended with an unknown status".to_owned(),
    };
    let config = &runtime.config;
    let outcome = match reason {
        Some(StopReason::Cancelled) => (SessionStatus::Cancelled, Some("cancelled by request".to_owned())),
        Some(StopReason::Shutdown) => (
            SessionStatus::Cancelled,
            Some("stopped because the supervisor shut down".to_owned()),
        ),
        Some(StopReason::TimedOut) => (
            SessionStatus::TimedOut,
            Some(format!(
                "session timed out after {}",
                humantime::format_duration(timeout)
            )),
        ),
        Some(StopReason::AfterResult) => (
            SessionStatus::Failed,
            Some(format!(
                "agent was still running {} after its result; stopped",
                humantime::format_duration(config.after_result_grace)
            )),
        ),
        None => match (&result, exit) {
            (Some(r), Some(ExitStatus::Exited(0))) if r.is_success() => (SessionStatus::Succeeded, None),
            (Some(r), _) if !r.is_success() => (SessionStatus::Failed, Some(r.error_text())),
            (Some(_), _) => (
                SessionStatus::Failed,
                Some(format!("agent {how} after a successful result")),
            ),
            (None, _) if sdk_messages == 0 => {
                let last = stderr_tail
                    .as_deref()
                    .and_then(|t| t.lines().last())
                    .unwrap_or("no output");
                (
                    SessionStatus::Failed,
                    Some(format!("runner {how} before printing any SDK message: {last}")),
                )
            }
            (None, _) => (
                SessionStatus::Failed,
                Some(format!("agent {how} without a result message")),
            ),
        },
    };
    (
        Outcome {
            status: outcome.0,
            exit,
        },
        outcome.1,
    )
}

/// How a session ended.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    status: SessionStatus,
    exit: Option<ExitStatus>,
}

/// Writes `session.finished`, closes the log and frees the session's slot.
fn finish(
    runtime: &Runtime,
    entry: &SessionEntry,
    outcome: Outcome,
    started_at: Instant,
    error: Option<String>,
) {
    let Outcome { status, exit } = outcome;
    let ts = now_ts();
    let (exit_code, signal) = match exit {
        Some(ExitStatus::Exited(code)) => (Some(code), None),
        Some(ExitStatus::Signaled { signal, .. }) => (None, Some(signal_name(signal))),
        None => (None, None),
    };
    let mut log = entry.take_log();
    let (result, stderr_tail) = log
        .as_ref()
        .map(|log| (log.last_result.clone(), log.stderr_tail()))
        .unwrap_or_default();
    let finished = SessionFinished {
        status,
        exit_code,
        signal: signal.clone(),
        duration_ms: u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        num_turns: result.as_ref().and_then(|r| r.num_turns),
        total_cost_usd: result.as_ref().and_then(|r| r.total_cost_usd),
        error,
        stderr_tail: if status == SessionStatus::Succeeded {
            None
        } else {
            stderr_tail
        },
    };
    if let Some(log) = log.as_mut() {
        log.report_dropped_output(&ts);
        log.supervisor(&ts, "session.finished", &finished);
        if let Err(err) = log.writer().finish() {
            runtime
                .metrics
                .log_write_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(session_id = %entry.id, error = %err, "finish event log");
        }
    }
    entry.update(|s| {
        s.status = status;
        s.finished_at = Some(ts);
        s.exit_code = exit_code;
        s.signal = signal;
        s.num_turns = finished.num_turns;
        s.total_cost_usd = finished.total_cost_usd;
        s.error = finished.error.clone();
    });
    drop(log);
    runtime.metrics.session_finished(status);
    runtime.table().running -= 1;
    tracing::info!(session_id = %entry.id, status = %status, exit_code, signal = finished.signal, "session finished");
}

/// Stops the agent's process group: SIGTERM, then SIGKILL after `--grace` (or at once on a second
/// shutdown signal). Returns its exit status.
async fn stop(
    runtime: &Runtime,
    pgid: u32,
    exit: &mut tokio::sync::oneshot::Receiver<ExitStatus>,
) -> Option<ExitStatus> {
    if !runtime.kill_now.is_cancelled() {
        send(pgid, Signal::SIGTERM);
        tokio::select! {
            status = &mut *exit => return status.ok(),
            () = tokio::time::sleep(runtime.config.grace) => {}
            () = runtime.kill_now.cancelled() => {}
        }
    }
    send(pgid, Signal::SIGKILL);
    exit.await.ok()
}

fn send(pgid: u32, signal: Signal) {
    if let Err(err) = signal_group(pgid, signal) {
        tracing::warn!(pgid, signal = signal.as_str(), error = %err, "signal process group");
    }
}

/// SIGKILLs what is left of a finished agent's group, unless the pgid was reused by another live agent.
fn kill_leftovers(runtime: &Runtime, pgid: u32) {
    let table = runtime.table();
    // Our own pgid is still in the set; it is only unsafe when another live session reuses the number,
    // which cannot happen while our group is non-empty (the kernel keeps a pgid's number allocated).
    if table.live_pgids.contains(&pgid) {
        send(pgid, Signal::SIGKILL);
    }
}

/// Writes the job spec to the agent's stdin and closes it, so the agent reads the spec, then EOF.
async fn write_job(stdin: OwnedFd, job: Vec<u8>) {
    let result = async {
        let mut pipe = tokio::net::unix::pipe::Sender::from_owned_fd(stdin)?;
        pipe.write_all(&job).await?;
        pipe.write_all(b"\n").await
    }
    .await;
    if let Err(err) = result {
        // The agent exited or closed stdin without reading: its exit status tells the story.
        tracing::debug!(error = %err, "write job spec to agent stdin");
    }
}

/// Reads one output stream of the agent to EOF and appends it to the session's log.
async fn pump(
    runtime: Arc<Runtime>,
    entry: Arc<SessionEntry>,
    fd: OwnedFd,
    stream: OutputStream,
    max_line: usize,
    results: Option<watch::Sender<bool>>,
) {
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(pipe) => pipe,
        Err(err) => {
            tracing::error!(session_id = %entry.id, error = %err, "read agent output");
            return;
        }
    };
    let mut lines = Lines::new(max_line);
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut stderr_group: Vec<u8> = Vec::new();
    loop {
        wait_for_spool(&runtime, &entry).await;
        let n = match pipe.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(session_id = %entry.id, error = %err, "read agent output");
                break;
            }
        };
        let ts = now_ts();
        let saw_result = entry
            .with_log(|log| {
                let saw = append(
                    &runtime,
                    log,
                    &ts,
                    stream,
                    &mut lines,
                    &chunk[..n],
                    &mut stderr_group,
                    false,
                );
                commit(&runtime, log);
                saw
            })
            .unwrap_or(false);
        if saw_result && let Some(results) = &results {
            results.send_replace(true);
        }
    }
    let ts = now_ts();
    entry.with_log(|log| {
        append(
            &runtime,
            log,
            &ts,
            stream,
            &mut lines,
            &[],
            &mut stderr_group,
            true,
        );
        commit(&runtime, log);
    });
}

/// While undelivered events fill `--spool-max`, stop reading: the agent blocks on its full pipe and
/// nothing is dropped.
async fn wait_for_spool(runtime: &Runtime, entry: &SessionEntry) {
    let cap = runtime.config.spool_max;
    if cap == 0 || !entry.shipping.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let mut warned = false;
    while runtime.undelivered_bytes() >= cap {
        if entry.drain.is_cancelled() || runtime.shutdown.is_cancelled() {
            return;
        }
        if !warned {
            tracing::warn!(session_id = %entry.id, cap, "spool full: pausing the agent's output until events are delivered");
            warned = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = entry.drain.cancelled() => {}
            () = runtime.shutdown.cancelled() => {}
        }
    }
    if warned {
        tracing::info!(session_id = %entry.id, "spool has room again: reading the agent's output");
    }
}

/// Splits `data` into lines and appends them as events; returns true when a `result` message was seen.
#[allow(clippy::too_many_arguments)]
fn append(
    runtime: &Runtime,
    log: &mut SessionLog,
    ts: &str,
    stream: OutputStream,
    lines: &mut Lines,
    data: &[u8],
    stderr_group: &mut Vec<u8>,
    eof: bool,
) -> bool {
    let mut saw_result = false;
    let mut handle = |piece: Piece<'_>| match (stream, piece) {
        (OutputStream::Stdout, Piece::Line(line)) => saw_result |= log.agent_line(ts, line),
        (OutputStream::Stdout, Piece::Cut(prefix)) => log.agent_cut(ts, prefix),
        (OutputStream::Stderr, Piece::Line(line) | Piece::Cut(line)) => {
            if !stderr_group.is_empty() {
                stderr_group.push(b'\n');
            }
            stderr_group.extend_from_slice(line);
        }
        (_, Piece::Dropped(bytes)) => {
            if stream == OutputStream::Stderr && !stderr_group.is_empty() {
                log.stderr(ts, stderr_group);
                stderr_group.clear();
            }
            runtime
                .metrics
                .output_truncated
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log.truncated(ts, stream, bytes);
        }
    };
    if eof {
        lines.finish(&mut handle);
    } else {
        lines.feed(data, &mut handle);
    }
    if !stderr_group.is_empty() {
        log.stderr(ts, stderr_group);
        stderr_group.clear();
    }
    saw_result
}
