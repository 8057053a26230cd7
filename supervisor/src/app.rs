//! The composition: parse the command line, decide what start-up decides, build the shared state, start
//! the reaper, the fsync loop, the credential proxy and the HTTP server, recover earlier sessions, and run
//! until a stop signal has been handled to the end.
//!
//! Order matters (ARCHITECTURE.md, "Handlers before anything"): the signal streams are created before the
//! port is bound and before anything is spawned.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Cli, Command, Config, SECRET_FLAGS, secret_on_command_line};
use crate::http::server::{Limits, connection_cap};
use crate::metrics::Metrics;
use crate::packages::NpmCache;
use crate::process::Reaper;
use crate::retention::ledger::Ledger;
use crate::secret::{Secret, SecretName};
use crate::session::table::SessionTable;
use crate::ship::context::ShipContext;
use crate::ship::destination::Destination;
use crate::ship::shippers::Shippers;
use crate::signals::{Signals, is_pid1};
use crate::state::AppState;
use crate::{eventlog, startup};

/// The `agent-supervisor` binary: serve, or `healthcheck`.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    for (id, _, _) in SECRET_FLAGS {
        let from_command_line = matches.value_source(id) == Some(ValueSource::CommandLine);
        if let Some(problem) = secret_on_command_line(id, from_command_line) {
            eprintln!("error: {problem}");
            return ExitCode::from(2);
        }
    }
    if let Some(Command::Healthcheck { timeout }) = cli.command {
        return match crate::healthcheck::check(cli.config.listen, timeout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("unhealthy: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    match serve(cli.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.is::<startup::Refused>() {
                // A configuration the supervisor refuses is a usage error, like a bad flag.
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    if !is_pid1() {
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
        let signals = Signals::install()?;
        startup::init_tracing(config.log_format);
        startup::prepare_dirs(&config)?;
        let proxy_stop = CancellationToken::new();
        let served = async {
            let (state, listener, ledger) = build(config, proxy_stop.clone()).await?;
            run(state, listener, ledger, signals).await
        }
        .await;
        proxy_stop.cancel();
        served
    })?;
    // Exiting drops the runtime: every log was synced by its session's task.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// Decides what start-up decides, starts the credential proxy, binds the port and recovers earlier
/// sessions.
async fn build(
    config: Config,
    proxy_stop: CancellationToken,
) -> anyhow::Result<(Arc<AppState>, TcpListener, Ledger)> {
    let labels = crate::labels::collect(&config.labels).map_err(startup::Refused)?;
    if config.max_jobs.is_some() && !config.pulls() {
        return Err(startup::Refused(
            "--max-jobs: this runtime claims no jobs (set --control-plane-url, without --no-pull)".into(),
        )
        .into());
    }
    if config.pull && config.control_plane_url.is_none() {
        return Err(startup::Refused(
            "--pull: there is no control plane to claim work from (set --control-plane-url)".into(),
        )
        .into());
    }
    let token = startup::token(&config)?;
    let runner = startup::runner(&config.runner)?;
    let run_as = startup::run_as(&config.run_as)?;
    let uid_pool = startup::uid_pool(&config, run_as)?;
    let runtime_id = startup::runtime_id(&config);
    let internal_api_key = startup::secret(
        SecretName::InternalApiKey,
        config.internal_api_key.as_deref(),
        config.internal_api_key_file.as_deref(),
        "--internal-api-key-file",
    )?;
    let anthropic_api_key = startup::secret(
        SecretName::AnthropicApiKey,
        config.anthropic_api_key.as_deref(),
        config.anthropic_api_key_file.as_deref(),
        "--anthropic-api-key-file",
    )?;
    let mut secrets: Vec<Secret> = token.iter().chain(&internal_api_key).cloned().collect();
    let anthropic_proxy = match anthropic_api_key {
        Some(key) => {
            secrets.push(key.clone());
            let limits = proxy_limits(server_limits(&config));
            let addr = crate::proxy::start(
                &config.anthropic_upstream,
                key,
                limits,
                config.body_read_timeout,
                proxy_stop,
            )
            .await?;
            tracing::info!(%addr, upstream = %config.anthropic_upstream, "credential proxy: agents reach the API through it");
            Some(format!("http://{addr}"))
        }
        None => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "listening");

    let metrics = Arc::new(Metrics::default());
    let sessions = Arc::new(SessionTable::new(uid_pool));
    let drain = CancellationToken::new();
    let shippers = Shippers::new(ShipContext {
        runtime_id: runtime_id.clone(),
        metrics: metrics.clone(),
        dead_letter_dir: config.state_dir.join("dead-letter"),
        labels: labels.clone(),
        capacity: config.max_sessions,
        drain: drain.clone(),
    });
    let control_plane = Destination::control_plane(
        config.control_plane_url.as_deref(),
        internal_api_key.as_ref().map(Secret::expose),
    );
    let npm = NpmCache::new(&config.workspace, config.npm_registry.clone(), run_as);
    let state = Arc::new(AppState {
        npm,
        config,
        runtime_id,
        started: Instant::now(),
        reaper: Reaper::new(),
        metrics,
        runner,
        run_as,
        token,
        anthropic_proxy,
        secrets,
        control_plane,
        labels,
        drain,
        final_drain: std::sync::atomic::AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        kill_now: CancellationToken::new(),
        tasks: TaskTracker::new(),
        shippers,
        sessions,
    });
    let recovered = crate::recover::recover(&state);
    // Before the server answers: a session removed by an earlier incarnation is "removed", not unknown.
    let (ledger, removed) = Ledger::load(&state.config.state_dir);
    state.sessions.remember_removed(removed);
    tracing::info!(
        sessions = recovered.sessions,
        lost = recovered.lost,
        corrupt_records = recovered.corrupt_records,
        torn_bytes = recovered.torn_bytes,
        resumed_deliveries = recovered.resumed_deliveries,
        "recovered earlier sessions"
    );
    Ok((state, listener, ledger))
}

/// The HTTP server's limits: the connection cap kept below the file-descriptor limit.
fn server_limits(config: &Config) -> Limits {
    use nix::sys::resource::{Resource, getrlimit};
    let nofile = getrlimit(Resource::RLIMIT_NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    let max_connections = connection_cap(config.max_connections, nofile, config.max_sessions);
    if max_connections < config.max_connections {
        tracing::info!(
            max_connections,
            nofile,
            "connection cap lowered to fit the file-descriptor limit"
        );
    }
    Limits {
        header_read_timeout: config.header_read_timeout,
        max_connections,
    }
}

/// The credential proxy's share of the connection cap: a quarter, taken from the main server's.
fn proxy_limits(limits: Limits) -> Limits {
    Limits {
        max_connections: (limits.max_connections / 4).max(1),
        ..limits
    }
}

/// Serves until a stop signal, then runs the shutdown sequence. Returns when everything is flushed.
async fn run(
    state: Arc<AppState>,
    listener: TcpListener,
    ledger: Ledger,
    signals: Signals,
) -> anyhow::Result<()> {
    let (mut stop, child) = signals.ignore_the_rest();
    let reaper_stop = CancellationToken::new();
    let reaper = tokio::spawn(state.reaper.clone().run(child, reaper_stop.clone()));
    // Before the first session can take a uid: nothing of an earlier incarnation may still run as one.
    crate::recover::end_leftover_processes(&state).await;
    // After recovery: the first sweep sees every session of earlier incarnations.
    tokio::spawn(crate::retention::sweep::run(state.clone(), ledger));

    let sessions = state.sessions.clone();
    let open_logs = move || {
        sessions
            .list()
            .into_iter()
            .filter_map(|entry| {
                entry
                    .with_log(|log| log.writer().sync_target())
                    .map(|(file, len)| (entry.id.clone(), file, len))
            })
            .collect()
    };
    tokio::spawn(eventlog::sync_logs(open_logs, reaper_stop.clone()));

    let server_stop = CancellationToken::new();
    let app = crate::http::router(state.clone());
    let mut limits = server_limits(&state.config);
    if state.anthropic_proxy.is_some() {
        limits.max_connections -= proxy_limits(limits)
            .max_connections
            .min(limits.max_connections - 1);
    }
    let server = tokio::spawn(crate::http::server::serve(
        listener,
        app,
        limits,
        server_stop.clone(),
    ));
    let mut pull = None;
    if let Some(control_plane) = state.control_plane.clone() {
        // Started now rather than with the first session: the control plane hears of this runtime (its
        // labels, its capacity) before it has run anything, and claims go through this shipper.
        let shipper = state.shippers.for_destination(control_plane);
        if state.config.pulls() {
            pull = Some(tokio::spawn(crate::dispatch::pull::run(state.clone(), shipper)));
        }
    }
    if let Some(after) = state.config.exit_when_idle {
        tokio::spawn(crate::lifetime::watch_idle(state.clone(), after));
    }
    tracing::info!(runtime_id = %state.runtime_id, pid1 = is_pid1(), "supervisor ready");

    // A stop signal shuts down at once, unless `--drain-timeout` asks for a drain first; `POST /drain`
    // always drains first.
    tokio::select! {
        signal = stop.next() => {
            if state.config.drain_timeout.is_zero() {
                tracing::info!(signal, "shutting down");
            } else {
                crate::drain::begin(&state, signal);
                crate::drain::wait(&state, &mut stop).await;
            }
        }
        () = state.drain.cancelled() => {
            if state.final_drain.load(std::sync::atomic::Ordering::SeqCst) {
                // The pull loop ends at the drain; a job it was admitting then is running once it has.
                if let Some(pull) = pull.take() {
                    let _ = pull.await;
                }
                crate::lifetime::finish(&state, &mut stop).await;
            } else {
                crate::drain::wait(&state, &mut stop).await;
            }
        }
    }
    tracing::info!("shutting down");
    crate::shutdown::shut_down(&state, stop).await;

    server_stop.cancel();
    if let Err(err) = server.await {
        tracing::error!(error = %err, "http server task");
    }
    reaper_stop.cancel();
    let _ = reaper.await;
    tracing::info!("shutdown complete");
    Ok(())
}
