//! `agentctl runtimes`: the runtimes the control plane has heard from, and what they are doing.

use super::agents::json;
use crate::cli::args::{RuntimesArgs, TableFormat};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render;
use crate::cli::terminal::{Term, out};
use crate::time;

pub(super) async fn runtimes(client: &Client, args: &RuntimesArgs, term: Term) -> Result<Exit, CliError> {
    let list = client.runtimes().await?;
    out(&match args.output {
        TableFormat::Json => json(&list)?,
        TableFormat::Table => render::runtimes(&list.runtimes, term.tty, time::now_ms(), term.style),
    })?;
    Ok(Exit::Ok)
}
