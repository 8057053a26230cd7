//! `fake-anthropic`: serve the Messages API from a scenario file. Prints the bound address as the first line
//! of stdout, logs to stderr, stops cleanly on SIGTERM or SIGINT.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use fake_anthropic::{Config, Scenarios, Server};
use tokio::signal::unix::{SignalKind, signal};

/// A scripted stand-in for the Anthropic Messages API. Point an agent at it with ANTHROPIC_BASE_URL.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port. The bound address is printed as stdout's first line.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Scenario file (JSON); the built-in scenarios when absent.
    #[arg(long, value_name = "PATH")]
    scenario: Option<PathBuf>,
    /// Append every received request to this file as one JSON line.
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing(args.log_format);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole chain: `load scenarios from x.json: parse scenario file at …`.
            eprintln!("fake-anthropic: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let scenarios = match &args.scenario {
        Some(path) => {
            Scenarios::load(path).with_context(|| format!("load scenarios from {}", path.display()))?
        }
        None => Scenarios::builtin(),
    };
    // Signal handlers go in before the address is printed: whoever reads it may stop us right away.
    let mut terminate = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("install SIGINT handler")?;

    let server = Server::bind(
        args.listen,
        Config {
            scenarios,
            record: args.record,
        },
    )
    .await?;
    let addr = server.local_addr();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{addr}")
        .and_then(|()| stdout.flush())
        .context("print the bound address")?;
    drop(stdout);
    tracing::info!(%addr, "fake-anthropic listening");

    server
        .run(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
                _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            }
        })
        .await?;
    tracing::info!("fake-anthropic stopped");
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(std::io::stderr().is_terminal()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Colour only on a terminal, never with a non-empty `NO_COLOR` (no-color.org) or `TERM=dumb`: tests and
/// scripts pipe stderr to files, where escape codes are noise.
fn colour(stderr_is_terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    stderr_is_terminal && !no_color && !dumb
}
