//! `agentctl serve`: logging on stderr, then the server until SIGINT or SIGTERM.

use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::terminal;
use crate::server::{Application, ServeArgs, ServerConfig};

pub(super) async fn serve(args: &ServeArgs) -> Result<Exit, CliError> {
    init_logging(&args.flags.log_format);
    let config = ServerConfig::from_args(args).map_err(CliError::Usage)?;
    let app = Application::build(config)
        .await?
        .limit_connections(args.limits())
        .hook_settings(args.hook_settings())
        .reply_settings(args.reply_settings())
        .npm_registry(args.flags.npm_registry.clone())
        .serve_ui(!args.flags.no_ui)
        .retention(args.flags.retention);
    app.run(shutdown_signal()).await?;
    Ok(Exit::Ok)
}

/// Log lines on stderr, coloured only when stderr is a terminal (a log file or a pipe gets plain text).
fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal::stderr_colour());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
