//! The statements on `conversation_state` (crate::conversation): pieces stored in the ingest transaction,
//! read back when a later session of the conversation is claimed.

use std::collections::BTreeMap;

use protocol::{FileEncoding, SessionId};

use super::backend::{Tx, with_conn, with_pool};
use super::{IngestBatch, Refusal, Result, Store};
use crate::conversation::StatePiece;

type PieceRow = (String, i64, String, String, String, String, i64, i64, String);

fn encoding_text(encoding: FileEncoding) -> &'static str {
    match encoding {
        FileEncoding::Utf8 => "utf8",
        FileEncoding::Base64 => "base64",
    }
}

impl Tx {
    /// Stores the state pieces of each batch's sessions that were not refused.
    pub(super) async fn insert_accepted_pieces(
        &mut self,
        batches: &[IngestBatch],
        refused: &[BTreeMap<SessionId, Refusal>],
    ) -> Result<()> {
        let pieces: Vec<&StatePiece> = batches
            .iter()
            .zip(refused)
            .flat_map(|(batch, refused)| {
                batch
                    .states
                    .iter()
                    .filter(move |p| !refused.keys().any(|s| s.as_str() == p.session_id))
            })
            .collect();
        self.insert_state_pieces(&pieces).await
    }

    /// Stores pieces; one already stored (a resent event) is left as it is.
    async fn insert_state_pieces(&mut self, pieces: &[&StatePiece]) -> Result<()> {
        for p in pieces {
            with_conn!(&mut *self, |c| {
                sqlx::query(
                    "INSERT INTO conversation_state \
                     (session_id, seq, path, encoding, sdk_session_id, config_dir, last, sealed, data) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (session_id, seq) DO NOTHING",
                )
                .bind(&p.session_id)
                .bind(p.seq)
                .bind(&p.path)
                .bind(encoding_text(p.encoding))
                .bind(&p.sdk_session_id)
                .bind(&p.config_dir)
                .bind(i64::from(p.last))
                .bind(i64::from(p.sealed))
                .bind(&p.data)
                .execute(c)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }
}

impl Store {
    /// The earlier sessions of `conversation_id` (created before `session_id`) that stored a last piece,
    /// newest first: the candidates for the state `session_id` continues from.
    pub async fn state_candidates(&self, conversation_id: &str, session_id: &str) -> Result<Vec<String>> {
        let rows = with_pool!(self, |p| {
            sqlx::query_scalar::<_, String>(
                "SELECT s.session_id FROM sessions s WHERE s.conversation_id = $1 \
                 AND s.id < (SELECT id FROM sessions WHERE session_id = $2) \
                 AND EXISTS (SELECT 1 FROM conversation_state c WHERE c.session_id = s.session_id AND c.last = 1) \
                 ORDER BY s.id DESC",
            )
            .bind(conversation_id)
            .bind(session_id)
            .fetch_all(p)
            .await?
        });
        Ok(rows)
    }

    /// Every stored piece of a session, in seq order.
    pub async fn state_pieces(&self, session_id: &str) -> Result<Vec<StatePiece>> {
        let rows = with_pool!(self, |p| {
            sqlx::query_as::<_, PieceRow>(
                "SELECT session_id, seq, path, encoding, sdk_session_id, config_dir, last, sealed, data \
                 FROM conversation_state WHERE session_id = $1 ORDER BY seq",
            )
            .bind(session_id)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(session_id, seq, path, encoding, sdk_session_id, config_dir, last, sealed, data)| {
                    StatePiece {
                        session_id,
                        seq,
                        path,
                        encoding: if encoding == "base64" {
                            FileEncoding::Base64
                        } else {
                            FileEncoding::Utf8
                        },
                        sdk_session_id,
                        config_dir,
                        last: last != 0,
                        sealed: sealed != 0,
                        data,
                    }
                },
            )
            .collect())
    }

    /// Fails a claimed session whose job cannot be built (its state is too large), so it does not wait for
    /// its lease to run out three times; answers whether it was still `pending`.
    pub async fn fail_claimed(&self, session_id: &str, error: &str, now: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = with_conn!(&mut tx, |c| {
            sqlx::query(
                "UPDATE sessions SET status = 'failed', error = $2, finished_at = $3 \
                 WHERE session_id = $1 AND status = 'pending'",
            )
            .bind(session_id)
            .bind(error)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected()
        });
        with_conn!(&mut tx, |c| {
            sqlx::query("UPDATE session_jobs SET lease_expires_ms = NULL WHERE session_id = $1")
                .bind(session_id)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(changed > 0)
    }
}
