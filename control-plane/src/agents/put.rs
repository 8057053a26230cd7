//! Putting an agent definition: the one path of `PUT /api/v1/agents/{id}` and the UI's agent form, so both
//! check the same way and an unchanged definition makes no new version through either.

use protocol::validate::RequestError;
use protocol::{Agent, AgentId};

use super::definition;
use super::packages::{self, NpmRegistry};
use crate::secrets::SecretsKey;
use crate::store::{PutError, PutOutcome, Store};
use crate::time;

/// Checks `body` as the definition of the agent at `path_id` and stores it as its next version (unless it
/// is the current one unchanged). A definition the checks refuse is `PutError::Refused`, naming the field;
/// so are npm packages npm cannot resolve from `registry`.
///
/// The packages are pinned before the transaction (npm may take a while, and holds no lock of ours): from
/// the current version's lockfile when its specs are the same, else by npm. Inside the transaction a
/// current version with the same specs gives its lockfile again, so two racing PUTs of one body agree.
pub async fn put(
    store: &Store,
    key: Option<&SecretsKey>,
    registry: &NpmRegistry,
    path_id: &str,
    body: Agent,
) -> Result<(AgentId, PutOutcome), PutError<RequestError>> {
    let (id, mut definition) = definition::check(path_id, body).map_err(PutError::Refused)?;
    if definition.packages.is_some() {
        let current = match store.agent(id.as_str(), None).await? {
            Some(row) => definition::stored(&row).ok(),
            None => None,
        };
        packages::pin(registry, &mut definition, current.as_ref())
            .await
            .map_err(PutError::Refused)?;
    }
    let now = time::rfc3339_ms(time::now_ms());
    let outcome = store
        .put_agent(id.as_str(), &now, |current| {
            let mut definition = definition;
            if let Some(pinned) = definition.packages.as_mut()
                && let Some(stored) = current.and_then(|c| definition::stored(c).ok())
                && let Some(lockfile) = packages::reusable(&pinned.npm, Some(&stored))
            {
                pinned.lockfile = Some(lockfile.to_owned());
            }
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
