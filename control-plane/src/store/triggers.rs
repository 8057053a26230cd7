//! Statements on `triggers` and `trigger_secrets`: trigger definitions (DESIGN §10).
//!
//! A trigger is one row, replaced in place (deliveries name the trigger, not a version of it). A PUT runs
//! in one transaction: the caller's planner sees the current row and answers the new one; an identical
//! plan stores nothing. The agent a trigger starts must exist and not be deleted when the trigger is put.

use std::collections::BTreeMap;

use super::agents::{PutError, StoredSecret};
use super::backend::{Tx, with_conn, with_pool};
use super::{Result, Store, StoreError};

/// A trigger as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRow {
    pub trigger_id: String,
    pub agent_id: String,
    /// The definition as JSON, without secrets or credentials.
    pub definition: String,
    /// `verify.secrets.<index>` and `reply.credentials.<name>`, sealed.
    pub secrets: BTreeMap<String, StoredSecret>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a PUT stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPlan {
    pub agent_id: String,
    pub definition: String,
    pub secrets: BTreeMap<String, StoredSecret>,
}

/// What a PUT did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerPut {
    Created(TriggerRow),
    Replaced(TriggerRow),
    Unchanged(TriggerRow),
    /// The plan's agent does not exist, or was deleted: nothing stored.
    UnknownAgent(String),
}

type Head = (String, String, String, String);

impl Store {
    /// Stores `trigger_id` as `plan` answers it from the current row (`None` for a new trigger), unless it
    /// is the current one unchanged.
    pub async fn put_trigger<E>(
        &self,
        trigger_id: &str,
        now: &str,
        plan: impl FnOnce(Option<&TriggerRow>) -> Result<TriggerPlan, E>,
    ) -> Result<TriggerPut, PutError<E>> {
        let mut tx = self.begin().await?;
        let current = tx.trigger(trigger_id, true).await?;
        let plan = plan(current.as_ref()).map_err(PutError::Refused)?;
        let agent = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (i64, Option<String>)>(
                "SELECT version, deleted_at FROM agents WHERE agent_id = $1",
            )
            .bind(&plan.agent_id)
            .fetch_optional(c)
            .await
        })
        .map_err(StoreError::from)?;
        if !matches!(agent, Some((v, None)) if v > 0) {
            return Ok(TriggerPut::UnknownAgent(plan.agent_id));
        }
        if let Some(current) = &current
            && current.agent_id == plan.agent_id
            && current.definition == plan.definition
            && current.secrets == plan.secrets
        {
            return Ok(TriggerPut::Unchanged(current.clone()));
        }
        let created_at = current.as_ref().map_or(now, |c| c.created_at.as_str()).to_owned();
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO triggers (trigger_id, agent_id, definition, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (trigger_id) DO UPDATE \
                 SET agent_id = excluded.agent_id, definition = excluded.definition, \
                 updated_at = excluded.updated_at",
            )
            .bind(trigger_id)
            .bind(&plan.agent_id)
            .bind(&plan.definition)
            .bind(&created_at)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::from)?;
        with_conn!(&mut tx, |c| {
            sqlx::query("DELETE FROM trigger_secrets WHERE trigger_id = $1")
                .bind(trigger_id)
                .execute(c)
                .await
                .map(|_| ())
        })
        .map_err(StoreError::from)?;
        for (name, secret) in &plan.secrets {
            with_conn!(&mut tx, |c| {
                sqlx::query(
                    "INSERT INTO trigger_secrets (trigger_id, name, sealed, updated_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(trigger_id)
                .bind(name)
                .bind(&secret.sealed)
                .bind(&secret.updated_at)
                .execute(c)
                .await
                .map(|_| ())
            })
            .map_err(StoreError::from)?;
        }
        tx.commit().await?;
        let row = TriggerRow {
            trigger_id: trigger_id.to_owned(),
            agent_id: plan.agent_id,
            definition: plan.definition,
            secrets: plan.secrets,
            created_at,
            updated_at: now.to_owned(),
        };
        Ok(if current.is_some() {
            TriggerPut::Replaced(row)
        } else {
            TriggerPut::Created(row)
        })
    }

    /// One trigger with its sealed secrets.
    pub async fn trigger(&self, trigger_id: &str) -> Result<Option<TriggerRow>> {
        let mut tx = self.begin_read().await?;
        let row = tx.trigger(trigger_id, false).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Every trigger, by id, without their secrets' sealed values read more than once.
    pub async fn triggers(&self) -> Result<Vec<TriggerRow>> {
        let heads = with_pool!(self, |p| {
            sqlx::query_as::<_, (String, String, String, String, String)>(
                "SELECT trigger_id, agent_id, definition, created_at, updated_at FROM triggers \
                 ORDER BY trigger_id",
            )
            .fetch_all(p)
            .await?
        });
        let secrets = with_pool!(self, |p| {
            sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT trigger_id, name, sealed, updated_at FROM trigger_secrets",
            )
            .fetch_all(p)
            .await?
        });
        let mut by_trigger: BTreeMap<String, BTreeMap<String, StoredSecret>> = BTreeMap::new();
        for (trigger_id, name, sealed, updated_at) in secrets {
            by_trigger
                .entry(trigger_id)
                .or_default()
                .insert(name, StoredSecret { sealed, updated_at });
        }
        Ok(heads
            .into_iter()
            .map(
                |(trigger_id, agent_id, definition, created_at, updated_at)| TriggerRow {
                    secrets: by_trigger.remove(&trigger_id).unwrap_or_default(),
                    trigger_id,
                    agent_id,
                    definition,
                    created_at,
                    updated_at,
                },
            )
            .collect())
    }

    /// Deletes a trigger and its secrets; its deliveries stay readable. False when there was none.
    pub async fn delete_trigger(&self, trigger_id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let deleted = with_conn!(&mut tx, |c| {
            sqlx::query("DELETE FROM triggers WHERE trigger_id = $1")
                .bind(trigger_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected() == 1)
        })?;
        with_conn!(&mut tx, |c| {
            sqlx::query("DELETE FROM trigger_secrets WHERE trigger_id = $1")
                .bind(trigger_id)
                .execute(c)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(deleted)
    }
}

impl Tx {
    /// A trigger and its secrets, the row locked when `lock` (PostgreSQL; SQLite's one writer serialises).
    pub(super) async fn trigger(&mut self, trigger_id: &str, lock: bool) -> Result<Option<TriggerRow>> {
        let sql = format!(
            "SELECT trigger_id, agent_id, definition, created_at, updated_at FROM triggers \
             WHERE trigger_id = $1{}",
            if lock { self.row_lock() } else { "" }
        );
        let head = with_conn!(self, |c| {
            sqlx::query_as::<_, (String, String, String, String, String)>(&sql)
                .bind(trigger_id)
                .fetch_optional(c)
                .await?
        });
        let Some((trigger_id, agent_id, definition, created_at, updated_at)) = head else {
            return Ok(None);
        };
        let secrets: Vec<Head> = with_conn!(self, |c| {
            sqlx::query_as::<_, Head>(
                "SELECT trigger_id, name, sealed, updated_at FROM trigger_secrets WHERE trigger_id = $1",
            )
            .bind(&trigger_id)
            .fetch_all(c)
            .await?
        });
        Ok(Some(TriggerRow {
            secrets: secrets
                .into_iter()
                .map(|(_, name, sealed, updated_at)| (name, StoredSecret { sealed, updated_at }))
                .collect(),
            trigger_id,
            agent_id,
            definition,
            created_at,
            updated_at,
        }))
    }
}
