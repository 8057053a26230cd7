//! Digests of the credentials `agentctl serve` generated because none was configured (see
//! `crate::credentials`).

use super::backend::{with_conn, with_pool};
use super::{Result, Store};

impl Store {
    /// The hex SHA-256 digest of the generated credential of `kind`, if one was generated.
    pub async fn generated_credential(&self, kind: &str) -> Result<Option<String>> {
        let digest = with_pool!(self, |p| {
            sqlx::query_scalar::<_, String>("SELECT sha256 FROM generated_credentials WHERE kind = $1")
                .bind(kind)
                .fetch_optional(p)
                .await?
        });
        Ok(digest)
    }

    /// Keeps `sha256` as the generated credential of `kind` unless one is kept already (another replica
    /// was faster); answers whether this one was kept.
    pub async fn keep_generated_credential(
        &self,
        kind: &str,
        sha256: &str,
        created_at: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let kept = with_conn!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO generated_credentials (kind, sha256, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (kind) DO NOTHING",
            )
            .bind(kind)
            .bind(sha256)
            .bind(created_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        tx.commit().await?;
        Ok(kept)
    }
}
