//! The seed-compatible routes (`/api/internal/logs`, `/api/internal/sessions/status`): a key/value log entry
//! stored as the session's next event, and a status set directly.

use protocol::{Event, EventSource, LegacyLogEntry, LegacySessionStatus, SessionStatus};
use serde_json::value::RawValue;

use super::{Result, Store, StoreError, projection};
use crate::time;

impl Store {
    /// Stores a key/value log entry as the session's next event.
    pub async fn append_legacy_log(&self, entry: &LegacyLogEntry, now_ms: i64) -> Result<Event> {
        let ts = entry
            .timestamp
            .clone()
            .filter(|t| humantime::parse_rfc3339_weak(t).is_ok())
            .unwrap_or_else(|| time::rfc3339_ms(now_ms));
        let mut tx = self.begin().await?;
        let session_id = entry.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &ts).await?;
        if row.agent_id.is_none() {
            row.agent_id = Some(entry.agent_id.clone());
        }
        let data = serde_json::json!({"key": entry.key, "value": entry.value}).to_string();
        let event = Event {
            session_id: entry.session_id.clone(),
            seq: row.last_seq.map_or(0, |s| s + 1) as u64,
            ts,
            source: EventSource::Agent,
            kind: "log".into(),
            data: RawValue::from_string(data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        };
        tx.insert_events(&[&event]).await?;
        projection::apply(&mut row, &event);
        row.acked_seq = row.last_seq;
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Sets a session's status directly.
    pub async fn set_legacy_status(&self, update: &LegacySessionStatus, now_ms: i64) -> Result<()> {
        let now = time::rfc3339_ms(now_ms);
        let mut tx = self.begin().await?;
        let session_id = update.session_id.as_str();
        let (mut row, _) = tx.lock_or_create_session(session_id, None, &now).await?;
        if let Some(agent) = &update.agent_id {
            row.agent_id = Some(agent.clone());
        }
        row.status = update.status;
        if update.status == SessionStatus::Running && row.started_at.is_none() {
            row.started_at = Some(now.clone());
        }
        if update.status.is_finished() {
            row.finished_at = Some(now);
        }
        tx.update_session(&row).await?;
        tx.commit().await?;
        Ok(())
    }
}
