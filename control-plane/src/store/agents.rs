//! Statements on `agents`, `agent_versions` and `agent_secrets`: definitions with immutable versions.
//!
//! A PUT runs in one transaction with the agent's row locked (created first as an invisible placeholder
//! when the id is new, so two PUTs of a new id serialise on it instead of racing on the primary key). The
//! caller's planner sees the current version and answers what the new one would be; an identical plan
//! keeps the version.

use std::collections::BTreeMap;

use super::backend::{Tx, with_conn, with_pool};
use super::{Result, Store, StoreError};

/// One stored secret: the sealed value and when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub sealed: String,
    pub updated_at: String,
}

/// One version of an agent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentVersionRow {
    pub agent_id: String,
    pub version: u32,
    /// The definition as JSON, without secrets.
    pub definition: String,
    pub secrets: BTreeMap<String, StoredSecret>,
    /// When this version was made: the agent's `updatedAt` as of it.
    pub created_at: String,
    /// When the agent was first created.
    pub agent_created_at: String,
    pub deleted_at: Option<String>,
}

/// What a PUT stores as the new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPlan {
    pub definition: String,
    pub secrets: BTreeMap<String, StoredSecret>,
}

/// What a PUT did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created(AgentVersionRow),
    Replaced(AgentVersionRow),
    Unchanged(AgentVersionRow),
}

/// Why a PUT stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The planner refused.
    #[error("the definition was refused")]
    Refused(E),
}

type AgentHead = (i64, String, String, Option<String>);

impl Store {
    /// Stores a new version of `agent_id` as `plan` answers it from the current version (`None` for a new
    /// or deleted agent), unless it is the current one unchanged.
    pub async fn put_agent<E>(
        &self,
        agent_id: &str,
        now: &str,
        plan: impl FnOnce(Option<&AgentVersionRow>) -> Result<AgentPlan, E>,
    ) -> Result<PutOutcome, PutError<E>> {
        let mut tx = self.begin().await?;
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO agents (agent_id, version, created_at, updated_at, deleted_at) \
                 VALUES ($1, 0, $2, $2, $2) ON CONFLICT (agent_id) DO NOTHING",
            )
            .bind(agent_id)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::from)?;
        let sql = format!(
            "SELECT version, created_at, updated_at, deleted_at FROM agents WHERE agent_id = $1{}",
            tx.row_lock()
        );
        let (version, created_at, _, deleted_at): AgentHead = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, AgentHead>(&sql)
                .bind(agent_id)
                .fetch_one(c)
                .await
        })
        .map_err(StoreError::from)?;
        let current = if deleted_at.is_none() && version > 0 {
            tx.agent_version(agent_id, version).await?
        } else {
            None
        };
        let plan = plan(current.as_ref()).map_err(PutError::Refused)?;
        if let Some(current) = current
            && current.definition == plan.definition
            && current.secrets == plan.secrets
        {
            return Ok(PutOutcome::Unchanged(current));
        }
        let next = version + 1;
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "INSERT INTO agent_versions (agent_id, version, definition, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(agent_id)
            .bind(next)
            .bind(&plan.definition)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::from)?;
        for (name, secret) in &plan.secrets {
            with_conn!(&mut tx, |c| {
                sqlx::query(
                    "INSERT INTO agent_secrets (agent_id, version, name, sealed, updated_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(agent_id)
                .bind(next)
                .bind(name)
                .bind(&secret.sealed)
                .bind(&secret.updated_at)
                .execute(c)
                .await
                .map(|_| ())
            })
            .map_err(StoreError::from)?;
        }
        with_conn!(&mut tx, |c| {
            sqlx::query(
                "UPDATE agents SET version = $2, updated_at = $3, deleted_at = NULL WHERE agent_id = $1",
            )
            .bind(agent_id)
            .bind(next)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::from)?;
        tx.commit().await?;
        let row = AgentVersionRow {
            agent_id: agent_id.to_owned(),
            version: to_version(next)?,
            definition: plan.definition,
            secrets: plan.secrets,
            created_at: now.to_owned(),
            agent_created_at: created_at,
            deleted_at: None,
        };
        Ok(if version == 0 || deleted_at.is_some() {
            PutOutcome::Created(row)
        } else {
            PutOutcome::Replaced(row)
        })
    }

    /// The agent's latest version, or `version`; `None` when there is no such agent or version. A deleted
    /// agent's versions are answered too (with `deleted_at`): the caller decides what a deleted agent is.
    pub async fn agent(&self, agent_id: &str, version: Option<u32>) -> Result<Option<AgentVersionRow>> {
        let mut tx = self.begin_read().await?;
        let head = tx.agent_head(agent_id).await?;
        let Some((latest, _, _, _)) = head else {
            return Ok(None);
        };
        if latest == 0 {
            return Ok(None);
        }
        let wanted = version.map_or(latest, i64::from);
        tx.agent_version(agent_id, wanted).await
    }

    /// Every agent not deleted, at its latest version, by id.
    pub async fn agents(&self) -> Result<Vec<AgentVersionRow>> {
        let ids: Vec<String> = with_pool!(self, |p| {
            sqlx::query_scalar::<_, String>(
                "SELECT agent_id FROM agents WHERE deleted_at IS NULL AND version > 0 ORDER BY agent_id",
            )
            .fetch_all(p)
            .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = self.agent(&id, None).await? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The versions of an agent (number, when made), oldest first, and when it was deleted; `None` for an
    /// unknown agent.
    pub async fn agent_versions(
        &self,
        agent_id: &str,
    ) -> Result<Option<(Vec<(u32, String)>, Option<String>)>> {
        let mut tx = self.begin_read().await?;
        let Some((latest, _, _, deleted_at)) = tx.agent_head(agent_id).await? else {
            return Ok(None);
        };
        if latest == 0 {
            return Ok(None);
        }
        let rows = with_conn!(&mut tx, |c| {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT version, created_at FROM agent_versions WHERE agent_id = $1 ORDER BY version",
            )
            .bind(agent_id)
            .fetch_all(c)
            .await?
        });
        let versions = rows
            .into_iter()
            .map(|(v, at)| Ok((to_version(v)?, at)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((versions, deleted_at)))
    }

    /// Marks the agent deleted; `false` when there is no such agent (or it was deleted already).
    pub async fn delete_agent(&self, agent_id: &str, now: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let deleted = with_conn!(&mut tx, |c| {
            sqlx::query(
                "UPDATE agents SET deleted_at = $2 WHERE agent_id = $1 AND deleted_at IS NULL AND version > 0",
            )
            .bind(agent_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        tx.commit().await?;
        Ok(deleted)
    }
}

impl Tx {
    async fn agent_head(&mut self, agent_id: &str) -> Result<Option<AgentHead>> {
        let head = with_conn!(self, |c| {
            sqlx::query_as::<_, AgentHead>(
                "SELECT version, created_at, updated_at, deleted_at FROM agents WHERE agent_id = $1",
            )
            .bind(agent_id)
            .fetch_optional(c)
            .await?
        });
        Ok(head)
    }

    /// One version with its secrets and the agent's creation and deletion times.
    pub(super) async fn agent_version(
        &mut self,
        agent_id: &str,
        version: i64,
    ) -> Result<Option<AgentVersionRow>> {
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, (String, String, String, Option<String>)>(
                "SELECT v.definition, v.created_at, a.created_at, a.deleted_at FROM agent_versions v \
                 JOIN agents a ON a.agent_id = v.agent_id WHERE v.agent_id = $1 AND v.version = $2",
            )
            .bind(agent_id)
            .bind(version)
            .fetch_optional(c)
            .await?
        });
        let Some((definition, created_at, agent_created_at, deleted_at)) = row else {
            return Ok(None);
        };
        let secrets = with_conn!(self, |c| {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT name, sealed, updated_at FROM agent_secrets WHERE agent_id = $1 AND version = $2",
            )
            .bind(agent_id)
            .bind(version)
            .fetch_all(c)
            .await?
        });
        Ok(Some(AgentVersionRow {
            agent_id: agent_id.to_owned(),
            version: to_version(version)?,
            definition,
            secrets: secrets
                .into_iter()
                .map(|(name, sealed, updated_at)| (name, StoredSecret { sealed, updated_at }))
                .collect(),
            created_at,
            agent_created_at,
            deleted_at,
        }))
    }
}

pub(super) fn to_version(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("agent version {v}")))
}
