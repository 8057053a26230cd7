//! Claims and their leases (DESIGN.md §9).
//!
//! **Invariant:** a queued session is handed to one runtime at a time. A claim selects and updates in one
//! transaction: on PostgreSQL the candidate rows are taken `FOR UPDATE SKIP LOCKED` (concurrent claimers,
//! on any replica, skip each other's rows instead of waiting or taking them twice); on SQLite the one writer
//! connection runs claims one after the other. A session is a candidate when it is `queued`, its version's
//! `runtimeSelector` is a subset of the runtime's labels, and no earlier session of its conversation is
//! unfinished (`queued`, `pending`, `running`): sessions of one conversation run one at a time, in creation
//! (row id) order. Candidates are taken oldest first, at most `free`.

use std::collections::BTreeMap;

use super::agents::AgentVersionRow;
use super::backend::{json_list, with_conn};
use super::{Result, Store, StoreError};

/// A claimed session with what its job is built from.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub session_id: String,
    pub conversation_id: String,
    /// The request as queued (JSON).
    pub request: String,
    pub queued_ms: i64,
    pub version: AgentVersionRow,
}

/// What a sweep of expired leases did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// Back in the queue, in their place.
    pub requeued: Vec<String>,
    /// Out of attempts (or cancelled meanwhile): finished.
    pub failed: Vec<String>,
}

type Candidate = (String, Option<String>, String, i64, String, i64);

impl Store {
    /// Claims at most `free` sessions for `runtime_id`, each leased until `lease_until_ms`.
    pub async fn claim(
        &self,
        runtime_id: &str,
        labels: &BTreeMap<String, String>,
        free: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<Claimed>> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT s.session_id, s.conversation_id, j.agent_id, j.agent_version, j.request, j.queued_ms \
             FROM sessions s JOIN session_jobs j ON j.session_id = s.session_id \
             WHERE s.status = 'queued' AND s.runtime_id IS NULL AND {} \
             AND NOT EXISTS (SELECT 1 FROM sessions p WHERE p.conversation_id = s.conversation_id \
                 AND p.id < s.id AND p.status IN ('queued', 'pending', 'running')) \
             ORDER BY s.id LIMIT $2{}",
            tx.selector_matches("j.selector", "$1"),
            tx.skip_locked("s"),
        );
        let labels = serde_json::to_string(labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let candidates: Vec<Candidate> = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, Candidate>(&sql)
                .bind(&labels)
                .bind(i64::from(free))
                .fetch_all(c)
                .await?
        });
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = candidates.iter().map(|c| c.0.as_str()).collect();
        let list = json_list(&ids)?;
        let update = format!(
            "UPDATE sessions SET status = 'pending', runtime_id = $2 WHERE session_id IN ({})",
            tx.json_texts("$1")
        );
        with_conn!(&mut tx, |c| {
            sqlx::query(&update)
                .bind(&list)
                .bind(runtime_id)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        let update = format!(
            "UPDATE session_jobs SET attempts = attempts + 1, lease_expires_ms = $2, claimed_ms = $3 \
             WHERE session_id IN ({})",
            tx.json_texts("$1")
        );
        with_conn!(&mut tx, |c| {
            sqlx::query(&update)
                .bind(&list)
                .bind(lease_until_ms)
                .bind(now_ms)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.touch_runtime(runtime_id, None, now_ms).await?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for (session_id, conversation_id, agent_id, version, request, queued_ms) in candidates {
            let version = tx.agent_version(&agent_id, version).await?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "session {session_id}: agent {agent_id} version {version} is gone"
                ))
            })?;
            claimed.push(Claimed {
                conversation_id: conversation_id.unwrap_or_else(|| session_id.clone()),
                session_id,
                request,
                queued_ms,
                version,
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Puts back in the queue the claimed sessions still `pending` after their lease, or fails those that
    /// had `max_attempts` (and cancels those whose cancel was asked for meanwhile).
    pub async fn expire_leases(&self, now_ms: i64, max_attempts: i64) -> Result<Expired> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT s.session_id, j.attempts, s.runtime_id, s.cancel_requested_ms FROM sessions s \
             JOIN session_jobs j ON j.session_id = s.session_id \
             WHERE s.status = 'pending' AND j.lease_expires_ms < $1{}",
            tx.skip_locked("s")
        );
        let rows = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, i64, Option<String>, Option<i64>)>(&sql)
                .bind(now_ms)
                .fetch_all(c)
                .await?
        });
        let mut expired = Expired::default();
        let now = crate::time::rfc3339_ms(now_ms);
        for (session_id, attempts, runtime_id, cancel_requested) in rows {
            let runtime = runtime_id.unwrap_or_default();
            let (status, error) = if cancel_requested.is_some() {
                ("cancelled", None)
            } else if attempts >= max_attempts {
                (
                    "failed",
                    Some(format!(
                        "not started within the claim lease {attempts} times (last claimed by runtime {runtime})"
                    )),
                )
            } else {
                ("queued", None)
            };
            if status == "queued" {
                with_conn!(&mut tx, |c| {
                    sqlx::query(
                        "UPDATE sessions SET status = 'queued', runtime_id = NULL WHERE session_id = $1",
                    )
                    .bind(&session_id)
                    .execute(c)
                    .await
                    .map(|_| ())
                })?;
                expired.requeued.push(session_id.clone());
            } else {
                with_conn!(&mut tx, |c| {
                    sqlx::query(
                        "UPDATE sessions SET status = $2, error = $3, finished_at = $4 WHERE session_id = $1",
                    )
                    .bind(&session_id)
                    .bind(status)
                    .bind(&error)
                    .bind(&now)
                    .execute(c)
                    .await
                    .map(|_| ())
                })?;
                expired.failed.push(session_id.clone());
            }
            with_conn!(&mut tx, |c| {
                sqlx::query("UPDATE session_jobs SET lease_expires_ms = NULL WHERE session_id = $1")
                    .bind(&session_id)
                    .execute(c)
                    .await
                    .map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(expired)
    }

    /// Claimed sessions that started since the last call (their lease is done): session id and the
    /// milliseconds from queuing to `session.started` (by the event's timestamp; `None` when it does not
    /// parse). Each is answered once, by whichever replica clears its lease.
    pub async fn started_claims(&self) -> Result<Vec<(String, Option<i64>)>> {
        let mut tx = self.begin().await?;
        let rows = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (String, i64, Option<String>)>(
                "SELECT j.session_id, j.queued_ms, s.started_at FROM session_jobs j \
                 JOIN sessions s ON s.session_id = j.session_id \
                 WHERE j.lease_expires_ms IS NOT NULL AND s.status <> 'pending'",
            )
            .fetch_all(c)
            .await?
        });
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let list = json_list(&ids)?;
        let sql = format!(
            "UPDATE session_jobs SET lease_expires_ms = NULL \
             WHERE lease_expires_ms IS NOT NULL AND session_id IN ({}) RETURNING session_id",
            tx.json_texts("$1")
        );
        let cleared: Vec<String> = with_conn!(&mut tx, |c| {
            sqlx::query_scalar::<_, String>(&sql)
                .bind(&list)
                .fetch_all(c)
                .await?
        });
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter(|(id, _, _)| cleared.contains(id))
            .map(|(id, queued_ms, started_at)| {
                let waited = started_at
                    .as_deref()
                    .and_then(crate::time::parse_rfc3339_ms)
                    .map(|started| started - queued_ms);
                (id, waited)
            })
            .collect())
    }

    /// Queued sessions per agent, for the gauge.
    pub async fn queued_per_agent(&self) -> Result<Vec<(String, i64)>> {
        let rows = super::backend::with_pool!(self, |p| {
            sqlx::query_as::<_, (String, i64)>(
                // `j.`: both tables have an `agent_id`; unqualified, both backends refuse the query.
                "SELECT j.agent_id, COUNT(*) FROM session_jobs j JOIN sessions s ON s.session_id = j.session_id \
                 WHERE s.status = 'queued' GROUP BY j.agent_id ORDER BY j.agent_id",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows)
    }
}
