//! The `ui_sessions` table: browsers signed in to the web UI (`crate::ui::auth`). Keyed by the digest of the
//! cookie's value, never the value itself.

use super::backend::{with_conn, with_pool};
use super::{Result, Store};

/// A signed-in browser, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSessionRow {
    /// Hex SHA-256 of the API token it was signed in with.
    pub token_digest: String,
    /// What its forms must carry.
    pub csrf: String,
    pub expires_ms: i64,
}

impl Store {
    /// Records a sign-in, and forgets sign-ins that have expired (a few rows at a time, so sign-ins stay cheap).
    pub async fn create_ui_session(&self, id_digest: &str, row: &UiSessionRow, now_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "DELETE FROM ui_sessions WHERE id_digest IN \
                 (SELECT id_digest FROM ui_sessions WHERE expires_ms < $1 LIMIT 100)",
            )
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO ui_sessions (id_digest, token_digest, csrf, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id_digest)
            .bind(&row.token_digest)
            .bind(&row.csrf)
            .bind(now_ms)
            .bind(row.expires_ms)
            .execute(&mut *c)
            .await
            .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(())
    }

    /// The signed-in browser of this cookie digest, unless it has expired.
    pub async fn ui_session(&self, id_digest: &str, now_ms: i64) -> Result<Option<UiSessionRow>> {
        let row = with_pool!(self, |p| {
            sqlx::query_as::<_, (String, String, i64)>(
                "SELECT token_digest, csrf, expires_ms FROM ui_sessions \
                 WHERE id_digest = $1 AND expires_ms >= $2",
            )
            .bind(id_digest)
            .bind(now_ms)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(token_digest, csrf, expires_ms)| UiSessionRow {
            token_digest,
            csrf,
            expires_ms,
        }))
    }

    /// Signs a browser out.
    pub async fn delete_ui_session(&self, id_digest: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        with_conn!(&mut tx, |c| {
            sqlx::query("DELETE FROM ui_sessions WHERE id_digest = $1")
                .bind(id_digest)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(())
    }
}
