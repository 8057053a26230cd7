use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use supervisor::config::{Cli, Command};
use supervisor::runtime::{Runtime, Secret};
use supervisor::{signals, startup};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { timeout }) = cli.command {
        return match supervisor::healthcheck::check(cli.config.listen, timeout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("unhealthy: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    match serve(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    if !signals::is_pid1() {
        // Orphans of our agents are reparented to us instead of to the real init, so we reap them.
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("become child subreaper");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start tokio")?;
    rt.block_on(async move {
        let signals = signals::Signals::install()?;
        startup::init_tracing(config.log_format);
        startup::prepare_dirs(&config)?;
        let token = startup::token(&config)?;
        let runner = startup::runner(&config.runner)?;
        let run_as = startup::run_as(&config.run_as)?;
        let runtime_id = startup::runtime_id(&config);
        let mut secrets: Vec<Secret> = token.iter().cloned().collect();
        if let Some(key) = &config.internal_api_key {
            secrets.push(Secret {
                name: "INTERNAL_API_KEY",
                value: key.clone(),
            });
        }
        let proxy_stop = tokio_util::sync::CancellationToken::new();
        let anthropic_proxy = match &config.anthropic_api_key {
            Some(key) => {
                let key = Secret { name: "ANTHROPIC_API_KEY", value: key.clone() };
                secrets.push(key.clone());
                let addr = supervisor::proxy::start(&config.anthropic_upstream, key, proxy_stop.clone()).await?;
                tracing::info!(%addr, upstream = %config.anthropic_upstream, "credential proxy: agents reach the API through it");
                Some(format!("http://{addr}"))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "listening");
        let mut runtime = Runtime::new(config, runtime_id, runner, run_as, token, secrets);
        runtime.anthropic_proxy = anthropic_proxy;
        let runtime = Arc::new(runtime);
        let recovered = supervisor::recover::recover(&runtime);
        tracing::info!(
            sessions = recovered.sessions,
            lost = recovered.lost,
            corrupt_records = recovered.corrupt_records,
            torn_bytes = recovered.torn_bytes,
            resumed_deliveries = recovered.resumed_deliveries,
            "recovered earlier sessions"
        );
        let served = signals::run(runtime, listener, signals).await;
        proxy_stop.cancel();
        served
    })?;
    // Exiting drops the runtime: every log was synced by its session's task.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}
