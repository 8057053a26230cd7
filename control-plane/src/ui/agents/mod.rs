//! `/agents…`: the list, an agent's page (its definition, versions, run form), the form that creates and
//! edits one, a version, a diff of two versions, deletion. Changes go through `crate::agents::put` and
//! `crate::agents::queue`, the paths of the JSON API.
//!
//! - `form`: the form's fields ⇄ a `protocol::Agent` (pure); `diff`: two versions' line diff (pure);
//! - `edit`: the form's pages and posts; `view`: the read-only pages.

mod diff;
mod edit;
mod form;
mod view;

pub use edit::{create, edit, new, update};
pub use view::{confirm_delete, delete, diff, list, run, show, version};

use protocol::{Agent, AgentId};

use crate::agents::definition;
use crate::http::AppState;
use crate::store::AgentVersionRow;
use crate::ui::page::UiError;

fn agent_id(raw: &str) -> Result<AgentId, UiError> {
    AgentId::parse(raw).map_err(|e| UiError::not_found(format!("{raw:?} is not an agent id: {e}")))
}

/// The agent's row at `version` (the latest when `None`), deleted or not.
async fn row(state: &AppState, id: &AgentId, version: Option<u32>) -> Result<AgentVersionRow, UiError> {
    state
        .store
        .agent(id.as_str(), version)
        .await?
        .ok_or_else(|| match version {
            Some(v) => UiError::not_found(format!("agent {id} has no version {v}")),
            None => UiError::not_found(format!("agent {id} not found")),
        })
}

/// The agent's current definition as the API answers it; a deleted agent is not found.
async fn current(state: &AppState, id: &AgentId) -> Result<Agent, UiError> {
    let row = row(state, id, None).await?;
    if row.deleted_at.is_some() {
        return Err(UiError::not_found(format!("agent {id} was deleted")));
    }
    Ok(definition::answer(&row)?)
}
