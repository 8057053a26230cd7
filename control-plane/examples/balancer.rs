//! A round-robin TCP balancer standing in for a Kubernetes Service in `scripts/scale.sh`: the supervisor takes
//! one `--control-plane-url`, and the simulation kills one of the `agentctl serve` replicas behind it.
//!
//! `balancer LISTEN UPSTREAM...`: each accepted connection goes to the next upstream in turn that accepts a
//! connection; an upstream that refuses (a killed replica) is skipped, as a Service skips a pod that is not
//! ready. Connections already open to a replica that dies break, as they do in a cluster: the supervisor
//! retries. Prints `listening <addr>` once bound, so the caller can wait for that line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// How long one upstream gets to accept before the next is tried: a refused connect on loopback is immediate,
/// this only bounds an upstream that hangs.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().expect("usage: balancer LISTEN UPSTREAM...");
    let upstreams: Arc<Vec<String>> = Arc::new(args.collect());
    assert!(!upstreams.is_empty(), "usage: balancer LISTEN UPSTREAM...");
    let listener = TcpListener::bind(&listen).await?;
    println!("listening {}", listener.local_addr()?);
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let (mut client, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: the next accept may succeed.
            Err(err) => {
                eprintln!("accept: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let upstreams = Arc::clone(&upstreams);
        let next = Arc::clone(&next);
        tokio::spawn(async move {
            let Some(mut upstream) = connect(&upstreams, &next).await else {
                // Every replica refused: close, as a Service with no ready endpoint does.
                let _ = client.shutdown().await;
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

/// The next upstream, in round-robin order, that accepts a connection; `None` when none does.
async fn connect(upstreams: &[String], next: &AtomicUsize) -> Option<TcpStream> {
    let first = next.fetch_add(1, Ordering::Relaxed);
    for i in 0..upstreams.len() {
        let addr = &upstreams[(first + i) % upstreams.len()];
        if let Ok(Ok(stream)) = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            return Some(stream);
        }
    }
    None
}
