//! The `databases` of an agent definition (issue 15 part 2; DESIGN §9 is silent, ARCHITECTURE.md "Changes to
//! DESIGN"). Each URL is a write-only secret sealed beside the agent's `secrets`, in `agent_secrets` under the
//! name `databases.<name>` (a name no environment variable can have), so it is stored, kept, versioned and
//! opened exactly as they are: a value replaces it, `{"set": true}` keeps it, an equal value keeps the stored
//! entry (an identical PUT makes no new version). The stored definition holds each URL as `{"set": true}`.

use std::collections::BTreeMap;

use protocol::validate::{self, RequestError};
use protocol::{Agent, AgentDatabase, DatabaseSpec, SecretField, SecretState};

use crate::secrets::SecretsKey;
use crate::store::StoredSecret;

const PREFIX: &str = "databases.";

/// The `agent_secrets` name of database `name`'s URL.
fn secret_name(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// Whether a stored secret is a database's URL rather than an environment secret.
pub fn is_database_secret(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// The environment secrets of a stored set, without the databases' URLs.
pub fn env_secrets(secrets: &BTreeMap<String, StoredSecret>) -> BTreeMap<String, StoredSecret> {
    (secrets.iter())
        .filter(|(name, _)| !is_database_secret(name))
        .map(|(name, s)| (name.clone(), s.clone()))
        .collect()
}

/// Checks the names and the given URLs (never quoting one in a message).
pub fn check(body: &Agent) -> Result<(), RequestError> {
    let databases: Vec<(&str, Option<&str>)> = (body.databases.iter())
        .map(|d| {
            let url = match &d.url {
                SecretField::Value(url) => Some(url.as_str()),
                SecretField::State(_) => None,
            };
            (d.name.as_str(), url)
        })
        .collect();
    validate::check_databases(&databases, body.mcp_servers.as_ref())
}

/// The sealed URLs of `databases`, by their `agent_secrets` name.
pub fn plan(
    agent_id: &str,
    databases: &[AgentDatabase],
    current: Option<&BTreeMap<String, StoredSecret>>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<BTreeMap<String, StoredSecret>, RequestError> {
    let mut out = BTreeMap::new();
    for (i, database) in databases.iter().enumerate() {
        let name = secret_name(&database.name);
        let stored = current.and_then(|c| c.get(&name));
        let at = format!("databases[{i}].url");
        let entry = super::secrets::plan_one(agent_id, &at, &name, &database.url, stored, key, now)?;
        out.insert(name, entry);
    }
    Ok(out)
}

/// The databases as stored in the definition: each URL `{"set": true}`.
pub fn stored(databases: &[AgentDatabase]) -> Vec<AgentDatabase> {
    (databases.iter())
        .map(|d| AgentDatabase {
            url: SecretField::State(SecretState {
                set: true,
                updated_at: None,
            }),
            ..d.clone()
        })
        .collect()
}

/// Fills each database's `{"set": true, "updatedAt"}` from the stored secrets, for an answer.
pub fn answer(databases: &mut [AgentDatabase], secrets: &BTreeMap<String, StoredSecret>) {
    for database in databases {
        database.url = SecretField::State(SecretState {
            set: true,
            updated_at: secrets
                .get(&secret_name(&database.name))
                .map(|s| s.updated_at.clone()),
        });
    }
}

/// The databases of a job: takes each URL out of the opened secrets (what stays there is the environment's).
pub fn resolve(agent: &Agent, opened: &mut BTreeMap<String, String>) -> Result<Vec<DatabaseSpec>, String> {
    let specs = (agent.databases.iter())
        .map(|d| {
            let url = opened
                .get(&secret_name(&d.name))
                .cloned()
                .ok_or_else(|| format!("database {} has no stored URL", d.name))?;
            Ok(DatabaseSpec {
                name: d.name.clone(),
                url,
                read_only: d.read_only,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    opened.retain(|name, _| !is_database_secret(name));
    Ok(specs)
}
