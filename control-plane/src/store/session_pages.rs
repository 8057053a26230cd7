//! The web UI's reads (DESIGN §11): a page of the sessions list and a page of one session's events, each one
//! index scan whatever the table's size (migration 0008 has the indexes the list's filters need; the events'
//! primary key `(session_id, seq)` serves the transcript, read backwards from its newest event).

use protocol::{Event, SessionId, SessionStatus};

use super::backend::with_pool;
use super::rows::{EVENT_COLUMNS, EventRecord, SESSION_COLUMNS, SessionRecord, SessionRow};
use super::{Result, Store};

/// A page of the UI's sessions list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPage {
    /// Any of these statuses; every status when empty.
    pub statuses: Vec<SessionStatus>,
    pub agent_id: Option<String>,
    /// Only sessions older than this row id (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

impl SessionPage {
    /// The `WHERE … ORDER BY … LIMIT` of the page, with `$n` placeholders bound in this order: agent, before,
    /// limit. The statuses are written in as literals: they come from the closed [`SessionStatus`] set, and
    /// as literals they let the planner pick the partial indexes of migration 0008.
    fn sql(&self) -> String {
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
        match self.statuses.as_slice() {
            [] => {}
            [one] => sql.push_str(&format!(" AND status = '{}'", one.as_str())),
            many => {
                let list: Vec<String> = many.iter().map(|s| format!("'{}'", s.as_str())).collect();
                sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
            }
        }
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if self.agent_id.is_some() {
            sql.push_str(&format!(" AND agent_id = {}", param()));
        }
        if self.before.is_some() {
            sql.push_str(&format!(" AND id < {}", param()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", param()));
        sql
    }
}

impl Store {
    /// A page of sessions, newest first; one more than `limit` is returned when there is an older page.
    pub async fn session_page(&self, page: &SessionPage) -> Result<Vec<SessionRow>> {
        let sql = page.sql();
        let records = with_pool!(self, |p| {
            let mut query = sqlx::query_as::<_, SessionRecord>(&sql);
            if let Some(agent) = &page.agent_id {
                query = query.bind(agent.as_str());
            }
            if let Some(before) = page.before {
                query = query.bind(before);
            }
            query.bind(i64::from(page.limit) + 1).fetch_all(p).await?
        });
        records.into_iter().map(SessionRow::try_from).collect()
    }

    /// The `limit` newest events of a session below seq `before` (all when `None`), in seq order.
    pub async fn events_before(
        &self,
        session_id: &SessionId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let records = with_pool!(self, |p| {
            sqlx::query_as::<_, EventRecord>(&sql)
                .bind(session_id.as_str())
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
        });
        let mut events = records
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(page: SessionPage, expect: Expect) {
        let sql = page.sql();
        let tail = sql.split_once(" WHERE ").map_or(sql.as_str(), |(_, t)| t);
        expect.assert_eq(tail);
    }

    #[test]
    fn each_filter_adds_one_condition_and_its_placeholder() {
        check(
            SessionPage {
                limit: 50,
                ..SessionPage::default()
            },
            expect!["1 = 1 ORDER BY id DESC LIMIT $1"],
        );
        check(
            SessionPage {
                statuses: vec![SessionStatus::Running],
                before: Some(7),
                limit: 50,
                ..SessionPage::default()
            },
            expect!["1 = 1 AND status = 'running' AND id < $1 ORDER BY id DESC LIMIT $2"],
        );
        check(
            SessionPage {
                statuses: vec![
                    SessionStatus::Failed,
                    SessionStatus::TimedOut,
                    SessionStatus::Lost,
                ],
                agent_id: Some("reviewer".into()),
                before: Some(7),
                limit: 50,
            },
            expect![
                "1 = 1 AND status IN ('failed', 'timed_out', 'lost') AND agent_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            ],
        );
    }
}
