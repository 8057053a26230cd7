//! Replaying a delivery: the one path of `POST /api/v1/deliveries/{id}/replay` and the UI's replay button.
//! The stored normalised request is queued again as a new session of the trigger's agent.

use protocol::QueuedSession;

use super::config::config;
use crate::agents::queue::answer;
use crate::dispatch::Dispatch;
use crate::store::{QueueOutcome, Replay, Replayed, Store, StoreError};
use crate::time;

/// Why a delivery was not replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    NotFound(String),
    /// Its trigger or agent is gone, or there is nothing to replay (refused, invalid, …).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn replay(store: &Store, dispatch: &Dispatch, id: &str) -> Result<QueuedSession, ReplayError> {
    let Some(found) = store.delivery(id).await? else {
        return Err(ReplayError::NotFound(format!("delivery {id} not found")));
    };
    let Some(row) = store.trigger(&found.trigger_id).await? else {
        return Err(ReplayError::Conflict(format!(
            "delivery {id} cannot be replayed: its trigger {} was deleted",
            found.trigger_id
        )));
    };
    let cfg = config(&row, dispatch.secrets_key.as_ref())?;
    let session = uuid::Uuid::new_v4().to_string();
    let replayed = store
        .replay_delivery(&Replay {
            delivery_id: id,
            agent_id: cfg.trigger.agent_id.as_str(),
            session_id: &session,
            reply: cfg.trigger.reply.is_some(),
            now_ms: time::now_ms(),
        })
        .await?;
    match replayed {
        Replayed::Queued(row) => {
            tracing::info!(delivery_id = %id, session_id = %row.session_id, "delivery replayed");
            dispatch.bell.ring().await;
            Ok(answer(row)?)
        }
        Replayed::UnknownDelivery => Err(ReplayError::NotFound(format!("delivery {id} not found"))),
        Replayed::NothingToReplay(why) => Err(ReplayError::Conflict(format!(
            "delivery {id} has nothing to replay: {why}"
        ))),
        Replayed::NotQueued(QueueOutcome::DeletedAgent | QueueOutcome::UnknownAgent) => {
            Err(ReplayError::Conflict(format!(
                "delivery {id} cannot be replayed: agent {} was deleted",
                cfg.trigger.agent_id
            )))
        }
        Replayed::NotQueued(other) => Err(ReplayError::Conflict(format!(
            "delivery {id} cannot be replayed: {other:?}"
        ))),
    }
}
