//! `POST /api/internal/v1/claim`: a runtime pulls jobs (DESIGN.md §9).
//!
//! Long-polled: the claim runs at once, and while it finds nothing the handler waits for the queue bell
//! (a session became claimable here or on another replica, or an ingest commit may have finished the
//! previous session of a conversation), with a slow safety poll, until `waitSeconds` (at most 30) pass.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use protocol::{AgentId, ClaimRequest, ClaimResponse, ExecuteRequest, QueueSessionRequest, SessionId};

use crate::agents::{databases, definition, job};
use crate::conversation::{self, LatestError};
use crate::dispatch::MAX_WAIT;
use crate::http::error::ApiError;
use crate::http::{AppState, parse_json, read_body};
use crate::metrics::Metrics;
use crate::store::{Claimed, StoreError};
use crate::time;

/// A waiting claim looks again this often even without a ring, in case one was missed.
const SAFETY_POLL: Duration = Duration::from_secs(2);
/// Most jobs one claim answers, whatever `free` says.
const MAX_FREE: u32 = 256;

pub async fn claim(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ClaimResponse>, ApiError> {
    let body = read_body(&headers, body).await?;
    let request: ClaimRequest = parse_json(&body)?;
    if request.runtime_id.trim().is_empty() {
        return Err(ApiError::bad_request("runtimeId: must not be empty"));
    }
    let wait = match request.wait_seconds {
        Some(s) if s > MAX_WAIT.as_secs() => {
            return Err(ApiError::bad_request(format!(
                "waitSeconds: must be at most {}",
                MAX_WAIT.as_secs()
            )));
        }
        Some(s) => Duration::from_secs(s),
        None => Duration::ZERO,
    };
    let free = request.free.min(MAX_FREE);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + wait;
    let mut bell = state.dispatch.bell.subscribe();
    loop {
        // Marked seen before the claim: a ring during it makes the wait below return at once.
        bell.borrow_and_update();
        let claimed = claim_once(&state, &request.runtime_id, &request.labels, free).await?;
        if !claimed.is_empty() || free == 0 {
            state.metrics.observe_claim_wait(started.elapsed());
            return Ok(Json(ClaimResponse { jobs: claimed }));
        }
        let poll = tokio::time::sleep(
            SAFETY_POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
        );
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                state.metrics.observe_claim_wait(started.elapsed());
                return Ok(Json(ClaimResponse { jobs: Vec::new() }));
            }
            () = state.shutdown.cancelled() => return Ok(Json(ClaimResponse { jobs: Vec::new() })),
            _ = bell.changed() => {}
            () = poll => {}
        }
        if tokio::time::Instant::now() >= deadline {
            // One last look, then the empty answer.
            let claimed = claim_once(&state, &request.runtime_id, &request.labels, free).await?;
            state.metrics.observe_claim_wait(started.elapsed());
            return Ok(Json(ClaimResponse { jobs: claimed }));
        }
    }
}

async fn claim_once(
    state: &AppState,
    runtime_id: &str,
    labels: &BTreeMap<String, String>,
    free: u32,
) -> Result<Vec<ExecuteRequest>, ApiError> {
    let now = time::now_ms();
    let lease = i64::try_from(state.dispatch.lease.as_millis()).unwrap_or(i64::MAX);
    let claimed = state
        .store
        .claim(runtime_id, labels, free, now, now.saturating_add(lease))
        .await?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for c in &claimed {
        let key = state.dispatch.secrets_key.as_ref();
        let conversation =
            match conversation::latest(&state.store, key, &c.conversation_id, &c.session_id).await {
                Ok(found) => found,
                Err(LatestError::Store(error)) => return Err(error.into()),
                Err(error @ LatestError::Unusable(_)) => {
                    let reason = error.to_string();
                    tracing::warn!(session_id = %c.session_id, reason, "fail a claimed session");
                    state
                        .store
                        .fail_claimed(&c.session_id, &reason, &time::rfc3339_ms(time::now_ms()))
                        .await?;
                    // The next session of its conversation may run now.
                    state.dispatch.bell.ring().await;
                    continue;
                }
            };
        match build(state, c).map(|job| ExecuteRequest { conversation, ..job }) {
            Ok(job) => jobs.push(job),
            Err(error) => {
                // A job that cannot be built is claimed already; its lease will requeue it, then fail it.
                tracing::error!(session_id = %c.session_id, error = ?anyhow::Error::new(error), "build a claimed job");
            }
        }
        state
            .metrics
            .observe_queue_to_claim(now.saturating_sub(c.queued_ms));
        tracing::info!(session_id = %c.session_id, runtime_id, "session claimed");
    }
    Metrics::add(&state.metrics.claims, jobs.len() as u64);
    Ok(jobs)
}

fn build(state: &AppState, c: &Claimed) -> Result<ExecuteRequest, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("session {}: {what}", c.session_id));
    let agent = definition::stored(&c.version)?;
    let request: QueueSessionRequest =
        serde_json::from_str(&c.request).map_err(|e| corrupt(format!("request: {e}")))?;
    let agent_id = AgentId::parse(&c.version.agent_id).map_err(|e| corrupt(e.to_string()))?;
    let session_id = SessionId::parse(c.session_id.clone()).map_err(|e| corrupt(e.to_string()))?;
    let conversation_id = SessionId::parse(c.conversation_id.clone()).map_err(|e| corrupt(e.to_string()))?;
    let mut secrets = BTreeMap::new();
    if !c.version.secrets.is_empty() {
        let key = state
            .dispatch
            .secrets_key
            .as_ref()
            .ok_or_else(|| corrupt("the agent has secrets and this server has no secrets key".into()))?;
        for (name, stored) in &c.version.secrets {
            let value = key
                .open(&c.version.agent_id, name, &stored.sealed)
                .map_err(|e| corrupt(e.to_string()))?;
            secrets.insert(name.clone(), value);
        }
    }
    let databases = databases::resolve(&agent, &mut secrets).map_err(corrupt)?;
    let job = job::job(
        &agent_id,
        &agent,
        c.version.version,
        &session_id,
        &conversation_id,
        &request,
        secrets,
    );
    Ok(ExecuteRequest { databases, ..job })
}
