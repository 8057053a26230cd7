//! Reading an agent's output: one pump per stream, to EOF, into the session's log, paused while the
//! spool of undelivered events is full.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::OutputStream;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::entry::SessionEntry;
use super::lines::{Lines, Piece};
use super::log::SessionLog;
use super::table::SessionTable;
use crate::eventlog::now_ts;
use crate::metrics::Metrics;

const READ_CHUNK: usize = 256 * 1024;

/// What the pumps of every session share.
#[derive(Debug)]
pub(super) struct Output {
    pub(super) metrics: Arc<Metrics>,
    /// For the spool: the bytes every session has not had confirmed.
    pub(super) sessions: Arc<SessionTable>,
    /// `--spool-max`; 0 turns the cap off.
    pub(super) spool_max: u64,
    /// The supervisor is stopping: read everything, the cap no longer applies.
    pub(super) shutdown: CancellationToken,
    pub(super) max_line: usize,
}

/// Reads one output stream of the agent to EOF and appends it to the session's log.
pub(super) async fn pump(
    output: Arc<Output>,
    entry: Arc<SessionEntry>,
    fd: OwnedFd,
    stream: OutputStream,
    results: Option<watch::Sender<bool>>,
) {
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(pipe) => pipe,
        Err(err) => {
            tracing::error!(session_id = %entry.id, error = %err, "read agent output");
            return;
        }
    };
    let mut lines = Lines::new(output.max_line);
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut stderr_group: Vec<u8> = Vec::new();
    loop {
        wait_for_spool(&output, &entry).await;
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
                let mut appender = Appender {
                    metrics: &output.metrics,
                    log,
                    ts: &ts,
                    stream,
                    stderr_group: &mut stderr_group,
                };
                let saw = appender.append(&mut lines, Some(&chunk[..n]));
                commit(&output.metrics, log);
                saw
            })
            .unwrap_or(false);
        if saw_result && let Some(results) = &results {
            results.send_replace(true);
        }
    }
    let ts = now_ts();
    entry.with_log(|log| {
        let mut appender = Appender {
            metrics: &output.metrics,
            log,
            ts: &ts,
            stream,
            stderr_group: &mut stderr_group,
        };
        appender.append(&mut lines, None);
        commit(&output.metrics, log);
    });
}

/// While undelivered events fill `--spool-max`, stop reading: the agent blocks on its full pipe and
/// nothing is dropped.
async fn wait_for_spool(output: &Output, entry: &SessionEntry) {
    let cap = output.spool_max;
    if cap == 0 || !entry.shipping.load(Ordering::Relaxed) {
        return;
    }
    let mut warned = false;
    while output.sessions.undelivered_bytes() >= cap {
        if entry.drain.is_cancelled() || output.shutdown.is_cancelled() {
            return;
        }
        if !warned {
            tracing::warn!(session_id = %entry.id, cap, "spool full: pausing the agent's output until events are delivered");
            warned = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = entry.drain.cancelled() => {}
            () = output.shutdown.cancelled() => {}
        }
    }
    if warned {
        tracing::info!(session_id = %entry.id, "spool has room again: reading the agent's output");
    }
}

/// Writes pending events; a failed write is counted and logged, and the events stay pending.
pub(super) fn commit(metrics: &Metrics, log: &mut SessionLog) {
    match log.writer().commit() {
        Ok(records) => {
            metrics.events_written.fetch_add(records, Ordering::Relaxed);
        }
        Err(err) => {
            metrics.log_write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(path = %log.writer().path().display(), error = %err, "write event log");
        }
    }
}

/// Turns one read of a stream into events.
struct Appender<'a> {
    metrics: &'a Metrics,
    log: &'a mut SessionLog,
    ts: &'a str,
    stream: OutputStream,
    /// Stderr lines of one read, appended as one event.
    stderr_group: &'a mut Vec<u8>,
}

impl Appender<'_> {
    /// Splits `data` into lines (`None`: end of the stream) and appends them as events; returns true
    /// when a `result` message was seen.
    fn append(&mut self, lines: &mut Lines, data: Option<&[u8]>) -> bool {
        let Self {
            metrics,
            log,
            ts,
            stream,
            stderr_group,
        } = self;
        let stream = *stream;
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
                metrics.output_truncated.fetch_add(1, Ordering::Relaxed);
                log.truncated(ts, stream, bytes);
            }
        };
        match data {
            Some(data) => lines.feed(data, &mut handle),
            None => lines.finish(&mut handle),
        }
        if !stderr_group.is_empty() {
            log.stderr(ts, stderr_group);
            stderr_group.clear();
        }
        saw_result
    }
}
