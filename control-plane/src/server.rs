//! `agentctl serve`: configuration, startup, background tasks and shutdown.
//!
//! Shutdown: the caller's trigger cancels one token; live followers end their streams on it, the accept loop
//! (`connections`) stops accepting and drains the open requests, then the background tasks (lost sweeper,
//! doorbell, lease sweep, debounce, reply worker, retention) stop and are waited for.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::resource::{Resource, getrlimit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::agents::packages::NpmRegistry;
use crate::connections::{self, Limits};
use crate::credentials;
use crate::dispatch::{self, Bell, Dispatch};
use crate::exclusive::{self, ServeLock};
use crate::follow::{self, Hub};
use crate::http::auth::{Auth, Secret};
use crate::http::hooks::HookSettings;
use crate::http::{self, AppState};
use crate::ingest::Ingestor;
use crate::metrics::Metrics;
use crate::retention::Retention;
use crate::secrets::{self, KeySource};
pub use crate::serve_args::ServeArgs;
use crate::store::{Backend, Store};
use crate::time;
use crate::triggers;
use crate::triggers::replier::ReplierSettings;

/// What the server needs, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub auth: Auth,
    pub heartbeat_timeout: Duration,
    pub secrets_key: KeySource,
    pub claim_lease: Duration,
}

impl ServerConfig {
    /// Builds the configuration; a secret on the command line, or a secrets file that cannot be read, is
    /// refused (`crate::serve_args`). A kind of credential with none configured is generated (or found,
    /// after the first start) by [`Application::build`], see `crate::credentials`.
    pub fn from_args(args: &ServeArgs) -> Result<Self, String> {
        let secrets = args.secrets()?;
        let flags = &args.flags;
        if flags.no_auth {
            tracing::warn!(
                "--no-auth: every request is accepted without credentials; local development only"
            );
        }
        let secret = |v: &[String]| -> Vec<Secret> { v.iter().map(Secret::new).collect() };
        Ok(Self {
            listen: flags.listen,
            database_url: secrets.database_url,
            auth: Auth {
                internal_keys: secret(&secrets.internal_api_keys),
                api_tokens: secret(&secrets.api_tokens),
                disabled: flags.no_auth,
            },
            heartbeat_timeout: flags.heartbeat_timeout,
            // The environment is read here, with the flags: never from argv (`serve_args` refuses
            // `--secrets-key`).
            secrets_key: match (&flags.secrets_key_file, std::env::var("AGENTCTL_SECRETS_KEY")) {
                (Some(path), _) => KeySource::File(path.clone()),
                (None, Ok(text)) if !text.trim().is_empty() => KeySource::Env(text),
                _ => KeySource::Default,
            },
            claim_lease: flags.claim_lease,
        })
    }
}

#[derive(Debug)]
pub struct Application {
    /// One server per SQLite file: held until `run` returns.
    lock: Option<ServeLock>,
    listener: TcpListener,
    state: AppState,
    heartbeat_timeout: Duration,
    limits: Limits,
    replies: ReplierSettings,
    tasks: TaskTracker,
    /// Whether the web UI is served (`--no-ui` turns it off).
    ui: bool,
    /// `--retention`: off unless set.
    retention: Retention,
}

impl Application {
    /// Connects to the database, runs the migrations and binds the listener (port 0 picks a free one).
    pub async fn build(config: ServerConfig) -> anyhow::Result<Self> {
        let lock = exclusive::lock_database(&config.database_url)?;
        let store = Store::connect(&config.database_url).await.with_context(|| {
            format!(
                "open database {}",
                crate::database_url::redacted(&config.database_url)
            )
        })?;
        let keyring = credentials::keyring(&store, &config.auth)
            .await
            .context("load the generated credentials")?;
        let secrets_key =
            secrets::load(&config.secrets_key, &config.database_url).context("load the secrets key")?;
        if secrets_key.is_none() {
            tracing::warn!(
                "no secrets key (--secrets-key-file or AGENTCTL_SECRETS_KEY): agents with secrets are refused"
            );
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listen on {}", config.listen))?;
        let hub = Hub::new(store.backend() == Backend::Postgres);
        let metrics = Arc::new(Metrics::default());
        let ingestor = Ingestor::spawn(store.clone(), hub.clone(), metrics.clone());
        let bell = Bell::new(store.clone());
        let state = AppState {
            store,
            ingestor,
            hub,
            metrics,
            keyring: Arc::new(keyring),
            started: Instant::now(),
            dispatch: Arc::new(Dispatch {
                secrets_key,
                lease: config.claim_lease,
                bell,
                npm_registry: NpmRegistry::default(),
            }),
            shutdown: CancellationToken::new(),
            heartbeat_timeout: config.heartbeat_timeout,
            sse_keep_alive: connections::sse_keep_alive(Limits::default().idle_timeout),
            hooks: HookSettings::default(),
        };
        Ok(Self {
            lock,
            listener,
            state,
            heartbeat_timeout: config.heartbeat_timeout,
            limits: Limits::default(),
            replies: ReplierSettings::default(),
            tasks: TaskTracker::new(),
            ui: true,
            retention: Retention::default(),
        })
    }

    /// Resolves agents' npm packages from this registry (`--npm-registry`) instead of npmjs.org.
    pub fn npm_registry(mut self, registry: NpmRegistry) -> Self {
        Arc::get_mut(&mut self.state.dispatch)
            .expect("the dispatch state is not shared before the server runs")
            .npm_registry = registry;
        self
    }

    /// Serves the web UI or not (`--no-ui`).
    pub fn serve_ui(mut self, ui: bool) -> Self {
        self.ui = ui;
        self
    }

    /// Deletes old finished sessions (`--retention`); off by default.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Serves `POST /hooks/{id}` with these settings instead of [`HookSettings::default`].
    pub fn hook_settings(mut self, settings: HookSettings) -> Self {
        self.state.hooks = settings;
        self
    }

    /// Sends trigger replies with these settings instead of [`ReplierSettings::default`].
    pub fn reply_settings(mut self, settings: ReplierSettings) -> Self {
        self.replies = settings;
        self
    }

    /// Serves with these limits instead of [`Limits::default`].
    pub fn limit_connections(mut self, limits: Limits) -> Self {
        self.state.sse_keep_alive = connections::sse_keep_alive(limits.idle_timeout);
        self.limits = limits;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves until `shutdown` completes, then drains.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self {
            lock,
            listener,
            state,
            heartbeat_timeout,
            mut limits,
            replies,
            tasks,
            ui,
            retention,
        } = self;
        // Released only once the server has stopped and drained.
        let _lock = lock;
        let token = state.shutdown.clone();
        follow::spawn_doorbell(state.hub.clone(), state.store.clone(), token.clone(), &tasks);
        tasks.spawn(sweep_lost(state.clone(), heartbeat_timeout, token.clone()));
        dispatch::bell::spawn(state.dispatch.bell.clone(), &state.hub, token.clone(), &tasks);
        tasks.spawn(dispatch::lease::sweep(
            state.store.clone(),
            state.dispatch.bell.clone(),
            state.metrics.clone(),
            state.dispatch.lease,
            token.clone(),
        ));
        tasks.spawn(triggers::debounce::run(
            state.store.clone(),
            state.dispatch.bell.clone(),
            token.clone(),
        ));
        tasks.spawn(triggers::replier::run(
            state.store.clone(),
            state.dispatch.bell.clone(),
            state.dispatch.secrets_key.clone(),
            replies,
            token.clone(),
        ));
        if let Retention(Some(retention)) = retention {
            tasks.spawn(crate::retention::run(
                state.store.clone(),
                state.metrics.clone(),
                retention,
                token.clone(),
            ));
        }
        tracing::info!(addr = %listener.local_addr()?, backend = ?state.store.backend(), "agentctl serving");
        let nofile = getrlimit(Resource::RLIMIT_NOFILE).map_or(u64::MAX, |(soft, _)| soft);
        let cap = connections::connection_cap(limits.max_connections, nofile);
        if cap < limits.max_connections {
            tracing::warn!(
                max_connections = cap,
                nofile,
                "--max-connections lowered to stay below the file-descriptor limit"
            );
            limits.max_connections = cap;
        }
        let store = state.store.clone();
        let stop = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.cancel();
        });
        connections::serve(listener, router(state, ui), limits, token.clone()).await;
        token.cancel();
        tasks.close();
        tasks.wait().await;
        store.close().await;
        Ok(())
    }
}

/// Marks `lost` the sessions of runtimes silent for longer than `timeout`.
/// Every route: the APIs, the web UI unless `--no-ui`, and for anything else the API's JSON 404, or the UI's
/// error page to a browser asking for a page.
fn router(state: AppState, ui: bool) -> axum::Router {
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;

    let mut routes = http::routes(&state);
    if ui {
        routes = routes.merge(crate::ui::routes());
    }
    routes
        .fallback(move |headers: HeaderMap| async move {
            if ui && crate::ui::page::wants_html(&headers) {
                crate::ui::page::UiError::not_found("There is no such page.").into_response()
            } else {
                http::error::ApiError::not_found("no such route").into_response()
            }
        })
        .with_state(state)
}

async fn sweep_lost(state: AppState, timeout: Duration, shutdown: CancellationToken) {
    let period = (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let cutoff = time::now_ms() - timeout.as_millis() as i64;
        match state.store.mark_lost(cutoff).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(sessions = ?ids, "runtime stopped heartbeating: sessions lost");
                Metrics::add(&state.metrics.sessions_lost, ids.len() as u64);
                state.hub.publish(ids);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "mark lost sessions"),
        }
    }
}
