//! Putting a trigger definition: the one path of `PUT /api/v1/triggers/{id}` and the UI's trigger form.

use protocol::validate::RequestError;
use protocol::{Trigger, TriggerId};

use super::definition;
use crate::secrets::SecretsKey;
use crate::store::{PutError, Store, TriggerPut};
use crate::time;

/// Checks `body` as the definition of the trigger at `path_id` and stores it. A definition the checks
/// refuse is `PutError::Refused`, naming the field; an unknown agent is `TriggerPut::UnknownAgent`.
pub async fn put(
    store: &Store,
    key: Option<&SecretsKey>,
    path_id: &str,
    body: Trigger,
) -> Result<(TriggerId, TriggerPut), PutError<RequestError>> {
    let (id, definition) = definition::check(path_id, body).map_err(PutError::Refused)?;
    let now = time::rfc3339_ms(time::now_ms());
    let outcome = store
        .put_trigger(id.as_str(), &now, |current| {
            definition::plan(&id, &definition, current, key, &now)
        })
        .await?;
    if let TriggerPut::Created(row) | TriggerPut::Replaced(row) | TriggerPut::Unchanged(row) = &outcome {
        tracing::info!(
            trigger_id = %id,
            agent_id = %row.agent_id,
            created = matches!(outcome, TriggerPut::Created(_)),
            "trigger put"
        );
    }
    Ok((id, outcome))
}

/// What a refused put says when its agent is missing.
pub fn unknown_agent(agent: &str) -> String {
    format!("agentId: agent {agent} not found (or deleted): put the agent first")
}
