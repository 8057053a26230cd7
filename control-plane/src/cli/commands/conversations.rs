//! `agentctl conversations show ID`: a conversation's sessions, oldest first.

use super::agents::json;
use crate::cli::args::{ConversationsCommand, TableFormat};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render;
use crate::cli::terminal::{Term, out};
use crate::time;

pub(super) async fn conversations(
    client: &Client,
    command: &ConversationsCommand,
    term: Term,
) -> Result<Exit, CliError> {
    let ConversationsCommand::Show(args) = command;
    protocol::SessionId::parse(args.id.clone())
        .map_err(|e| CliError::Usage(format!("conversation id: {e} (got {:?})", args.id)))?;
    let conversation = client.conversation(&args.id).await?;
    out(&match args.output {
        TableFormat::Json => json(&conversation)?,
        TableFormat::Table => render::conversation(&conversation, term.tty, time::now_ms(), term.style),
    })?;
    Ok(Exit::Ok)
}
