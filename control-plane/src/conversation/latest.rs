//! The state a claimed session continues from: that of the latest earlier session of its conversation
//! whose stored pieces make a complete state. An incomplete one (a cancelled or killed turn) is skipped,
//! so the turn continues from the one before; with none the turn starts fresh.

use protocol::ConversationState;

use super::{StateProblem, assemble};
use crate::secrets::SecretsKey;
use crate::store::{Store, StoreError};

/// Why a claimed session gets no job.
#[derive(Debug, thiserror::Error)]
pub enum LatestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session must fail with this reason: its job could not carry the conversation.
    #[error("the conversation cannot continue: {0}")]
    Unusable(StateProblem),
}

pub async fn latest(
    store: &Store,
    key: Option<&SecretsKey>,
    conversation_id: &str,
    session_id: &str,
) -> Result<Option<ConversationState>, LatestError> {
    if conversation_id == session_id {
        return Ok(None);
    }
    for candidate in store.state_candidates(conversation_id, session_id).await? {
        let pieces = store.state_pieces(&candidate).await?;
        match assemble(&pieces, key) {
            Ok(state) => return Ok(Some(state)),
            Err(StateProblem::Incomplete(why)) => {
                tracing::warn!(session_id, earlier = %candidate, why, "skip an incomplete conversation state");
            }
            Err(problem) => return Err(LatestError::Unusable(problem)),
        }
    }
    tracing::warn!(
        session_id,
        conversation_id,
        "no earlier session of the conversation left a complete state: the turn starts fresh"
    );
    Ok(None)
}
