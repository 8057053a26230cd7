//! The accept loop of `agentctl serve`: a connection cap, a header-read timeout and an idle timeout
//! (issue 10, finding 12).
//!
//! `axum::serve` has none of them: a connection that never finishes its request head is held forever, and
//! enough of them exhaust the file descriptors, after which `/health` and ingest stop answering. Here a
//! connection holds a permit from accept to close (at the cap, new connections wait in the kernel's accept
//! queue, and are taken as soon as one closes); hyper closes one whose request head has not arrived within
//! the header-read timeout (it times the wait for every head, so this also bounds an idle keep-alive
//! connection between requests); and a connection on which no byte moved either way for the idle timeout
//! (a request body that stopped coming, a client that stopped reading) is dropped. Live follows send a
//! keep-alive comment more often than that ([`sse_keep_alive`]), so a quiet follow is never idle.
//!
//! A copy of `supervisor/src/http/server.rs` plus the idle timeout, rather than a crate both share: the two
//! loops are short, their reserves of file descriptors differ, and a shared crate would be one more member
//! of the workspace for some 60 lines.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long to wait before accepting again after an accept error (out of file descriptors, mostly).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// File descriptors kept for everything but connections: the database pools (16 PostgreSQL connections, or
/// SQLite's five with their WAL and shared-memory files), the doorbell, the lock file, stdio.
const RESERVED_FDS: u64 = 128;
/// A live follow's keep-alive comment, unless the idle timeout asks for more often.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What one connection may hold, and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive within this long of the connection (or of its previous answer).
    pub header_read_timeout: Duration,
    /// A connection on which nothing moved for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at most; see [`connection_cap`].
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// The connection cap: `configured`, but below what the file-descriptor limit `nofile` leaves once the
/// server's own descriptors are reserved (one per connection: a follower reads the database, not a file).
pub fn connection_cap(configured: usize, nofile: u64) -> usize {
    let available = usize::try_from(nofile.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    configured.min(available).max(1)
}

/// How often a live follow sends a keep-alive comment: three per idle timeout, so that a quiet follow is
/// not taken for an idle connection.
pub fn sse_keep_alive(idle_timeout: Duration) -> Duration {
    (idle_timeout / 3).clamp(Duration::from_millis(100), SSE_KEEP_ALIVE)
}

/// Serves `app` on `listener` until `stop`, then lets every open connection finish its request.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
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
        // Small writes (answers, SSE events) go out at once instead of waiting for the ACK of the last one.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let (stream, activity) = Watched::new(stream);
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let idle = activity.idle(limits.idle_timeout);
            tokio::pin!(idle);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = idle.as_mut() => {
                    tracing::debug!("idle connection closed");
                    return;
                }
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        served = conn.as_mut() => served,
                        () = idle.as_mut() => return,
                    }
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

/// When a connection last moved a byte, in milliseconds since it was accepted.
#[derive(Debug)]
struct Activity {
    accepted: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.accepted.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once nothing moved for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            let last = self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that records its [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn new(inner: TcpStream) -> (Self, Arc<Activity>) {
        let activity = Arc::new(Activity {
            accepted: Instant::now(),
            last_ms: AtomicU64::new(0),
        });
        let stream = Self {
            inner,
            activity: activity.clone(),
        };
        (stream, activity)
    }

    fn moved<T>(&self, polled: Poll<io::Result<T>>, bytes: impl Fn(&T) -> usize) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(value)) = &polled
            && bytes(value) > 0
        {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        this.moved(polled, |()| read)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.moved(polled, |n| *n)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.moved(polled, |n| *n)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use expect_test::{Expect, expect};

    use super::{connection_cap, sse_keep_alive};

    #[track_caller]
    fn check(configured: usize, nofile: u64, expect: Expect) {
        expect.assert_eq(&connection_cap(configured, nofile).to_string());
    }

    #[test]
    fn the_connection_cap_stays_below_the_file_descriptor_limit() {
        check(4096, 1 << 20, expect![["4096"]]);
        check(4096, 1024, expect![["896"]]);
        check(64, 256, expect![["64"]]);
        check(4096, 256, expect![["128"]]);
        check(4096, 100, expect![["1"]]);
        check(4096, u64::MAX, expect![["4096"]]);
    }

    #[test]
    fn a_follow_keeps_alive_three_times_per_idle_timeout_and_at_least_every_15_s() {
        let shown = |idle: u64| format!("{:?}", sse_keep_alive(Duration::from_secs(idle)));
        expect!["15s"].assert_eq(&shown(60));
        expect!["15s"].assert_eq(&shown(3600));
        expect!["10s"].assert_eq(&shown(30));
        expect!["333.333333ms"].assert_eq(&shown(1));
        expect!["100ms"].assert_eq(&shown(0));
    }
}
