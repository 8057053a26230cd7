//! Waiting for a condition, never for a fixed time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns whether it held. The check is
/// async, so it may ask a server (`async || cp.events(id).await.len() >= n`) or look at a file.
pub(crate) async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An address nothing listens on yet, for a server a test starts later (or restarts on the same port).
pub(crate) fn free_addr() -> SocketAddr {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    reserved.local_addr().expect("a bound socket has an address")
}
