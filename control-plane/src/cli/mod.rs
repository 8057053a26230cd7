//! `agentctl`'s command line: `serve` and the clients of the public API (DESIGN.md §6).
//!
//! Output goes to stdout, messages and errors to stderr as one line. Tables on a terminal, tab-separated
//! without header when piped; colour only on a terminal and without `NO_COLOR`. A closed stdout (broken
//! pipe) ends the command quietly with 0.
//!
//! - `args`: the clap types (their doc comments are `--help`); `exit`: the documented exit codes;
//!   `error`: how a command fails; `terminal`: tty, colour, stdout; `token`: the API token.
//! - `commands`: one file per subcommand; `client`: the HTTP client of the public API; `endpoint`: the
//!   `--url`/`--runtime` check (a missing scheme is a usage error with a hint); `lookup`: an id argument
//!   (a full id or a unique prefix) to its session (the definition files are `crate::manifest`).
//! - `render`: pure text of session tables and transcripts.

mod args;
mod client;
mod commands;
mod endpoint;
mod error;
mod exit;
mod lookup;
pub mod render;
mod terminal;
mod token;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use args::Cli;
use error::CliError;
use exit::Exit;

/// agentctl's `main`: parses the arguments, runs the command, and maps how it ended to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` arrive here too, on stdout, and are not errors.
            let exit = if e.use_stderr() { Exit::Usage } else { Exit::Ok };
            let _ = e.print();
            return exit.into();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentctl: start async runtime: {e}");
            return Exit::Error.into();
        }
    };
    let exit = runtime.block_on(async {
        tokio::select! {
            result = commands::run(cli) => match result {
                Ok(exit) => exit,
                Err(error) => {
                    if !matches!(error, CliError::BrokenPipe) {
                        eprintln!("agentctl: {}", client::error_chain(&error));
                    }
                    error.exit()
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("agentctl: interrupted");
                Exit::Interrupted
            }
        }
    });
    // Do not wait for detached tasks (an open follow stream) on the way out.
    runtime.shutdown_timeout(Duration::from_millis(100));
    exit.into()
}
