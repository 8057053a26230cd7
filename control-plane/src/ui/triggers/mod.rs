//! `/triggers…`: the list, a trigger's page (the hook URL to paste, the `verify: none` warning, its
//! deliveries with replay), the form that creates and edits one (the definition as YAML or JSON, as
//! `agentctl triggers apply -f` takes it), deletion. Changes go through `crate::triggers::put` and
//! `crate::triggers::replay`, the paths of the JSON API.
//!
//! - `text`: the form's text ⇄ a `protocol::Trigger` (pure); `edit`: the form; `view`: the pages, delete
//!   and replay.

mod edit;
mod text;
mod view;

pub use edit::{create, edit, new, update};
pub use view::{confirm_delete, delete, list, replay, show};

use protocol::{Trigger, TriggerId};

use crate::http::AppState;
use crate::triggers::definition;
use crate::ui::page::UiError;

fn trigger_id(raw: &str) -> Result<TriggerId, UiError> {
    TriggerId::parse(raw).map_err(|e| UiError::not_found(format!("{raw:?} is not a trigger id: {e}")))
}

/// The trigger as the API answers it (write-only values as `{"set": true}`).
async fn answer(state: &AppState, id: &TriggerId) -> Result<Trigger, UiError> {
    let row = state
        .store
        .trigger(id.as_str())
        .await?
        .ok_or_else(|| UiError::not_found(format!("trigger {id} not found")))?;
    Ok(definition::answer(&row)?)
}
