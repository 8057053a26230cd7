//! One file per subcommand; each returns how agentctl exits.

mod agents;
mod cancel;
mod completion;
mod conversations;
mod logs;
mod run;
mod runtimes;
mod serve;
mod sessions;
mod show;
mod trigger_deliveries;
mod trigger_test;
mod triggers;
mod wait;

use crate::cli::args::{Cli, Command};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::terminal::Term;
use crate::cli::token::token;

/// Runs the chosen subcommand.
pub(crate) async fn run(cli: Cli) -> Result<Exit, CliError> {
    let term = Term::detect();
    // `serve` and `completion` need no client, so a bad token file does not stop them.
    let client = || -> Result<Client, CliError> { Client::new(&cli.url, token(&cli)?) };
    match &cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Sessions(args) => sessions::sessions(&client()?, args, term).await,
        Command::Show(args) => show::show(&client()?, args, term).await,
        Command::Logs(args) => logs::logs(&client()?, args, term).await,
        Command::Wait(args) => wait::wait(&client()?, args).await,
        Command::Cancel(args) => cancel::cancel(&client()?, args).await,
        Command::Run(args) => run::run(&client()?, args, term).await,
        Command::Agents(command) => agents::agents(&client()?, command, term).await,
        Command::Conversations(command) => conversations::conversations(&client()?, command, term).await,
        Command::Runtimes(args) => runtimes::runtimes(&client()?, args, term).await,
        Command::Triggers(command) => triggers::triggers(&client()?, command, term).await,
        Command::Completion { shell } => completion::completion(*shell),
    }
}
