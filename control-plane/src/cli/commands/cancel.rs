//! `agentctl cancel ID`: asks first on a terminal; cancelling a finished session is not an error.

use std::io::IsTerminal;

use protocol::SessionStatus;

use crate::cli::args::CancelArgs;
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::lookup;
use crate::cli::terminal::out;

pub(super) async fn cancel(client: &Client, args: &CancelArgs) -> Result<Exit, CliError> {
    if !args.yes && !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "refusing to cancel {} without confirmation: pass -y when stdin is not a terminal",
            args.id
        )));
    }
    let id = lookup::session_id(client, &args.id).await?;
    if !args.yes {
        eprint!("Cancel session {id}? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::Other(anyhow::anyhow!("read confirmation: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("agentctl: not cancelled");
            return Ok(Exit::Error);
        }
    }
    // A queued session is cancelled at once and answers 200 like a finished one; only a look before tells
    // the two apart.
    let was_queued = client.session(&id).await?.session.status == SessionStatus::Queued;
    let (queued, answer) = client.cancel(&id).await?;
    if queued {
        out(&format!("{}: cancelling\n", answer.session_id))?;
    } else if was_queued {
        out(&format!("{}: {}\n", answer.session_id, answer.status))?;
    } else {
        eprintln!("agentctl: session {} already finished", answer.session_id);
        out(&format!("{}: {}\n", answer.session_id, answer.status))?;
    }
    Ok(Exit::Ok)
}
