//! The seed-compatible routes (`/api/internal/logs`, `/api/internal/sessions/status`): a key/value log entry
//! stored as the session's next event, and a status set directly.
//!
//! Who may write which session: supervisors and seed clients hold the same internal API key, so the
//! credential cannot tell them apart; the session row does. A session a runtime owns (its `runtime_id`, set
//! by the first batch that stored its events) is written by that runtime's ingest only: the seed's routes
//! refuse it (`runtime_owned`), so they never take a seq the supervisor uses nor overwrite the status its
//! events project. A session the seed's log routes wrote first is the seed's: ingest refuses a runtime's
//! events for it in the answer (`seed_session`, `store::ingest`). And the status route makes only legal
//! transitions ([`legal_transition`]): a final status is final.

use protocol::{Event, EventSource, LegacyLogEntry, LegacySessionStatus, SessionId, SessionStatus};
use serde_json::value::RawValue;

use super::{Result, Store, StoreError, projection};
use crate::{event_time, time};

/// Why a seed route did not write a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedRefusal {
    /// The session belongs to a runtime: only that runtime's ingest writes it.
    RuntimeOwned {
        session_id: SessionId,
        runtime_id: String,
    },
    /// The status asked for cannot follow the session's.
    Transition {
        session_id: SessionId,
        from: SessionStatus,
        to: SessionStatus,
    },
}

impl std::fmt::Display for SeedRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RuntimeOwned {
                session_id,
                runtime_id,
            } => write!(
                f,
                "session {session_id} belongs to runtime {runtime_id:?}: only its supervisor writes it"
            ),
            Self::Transition { session_id, from, to } => write!(
                f,
                "session {session_id} is {from} and cannot become {to}: statuses go pending, running, then \
                 one final status, which stays"
            ),
        }
    }
}

/// Whether the seed's status route may move a session from `from` to `to`: forward only (pending →
/// running → a final status), the same status again is a no-op, and a final status is final, except that
/// `lost` (the control plane's guess) may still become the session's own final status.
pub fn legal_transition(from: SessionStatus, to: SessionStatus) -> bool {
    use SessionStatus::{Lost, Pending, Queued, Running};
    match (from, to) {
        _ if from == to => true,
        // A queued session is the dispatcher's (DESIGN §9): only a claim moves it on.
        (Queued, _) | (_, Queued) => false,
        (Pending, _) => true,
        (Running, to) => to.is_finished(),
        (Lost, to) => to.is_finished(),
        _ => false,
    }
}

impl Store {
    /// Stores a key/value log entry as the session's next event, unless a runtime owns the session.
    pub async fn append_legacy_log(
        &self,
        entry: &LegacyLogEntry,
        now_ms: i64,
    ) -> Result<Result<Event, SeedRefusal>> {
        let now = time::rfc3339_ms(now_ms);
        let mut value = serde_json::json!({"key": entry.key, "value": entry.value});
        let ts = match entry.timestamp.as_deref() {
            Some(t) => match time::parse_rfc3339_ms(t) {
                Some(ms) if event_time::keeps_its_time(ms, now_ms) => t.to_owned(),
                Some(_) => {
                    value[event_time::CLIENT_TIME_KEY] = t.into();
                    now
                }
                None => now,
            },
            None => now,
        };
        let mut tx = self.begin().await?;
        let session_id = entry.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &ts).await?;
        if let Some(runtime_id) = row.runtime_id.clone() {
            return Ok(Err(SeedRefusal::RuntimeOwned {
                session_id: entry.session_id.clone(),
                runtime_id,
            }));
        }
        if row.agent_id.is_none() {
            row.agent_id = Some(entry.agent_id.clone());
        }
        let event = Event {
            session_id: entry.session_id.clone(),
            seq: row.last_seq.map_or(0, |s| s + 1) as u64,
            ts,
            source: EventSource::Agent,
            kind: "log".into(),
            data: RawValue::from_string(value.to_string()).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        tx.insert_events(&[&event]).await?;
        projection::apply(&mut row, &event);
        row.acked_seq = row.last_seq;
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(Ok(event))
    }

    /// Sets a session's status directly, unless a runtime owns the session or the move is not a legal one.
    pub async fn set_legacy_status(
        &self,
        update: &LegacySessionStatus,
        now_ms: i64,
    ) -> Result<Result<(), SeedRefusal>> {
        let now = time::rfc3339_ms(now_ms);
        let mut tx = self.begin().await?;
        let session_id = update.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &now).await?;
        if let Some(runtime_id) = row.runtime_id.clone() {
            return Ok(Err(SeedRefusal::RuntimeOwned {
                session_id: update.session_id.clone(),
                runtime_id,
            }));
        }
        if !legal_transition(row.status, update.status) {
            return Ok(Err(SeedRefusal::Transition {
                session_id: update.session_id.clone(),
                from: row.status,
                to: update.status,
            }));
        }
        if let Some(agent) = &update.agent_id {
            row.agent_id = Some(agent.clone());
        }
        if row.status != update.status {
            row.status = update.status;
            if update.status == SessionStatus::Running && row.started_at.is_none() {
                row.started_at = Some(now.clone());
            }
            if update.status.is_finished() {
                row.finished_at = Some(now);
            }
        }
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use protocol::SessionStatus;

    use super::legal_transition;

    #[test]
    fn the_seed_status_moves_forward_only_and_a_final_status_is_final() {
        let mut table = String::new();
        for from in SessionStatus::ALL {
            let to: Vec<&str> = SessionStatus::ALL
                .iter()
                .filter(|to| legal_transition(from, **to))
                .map(|to| to.as_str())
                .collect();
            table.push_str(&format!("{from} -> {}\n", to.join(" ")));
        }
        expect![[r#"
            queued -> queued
            pending -> pending running succeeded failed cancelled timed_out lost
            running -> running succeeded failed cancelled timed_out lost
            succeeded -> succeeded
            failed -> failed
            cancelled -> cancelled
            timed_out -> timed_out
            lost -> succeeded failed cancelled timed_out lost
        "#]]
        .assert_eq(&table);
    }
}
