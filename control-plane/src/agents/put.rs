//! Putting an agent definition: the one path of `PUT /api/v1/agents/{id}` and the UI's agent form, so both
//! check the same way and an unchanged definition makes no new version through either.

use protocol::validate::RequestError;
use protocol::{Agent, AgentId};

use super::definition;
use crate::secrets::SecretsKey;
use crate::store::{PutError, PutOutcome, Store};
use crate::time;

/// Checks `body` as the definition of the agent at `path_id` and stores it as its next version (unless it
/// is the current one unchanged). A definition the checks refuse is `PutError::Refused`, naming the field.
pub async fn put(
    store: &Store,
    key: Option<&SecretsKey>,
    path_id: &str,
    body: Agent,
) -> Result<(AgentId, PutOutcome), PutError<RequestError>> {
    let (id, definition) = definition::check(path_id, body).map_err(PutError::Refused)?;
    let now = time::rfc3339_ms(time::now_ms());
    let outcome = store
        .put_agent(id.as_str(), &now, |current| {
            definition::plan(&id, &definition, current, key, &now)
        })
        .await?;
    match &outcome {
        PutOutcome::Created(row) => tracing::info!(agent_id = %id, version = row.version, "agent created"),
        PutOutcome::Replaced(row) | PutOutcome::Unchanged(row) => {
            tracing::info!(agent_id = %id, version = row.version, "agent put");
        }
    }
    Ok((id, outcome))
}
