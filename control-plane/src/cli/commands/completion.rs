//! `agentctl completion SHELL`: a static completion script.

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::terminal::out;

pub(super) fn completion(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "agentctl", &mut buf);
    out(&String::from_utf8_lossy(&buf))?;
    Ok(Exit::Ok)
}
