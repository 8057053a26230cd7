//! The HTTP server: an accept loop with a connection cap and a header-read timeout.
//!
//! `axum::serve` sets neither: a connection that never finishes its header is held forever, and enough
//! of them exhaust the file descriptors, after which `/health` and `/execute` stop answering. Here a
//! connection holds a permit from accept to close (at the cap, new connections wait in the kernel's
//! accept queue), and hyper closes one whose request head has not arrived within `--header-read-timeout`,
//! which also bounds how long an idle keep-alive connection is kept (hyper times the wait for every
//! request head, the first and the next).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long to wait before accepting again after an accept error (out of file descriptors, mostly).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Serves `app` on `listener` until `stop`, then lets every open connection finish its request.
pub(crate) async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        // Small writes (answers, followed events) go out at once instead of waiting for the ACK of the last one.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// File descriptors kept for everything but connections: the logs, pipes and pidfds of sessions, the
/// proxy, the shippers' clients.
fn reserved_fds(max_sessions: usize) -> u64 {
    256 + 8 * max_sessions as u64
}

/// The connection cap: `configured`, but below what the file-descriptor limit leaves, counting two per
/// connection (its socket, and the log a follower reads).
pub(crate) fn connection_cap(configured: usize, nofile: u64, max_sessions: usize) -> usize {
    let available = nofile.saturating_sub(reserved_fds(max_sessions)) / 2;
    let available = usize::try_from(available).unwrap_or(usize::MAX);
    configured.min(available).max(1)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::connection_cap;

    #[track_caller]
    fn check(configured: usize, nofile: u64, max_sessions: usize, expect: Expect) {
        expect.assert_eq(&connection_cap(configured, nofile, max_sessions).to_string());
    }

    #[test]
    fn the_connection_cap_stays_below_the_file_descriptor_limit() {
        check(4096, 1 << 20, 16, expect![["4096"]]);
        check(4096, 20_000, 16, expect![["4096"]]);
        check(4096, 1024, 16, expect![["320"]]);
        check(4096, 600, 16, expect![["108"]]);
        check(4096, 100, 16, expect![["1"]]);
        check(4096, u64::MAX, 16, expect![["4096"]]);
    }
}
