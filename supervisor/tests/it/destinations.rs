//! Destinations that are not what they should be: one that answers 404 (a control-plane URL with a wrong
//! path).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);

/// A tiny HTTP server in the test process, on `addr`, serving `app` until `stop`.
async fn serve_stub(
    addr: SocketAddr,
    app: axum::Router,
) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .unwrap();
    });
    (addr, stop, task)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_answering_404_keeps_every_event_until_it_is_fixed() {
    // A wrong path behind a reverse proxy: every request is answered 404, for a while.
    let seen = Arc::new(Mutex::new(0usize));
    let counter = seen.clone();
    let not_found = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            (StatusCode::NOT_FOUND, "no such route")
        }
    });
    let (addr, stop, task) = serve_stub("127.0.0.1:0".parse().unwrap(), not_found).await;
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-404", "seq 1 500").await;
    sup.wait_finished("s-404", WAIT).await;
    let local = sup.events("s-404").await;
    assert!(
        eventually(WAIT, || *seen.lock().unwrap() >= 4).await,
        "the supervisor kept asking the misconfigured destination"
    );

    // The operator fixes it: the real control plane answers on that address from now on.
    stop.cancel();
    task.await.unwrap();
    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    let stored = cp.wait_delivered(&local, "s-404").await;
    assert_eq!(
        stored, local,
        "every event arrived once the destination was fixed"
    );

    let letters = sup.state_dir().join("dead-letter");
    let dead: Vec<_> = std::fs::read_dir(&letters)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(dead.is_empty(), "nothing was dead-lettered: {dead:?}");
    let (_, metrics) = sup.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metric(metrics, "supervisor_delivery_misconfigured_total") > 0,
        "{metrics}"
    );
    assert_eq!(metric(metrics, "supervisor_delivery_dead_letters_total"), 0);
    let log = sup.stderr();
    assert!(
        log.contains("misconfigured"),
        "the misconfiguration was logged:\n{log}"
    );
    assert!(!log.contains(CP_KEY), "the credential never reaches the log");
}
