//! A trigger's write-only values at rest: its `verify.secrets` (by index) and `reply.credentials` (by
//! name), sealed with the server's secrets key under the owner `trigger:<id>`, so a value copied from an
//! agent's row, or from another trigger's, does not open.

use std::collections::BTreeMap;

use protocol::validate::RequestError;
use protocol::{SecretField, Trigger};

use crate::secrets::SecretsKey;
use crate::store::{StoredSecret, TriggerRow};

/// The owner a trigger's values are sealed for (an agent id never holds `:`, so never collides).
pub fn owner(trigger_id: &str) -> String {
    format!("trigger:{trigger_id}")
}

/// The stored name of `verify.secrets[index]`.
pub fn verify_secret(index: usize) -> String {
    format!("{VERIFY_PREFIX}{index}")
}

/// The stored name of `reply.credentials.<name>`.
pub fn credential(name: &str) -> String {
    format!("{CREDENTIAL_PREFIX}{name}")
}

pub const VERIFY_PREFIX: &str = "verify.secrets.";
pub const CREDENTIAL_PREFIX: &str = "reply.credentials.";

/// What `verify.secrets` and `reply.credentials` of a PUT leave stored, by the agents' rules: omitted
/// keeps what is stored; given, it is the new set, where a value replaces (or adds) one and
/// `{"set": true}` keeps the stored value at that index or name. A value equal to the stored one keeps
/// the stored entry, so an identical PUT is `Unchanged`. A scheme of `none` keeps no secrets; a trigger
/// without `reply` keeps no credentials.
pub fn plan(
    trigger_id: &str,
    given: &Trigger,
    current: Option<&TriggerRow>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<BTreeMap<String, StoredSecret>, RequestError> {
    let owner = owner(trigger_id);
    let stored = |prefix: &str| -> BTreeMap<String, StoredSecret> {
        current
            .map(|c| &c.secrets)
            .into_iter()
            .flatten()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, s)| (name.clone(), s.clone()))
            .collect()
    };
    let current_of = |name: &str| current.and_then(|c| c.secrets.get(name));
    let mut out = BTreeMap::new();
    if given.verify.scheme != protocol::VerifyScheme::None {
        match &given.verify.secrets {
            None => out.extend(stored(VERIFY_PREFIX)),
            Some(list) => {
                for (index, field) in list.iter().enumerate() {
                    let name = verify_secret(index);
                    let at = format!("verify.secrets[{index}]");
                    let entry = entry(&owner, &name, &at, field, current_of(&name), key, now)?;
                    out.insert(name, entry);
                }
            }
        }
    }
    if let Some(reply) = &given.reply {
        match &reply.credentials {
            None => out.extend(stored(CREDENTIAL_PREFIX)),
            Some(map) => {
                for (credential_name, field) in map {
                    let name = credential(credential_name);
                    let at = format!("reply.credentials.{credential_name}");
                    let entry = entry(&owner, &name, &at, field, current_of(&name), key, now)?;
                    out.insert(name, entry);
                }
            }
        }
    }
    Ok(out)
}

fn entry(
    owner: &str,
    name: &str,
    at: &str,
    field: &SecretField,
    stored: Option<&StoredSecret>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<StoredSecret, RequestError> {
    match field {
        SecretField::Value(value) => {
            let Some(key) = key else {
                return Err(RequestError::new(
                    at,
                    "this control plane has no secrets key: start every agentctl serve replica with the \
                     same --secrets-key-file or AGENTCTL_SECRETS_KEY",
                ));
            };
            Ok(match stored {
                Some(s) if key.open(owner, name, &s.sealed).is_ok_and(|v| &v == value) => s.clone(),
                _ => StoredSecret {
                    sealed: key.seal(owner, name, value),
                    updated_at: now.to_owned(),
                },
            })
        }
        SecretField::State(state) if state.set => stored.cloned().ok_or_else(|| {
            RequestError::new(
                at,
                "{\"set\": true} keeps a stored value, and this trigger has none there: give the value",
            )
        }),
        SecretField::State(_) => Err(RequestError::new(
            at,
            "give a value, or {\"set\": true} to keep the stored one; leave it out to remove it",
        )),
    }
}

/// How many `verify.secrets` a plan keeps.
pub fn verify_count(plan: &BTreeMap<String, StoredSecret>) -> usize {
    plan.keys().filter(|n| n.starts_with(VERIFY_PREFIX)).count()
}

/// Whether a plan keeps `reply.credentials.<name>`.
pub fn has_credential(plan: &BTreeMap<String, StoredSecret>, name: &str) -> bool {
    plan.contains_key(&credential(name))
}
