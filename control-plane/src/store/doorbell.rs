//! The follow doorbell between replicas: NOTIFY and LISTEN on one channel (PostgreSQL only; SQLite has one
//! replica, so there is nobody to ring for).

use super::{Result, Store};

/// The channel of the follow doorbell between replicas.
pub const DOORBELL_CHANNEL: &str = "agentctl_follow";

impl Store {
    /// Whether there may be other replicas to ring for.
    pub fn has_doorbell(&self) -> bool {
        self.doorbell_pool().is_some()
    }

    /// Rings the doorbell: one autocommit NOTIFY, outside any ingest transaction (a notifying commit takes
    /// a cluster-wide lock, see reference/delivery-and-ingest.md §4). No-op on SQLite.
    pub async fn ring_doorbell(&self, payload: &str) -> Result<()> {
        if let Some(pool) = self.doorbell_pool() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(DOORBELL_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on the doorbell channel; `None` on SQLite.
    pub async fn doorbell_listener(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        let Some(pool) = self.doorbell_pool() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(DOORBELL_CHANNEL).await?;
        Ok(Some(listener))
    }
}

impl Store {
    /// One autocommit NOTIFY on `channel`, outside any transaction. No-op on SQLite.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if let Some(pool) = self.doorbell_pool() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on `channel`; `None` on SQLite.
    pub async fn listener(&self, channel: &str) -> Result<Option<sqlx::postgres::PgListener>> {
        let Some(pool) = self.doorbell_pool() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok(Some(listener))
    }
}
