//! An agent definition: checked, stored, answered.

use protocol::validate::{self, RequestError};
use protocol::{Agent, AgentId, SecretField, SecretState};

use crate::secrets::SecretsKey;
use crate::store::{AgentPlan, AgentVersionRow, StoreError};

/// Longest `description`, in characters.
const MAX_DESCRIPTION: usize = 4096;
/// Longest selector key or value.
const MAX_LABEL: usize = 253;

/// Checks a PUT body for the agent at `path_id`; answers the id and the definition to store (with the
/// body's secrets still separate, see [`super::secrets::plan`]).
pub fn check(path_id: &str, mut body: Agent) -> Result<(AgentId, Agent), RequestError> {
    let id =
        AgentId::parse(path_id).map_err(|e| RequestError::new("id", format!("{e} (got {path_id:?})")))?;
    if let Some(given) = &body.id
        && given != &id
    {
        return Err(RequestError::new(
            "id",
            format!("{given:?} is not the agent of the path, {id:?}"),
        ));
    }
    if body
        .description
        .as_deref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(RequestError::new(
            "description",
            format!("is longer than {MAX_DESCRIPTION} characters"),
        ));
    }
    validate::check_options(&body.options(), "")?;
    validate::check_timeout(body.timeout_seconds)?;
    validate::check_env("env", &body.env)?;
    validate::plan_files(&body.skills, &body.files)?;
    validate::check_agent_skills(&body.skills)?;
    body.packages = super::packages::normalise(body.packages.take());
    if let Some(packages) = &body.packages {
        validate::check_packages(packages)?;
    }
    for (name, field) in body.secrets.iter().flatten() {
        let at = format!("secrets.{name}");
        validate::check_env_name(name).map_err(|m| RequestError::new(&at, m))?;
        if let SecretField::Value(value) = field {
            validate::check_env_value(name, value).map_err(|m| RequestError::new(&at, m))?;
        }
        if body.env.contains_key(name) {
            return Err(RequestError::new(
                at,
                format!("{name} is in env too: a name is either a value or a secret"),
            ));
        }
    }
    super::databases::check(&body)?;
    for (key, value) in &body.runtime_selector {
        let at = format!("runtimeSelector.{key}");
        let bad =
            |s: &str| s.is_empty() || s.len() > MAX_LABEL || s.chars().any(|c| c.is_control() || c == '=');
        if bad(key) || bad(value) {
            return Err(RequestError::new(
                at,
                format!("keys and values are 1 to {MAX_LABEL} characters, without `=` or control characters"),
            ));
        }
    }
    body.id = Some(id.clone());
    body.version = None;
    body.created_at = None;
    body.updated_at = None;
    Ok((id, body))
}

/// The version to store: the definition without secrets, as JSON, and the sealed secrets.
pub fn plan(
    id: &AgentId,
    definition: &Agent,
    current: Option<&AgentVersionRow>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<AgentPlan, RequestError> {
    let env_secrets = current.map(|c| super::databases::env_secrets(&c.secrets));
    let mut secrets = super::secrets::plan(
        id.as_str(),
        definition.secrets.as_ref(),
        env_secrets.as_ref(),
        key,
        now,
    )?;
    let databases = &definition.databases;
    secrets.extend(super::databases::plan(
        id.as_str(),
        databases,
        current.map(|c| &c.secrets),
        key,
        now,
    )?);
    let mut stored = definition.clone();
    stored.secrets = None;
    stored.databases = super::databases::stored(databases);
    Ok(AgentPlan {
        definition: serde_json::to_string(&stored).expect("a definition serialises"),
        secrets,
    })
}

/// The answer for a stored version: its definition, `version`, `createdAt`, `updatedAt`, and every secret
/// as `{"set": true, "updatedAt"}`.
pub fn answer(row: &AgentVersionRow) -> Result<Agent, StoreError> {
    let mut agent = stored(row)?;
    agent.secrets = Some(
        row.secrets
            .iter()
            .filter(|(name, _)| !super::databases::is_database_secret(name))
            .map(|(name, secret)| {
                (
                    name.clone(),
                    SecretField::State(SecretState {
                        set: true,
                        updated_at: Some(secret.updated_at.clone()),
                    }),
                )
            })
            .collect(),
    );
    super::databases::answer(&mut agent.databases, &row.secrets);
    agent.version = Some(row.version);
    agent.created_at = Some(row.agent_created_at.clone());
    agent.updated_at = Some(row.created_at.clone());
    Ok(agent)
}

/// The stored definition of a version, for a job.
pub fn stored(row: &AgentVersionRow) -> Result<Agent, StoreError> {
    serde_json::from_str(&row.definition).map_err(|e| {
        StoreError::Corrupt(format!(
            "agent_versions ({}, {}): definition: {e}",
            row.agent_id, row.version
        ))
    })
}
