//! The pull loop (DESIGN.md §9): while the runtime is not draining, claim at most as many jobs as
//! `--max-sessions` leaves free, and run each exactly like a `POST /execute`.
//!
//! Invariants:
//! - A claim asks for `free = max − sessions holding a slot` (no more than the free uids, with a uid
//!   pool); with none free the loop waits for the session table to free one (a wake-up, not a poll). Only this loop and `POST /execute` admit, so the
//!   jobs of an answer fit unless a request took a slot meanwhile.
//! - With `--max-jobs` a claim asks for no more than the jobs left (the sessions recovered from the state
//!   directory count as jobs); once they were claimed the loop begins the final drain (`lifetime`).
//! - Once the drain begins nothing more is claimed: a claim in flight is abandoned (the control plane's
//!   start lease puts back whatever it had handed out), and no job is admitted (`submit` refuses).
//! - No claimed job vanishes here: a job that cannot start for a reason of its own (invalid, files that
//!   cannot be written) becomes a `failed` session; one this runtime cannot take now (draining, busy) is
//!   left to the lease, which requeues it; one whose session this runtime already has is an identical
//!   retry and changes nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::ClaimRequest;

use super::claim::{ClaimError, Job, claim};
use super::submit::{Refusal, submit};
use crate::lifetime;
use crate::session::launch::{Launch, LaunchError};
use crate::session::refused::record_failed;
use crate::session::table::SessionTable;
use crate::ship::backoff::{Backoff, MISCONFIGURED_CAP};
use crate::ship::shipper::Shipper;
use crate::state::AppState;

/// A misconfigured control plane is logged at most this often.
const MISCONFIGURED_LOG_EVERY: Duration = Duration::from_secs(60);
/// Empty answers long before the wait is over, in a row, before the loop backs off (see `run`).
const EARLY_EMPTY_STREAK: u32 = 3;

/// Claims and runs jobs until the drain begins. `shipper` is the configured control plane's: claims go
/// through its transport, and claimed sessions are shipped and heartbeated there.
pub(crate) async fn run(state: Arc<AppState>, shipper: Arc<Shipper>) {
    let max = state.config.max_sessions;
    let wait = state.config.claim_wait;
    let mut backoff = Backoff::default();
    let mut slow = Backoff::capped_at(MISCONFIGURED_CAP);
    let mut misconfigured_logged: Option<Instant> = None;
    let mut early_empty = 0;
    let max_jobs = state.config.max_jobs;
    // Sessions this state directory already holds count as jobs: a runtime for one job that restarted in
    // its pod (a crash, OnFailure) recovers its job and must not claim another.
    let mut claimed = u64::try_from(state.sessions.list().len()).unwrap_or(u64::MAX);
    tracing::info!(labels = ?state.labels, max_sessions = max, ?max_jobs, "claiming work from the control plane");
    loop {
        if lifetime::spent(max_jobs, claimed) {
            tracing::info!(
                claimed,
                "--max-jobs reached: claiming no more; exiting once they are delivered"
            );
            crate::drain::begin_final(&state, "--max-jobs reached");
            return;
        }
        let room = |table: &SessionTable| {
            Some(lifetime::claim_room(table.room(max), max_jobs, claimed)).filter(|room| *room > 0)
        };
        let free = tokio::select! {
            () = state.drain.cancelled() => break,
            free = state.sessions.until(room) => free,
        };
        let request = ClaimRequest {
            runtime_id: state.runtime_id.clone(),
            labels: state.labels.clone(),
            free: u32::try_from(free).unwrap_or(u32::MAX),
            wait_seconds: Some(wait.as_secs()),
        };
        let asked = Instant::now();
        let answer = tokio::select! {
            () = state.drain.cancelled() => break,
            answer = claim(&shipper.transport, &request, wait) => answer,
        };
        let early = asked.elapsed() < wait / 2;
        let pause = match answer {
            Ok(jobs) if jobs.is_empty() && early => {
                // One early empty answer is a race lost to another runtime, and asking again at once keeps
                // the queue-to-claim latency low; several in a row are a control plane that does not
                // long-poll, and asking again at once would spin.
                early_empty += 1;
                (early_empty >= EARLY_EMPTY_STREAK).then(|| backoff.next(None))
            }
            // Jobs, or none after a full wait: the control plane is healthy.
            Ok(jobs) => {
                early_empty = 0;
                backoff = Backoff::default();
                slow = Backoff::capped_at(MISCONFIGURED_CAP);
                claimed += u64::try_from(jobs.len()).unwrap_or(u64::MAX);
                let runs = jobs.into_iter().map(|job| run_job(&state, job));
                futures_util::future::join_all(runs).await;
                None
            }
            Err(ClaimError::Retry { reason, after }) => {
                let pause = backoff.next(after);
                tracing::warn!(%reason, ?pause, "claim failed; retrying");
                Some(pause)
            }
            Err(ClaimError::Misconfigured { status, body }) => {
                let pause = slow.next(None);
                if misconfigured_logged.is_none_or(|at| at.elapsed() >= MISCONFIGURED_LOG_EVERY) {
                    misconfigured_logged = Some(Instant::now());
                    let body: String = body.chars().take(200).collect();
                    tracing::error!(
                        status, %body, ?pause,
                        "the control plane refuses claims (an older control plane, a wrong URL or key?); retrying"
                    );
                }
                Some(pause)
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                () = state.drain.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
    tracing::info!("draining: claiming no more work");
}

/// Runs one claimed job like a `POST /execute`.
async fn run_job(state: &Arc<AppState>, job: Job) {
    let (session_id, mut request) = match job {
        Job::Run { session_id, request } => (session_id, request),
        Job::Unreadable {
            session_id,
            stand_in,
            error,
        } => {
            record_failed(state, session_id, stand_in, &error);
            return;
        }
        Job::Unattributable => {
            tracing::error!("the control plane handed out a job without a valid sessionId; ignored");
            return;
        }
    };
    // A claimed job's events go to the control plane it came from, where its lease and cancels are.
    request.storage = None;
    use LaunchError as L;
    match submit(state, request.clone()).await {
        // A spawn that failed was finished `failed` by the launch, and is shipped.
        Ok(Launch::Started(_)) | Err(Refusal::Launch(L::Spawn { .. })) => {}
        Ok(Launch::Existing(_)) | Err(Refusal::Launch(L::Conflict(_) | L::Removed(_))) => {
            // Handed out again (its lease ran out before `session.started` arrived): it runs here already.
            tracing::info!(session_id = %session_id, "claimed a session this runtime already has; nothing to do");
        }
        Err(refusal @ (Refusal::Invalid(_) | Refusal::Launch(L::Files(_)))) => {
            let error = format!("the claimed job was refused: {refusal}");
            record_failed(state, session_id, request, &error);
        }
        Err(
            refusal @ (Refusal::Draining | Refusal::Launch(L::ShuttingDown | L::Busy(_) | L::Log { .. })),
        ) => {
            tracing::warn!(
                session_id = %session_id, reason = %refusal,
                "claimed job not started; the control plane's lease will hand it out again"
            );
        }
    }
}
