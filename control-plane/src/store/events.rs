//! Statements on the `events` table other than the bulk insert (which differs per backend: `backend.rs`).

use protocol::{Event, SessionId};

use super::backend::{Tx, json_list, with_conn, with_pool};
use super::rows::{EVENT_COLUMNS, EventRecord};
use super::{Result, Store};

impl Store {
    /// Events of a session with `after < seq <= upto`, in seq order.
    pub async fn events(
        &self,
        session_id: &SessionId,
        after: Option<u64>,
        upto: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let after = after.map_or(-1, |a| a as i64);
        let upto = upto.map_or(i64::MAX, |u| u as i64);
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
        );
        let records = with_pool!(self, |p| {
            sqlx::query_as::<_, EventRecord>(&sql)
                .bind(session_id.as_str())
                .bind(after)
                .bind(upto)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
        });
        records.into_iter().map(Event::try_from).collect()
    }

    /// Test and benchmark support: how many events of the session are stored. Never called by the server.
    pub async fn count_events(&self, session_id: &SessionId) -> Result<i64> {
        let n = with_pool!(self, |p| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE session_id = $1")
                .bind(session_id.as_str())
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }
}

impl Tx {
    /// Which of `seqs` the session already has stored.
    pub(super) async fn existing_seqs(&mut self, session_id: &str, seqs: &[i64]) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT seq FROM events WHERE session_id = $1 AND seq IN ({})",
            self.json_ints("$2")
        );
        let list = json_list(seqs)?;
        let stored = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(session_id)
                .bind(&list)
                .fetch_all(c)
                .await?
        });
        Ok(stored)
    }

    /// Up to `limit` stored seqs of the session above `after`, ascending.
    pub(super) async fn stored_seqs_after(
        &mut self,
        session_id: &str,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let seqs = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(
                "SELECT seq FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(session_id)
            .bind(after.unwrap_or(-1))
            .bind(limit)
            .fetch_all(c)
            .await?
        });
        Ok(seqs)
    }
}
