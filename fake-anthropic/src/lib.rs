//! A scripted stand-in for the Anthropic Messages API, so the real Claude Agent SDK runs offline and
//! deterministically (DESIGN.md §1, §8).
//!
//! - `scenario`: the scenario file (what to answer, turn by turn).
//! - `conversation`: from one request, which scenario and turn it asks for (stateless).
//! - `reply`: an assistant message as a JSON `Message` or as the SSE event sequence.
//! - `record`: `--record`, every request as one JSON line.
//! - `http`: routes and Anthropic-style errors.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod conversation;
pub mod http;
pub mod record;
pub mod reply;
pub mod scenario;

pub use scenario::Scenarios;

#[derive(Debug, Clone)]
pub struct Config {
    pub scenarios: Scenarios,
    /// Where to append one JSON line per received request.
    pub record: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("open record file {path}")]
    Record {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serve HTTP")]
    Serve(#[source] std::io::Error),
}

/// A bound, not yet serving, server: binding first lets the caller learn the port (`127.0.0.1:0`) before
/// any request can arrive.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: Arc<http::AppState>,
}

impl Server {
    pub async fn bind(addr: SocketAddr, config: Config) -> Result<Self, ServerError> {
        let recorder = match &config.record {
            Some(path) => Some(
                record::Recorder::open(path)
                    .await
                    .map_err(|source| ServerError::Record {
                        path: path.display().to_string(),
                        source,
                    })?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let state = Arc::new(http::AppState {
            scenarios: config.scenarios,
            recorder,
            ids: reply::Ids::default(),
            shutdown: CancellationToken::new(),
        });
        Ok(Self {
            listener,
            local_addr,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, ends scripted delays early, and returns
    /// once the responses in flight are finished.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let token = self.state.shutdown.clone();
        tokio::spawn({
            let token = token.clone();
            async move {
                shutdown.await;
                token.cancel();
            }
        });
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(token.cancelled_owned())
            .await
            .map_err(ServerError::Serve)
    }
}
