//! Statements on `trigger_conversations`: the conversation keys of a trigger (a template's key,
//! `sms:<to>:<from>`, an email's `msg:<Message-ID>` and reply tokens) and the §9 conversation each continues.
//! A key is filed once and stays while its conversation does: the first filing wins (`ON CONFLICT DO
//! NOTHING`); retention deletes a conversation's keys with its last session, and a key found pointing at a
//! conversation deleted meanwhile is dropped (`forget_conversation`) so the thread starts a new one.

use super::Result;
use super::backend::{Tx, with_conn};

impl Tx {
    /// The first of `candidates` filed for this trigger, with its conversation.
    pub(super) async fn find_conversation(
        &mut self,
        trigger_id: &str,
        candidates: &[String],
    ) -> Result<Option<(String, String)>> {
        for key in candidates {
            let found = with_conn!(&mut *self, |c| {
                sqlx::query_scalar::<_, String>(
                    "SELECT conversation_id FROM trigger_conversations \
                     WHERE trigger_id = $1 AND conversation_key = $2",
                )
                .bind(trigger_id)
                .bind(key)
                .fetch_optional(c)
                .await?
            });
            if let Some(conversation) = found {
                return Ok(Some((key.clone(), conversation)));
            }
        }
        Ok(None)
    }

    /// Drops this trigger's keys of `conversation` (deleted by retention since they were read).
    pub(super) async fn forget_conversation(&mut self, trigger_id: &str, conversation: &str) -> Result<()> {
        with_conn!(&mut *self, |c| {
            sqlx::query("DELETE FROM trigger_conversations WHERE trigger_id = $1 AND conversation_id = $2")
                .bind(trigger_id)
                .bind(conversation)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Files `key` under a conversation, unless it is filed already (the first filing wins).
    pub(super) async fn file_conversation(
        &mut self,
        trigger_id: &str,
        key: &str,
        conversation: &str,
        at: &str,
    ) -> Result<()> {
        with_conn!(&mut *self, |c| {
            sqlx::query(
                "INSERT INTO trigger_conversations (trigger_id, conversation_key, conversation_id, \
                 created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (trigger_id, conversation_key) DO NOTHING",
            )
            .bind(trigger_id)
            .bind(key)
            .bind(conversation)
            .bind(at)
            .execute(c)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}
