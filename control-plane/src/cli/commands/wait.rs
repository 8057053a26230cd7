//! `agentctl wait ID`: returns on any terminal state (not only success, the `kubectl wait` trap).

use std::time::{Duration, Instant};

use crate::cli::args::WaitArgs;
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::lookup;
use crate::cli::terminal::out;

pub(super) async fn wait(client: &Client, args: &WaitArgs) -> Result<Exit, CliError> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let id = lookup::session_id(client, &args.id).await?;
    loop {
        let session = client.session(&id).await?;
        if session.session.status.is_finished() {
            out(&format!(
                "{} {}\n",
                session.session.session_id, session.session.status
            ))?;
            return Ok(Exit::of_session(session.session.status));
        }
        let pause = Duration::from_millis(500);
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                eprintln!(
                    "agentctl: session {} still {} after the timeout",
                    id, session.session.status
                );
                return Err(CliError::Timeout);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }
}
