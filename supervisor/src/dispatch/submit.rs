//! The one way a session starts, for `POST /execute` and claimed jobs alike: validate, refuse while
//! draining, admit and launch.

use std::sync::Arc;

use protocol::ExecuteRequest;

use crate::session::launch::{Launch, LaunchError, launch};
use crate::session::request::{RequestError, prepare};
use crate::state::AppState;

/// Why a request did not start a session.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// The caller's mistake, naming the field.
    #[error(transparent)]
    Invalid(#[from] RequestError),
    #[error("the runtime is draining: it starts no new session")]
    Draining,
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

/// Validates `request`, then admits and starts its session.
pub(crate) async fn submit(state: &Arc<AppState>, request: ExecuteRequest) -> Result<Launch, Refusal> {
    let prepared = prepare(request, state.config.session_timeout)?;
    // At shutdown the drain token is cancelled too; admission then answers `ShuttingDown` itself.
    if state.drain.is_cancelled() && !state.shutdown.is_cancelled() {
        return Err(Refusal::Draining);
    }
    // Admission and start run in a task of their own: hyper drops a handler when the client hangs up,
    // and a launch cut short at an await would leave a pending session holding a slot forever.
    let task_state = state.clone();
    let launched = state
        .tasks
        .spawn(async move { launch(&task_state, prepared).await })
        .await
        .expect("launching a session does not panic")?;
    Ok(launched)
}
