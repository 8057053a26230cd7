//! The `secrets` of a PUT (DESIGN is silent; ARCHITECTURE.md "Changes to DESIGN"): omitted keeps every
//! stored secret; given, it is the new set, where a value replaces (or adds) a secret and `{"set": true}`
//! keeps that secret's stored value, so GET → edit → PUT round-trips. A value equal to the stored one
//! keeps the stored entry, so an identical PUT makes no new version.

use std::collections::BTreeMap;

use protocol::SecretField;
use protocol::validate::RequestError;

use crate::secrets::SecretsKey;
use crate::store::StoredSecret;

pub fn plan(
    agent_id: &str,
    given: Option<&BTreeMap<String, SecretField>>,
    current: Option<&BTreeMap<String, StoredSecret>>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<BTreeMap<String, StoredSecret>, RequestError> {
    let Some(given) = given else {
        return Ok(current.cloned().unwrap_or_default());
    };
    let mut out = BTreeMap::new();
    for (name, field) in given {
        let stored = current.and_then(|c| c.get(name));
        let entry = plan_one(
            agent_id,
            &format!("secrets.{name}"),
            name,
            field,
            stored,
            key,
            now,
        )?;
        out.insert(name.clone(), entry);
    }
    Ok(out)
}

/// One secret `name` given as `field` (named `at` in a refusal), with its `stored` entry if any.
pub fn plan_one(
    agent_id: &str,
    at: &str,
    name: &str,
    field: &SecretField,
    stored: Option<&StoredSecret>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<StoredSecret, RequestError> {
    Ok(match field {
        SecretField::Value(value) => {
            let Some(key) = key else {
                return Err(RequestError::new(
                    at,
                    "this control plane has no secrets key: start every agentctl serve replica with the \
                     same --secrets-key-file or AGENTCTL_SECRETS_KEY",
                ));
            };
            match stored {
                Some(s) if key.open(agent_id, name, &s.sealed).is_ok_and(|v| &v == value) => s.clone(),
                _ => StoredSecret {
                    sealed: key.seal(agent_id, name, value),
                    updated_at: now.to_owned(),
                },
            }
        }
        SecretField::State(state) if state.set => match stored {
            Some(s) => s.clone(),
            None => {
                return Err(RequestError::new(
                    at,
                    "{\"set\": true} keeps a stored value, and this agent has none: give the value",
                ));
            }
        },
        SecretField::State(_) => {
            return Err(RequestError::new(
                at,
                "give a value, or {\"set\": true} to keep the stored one; leave a secret out to remove it",
            ));
        }
    })
}
