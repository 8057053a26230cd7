//! Delivery to a real control plane (`agentctl serve` in-process, on SQLite): every event exactly as
//! logged, through an outage, cancel commands from the answers, the backlog at shutdown and after a crash.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);
#[tokio::test(flavor = "multi_thread")]
async fn the_control_plane_stores_every_event_exactly_as_logged() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    sup.run_cmd(
        "s-ship",
        r#"seq 1 5000; echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1}'"#,
    )
    .await;
    sup.wait_finished("s-ship", WAIT).await;
    let local = sup.events("s-ship").await;
    let stored = cp.wait_delivered(&local, "s-ship").await;
    assert_eq!(stored.len(), local.len());
    assert_eq!(stored, local, "the control plane has exactly the local log");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_written_during_an_outage_arrive_once_it_is_over() {
    // Reserve an address, then start the control plane on it only after the session ran.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-outage", "seq 1 3000").await;
    sup.wait_finished("s-outage", WAIT).await;
    let local = sup.events("s-outage").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    let stored = cp.wait_delivered(&local, "s-outage").await;
    assert_eq!(stored, local);
    let (_, metrics) = sup.get("/metrics").await;
    let retries = metrics
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("supervisor_delivery_retries_total "))
        .unwrap()
        .to_owned();
    assert_ne!(
        retries, "supervisor_delivery_retries_total 0",
        "the outage was retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_on_the_control_plane_reaches_the_agent() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    sup.run_cmd("s-remote", "echo started; exec sleep 100").await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/sessions/s-remote/cancel", cp.addr);
    // The session must be known to the control plane before it can be cancelled there.
    let accepted = eventually(WAIT, || {
        let response = futures_util_block(client.post(&url).bearer_auth(CP_TOKEN).send());
        response.is_ok_and(|r| r.status() == 202)
    })
    .await;
    assert!(accepted, "the control plane accepted the cancel");
    let session = sup.wait_finished("s-remote", WAIT).await;
    assert_eq!(session["status"], "cancelled", "{session}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backlog_is_delivered_before_a_sigterm_exit() {
    let cp = ControlPlane::start().await;
    let mut sup = shipping_to(cp.addr).arg("--grace").arg("2s").start();
    sup.run_cmd("s-term", "seq 1 20000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-term.log");
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("\"20000\"")))
        .await
    );
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sup.wait_exit(WAIT).success());
    let local = events_on_disk(&sup.state_dir(), "s-term");
    assert_eq!(local.last().unwrap()["type"], "session.finished");
    // Delivered before the exit: no waiting here.
    let stored = cp.events("s-term").await;
    assert_eq!(stored, local);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_crash_delivery_resumes_and_the_lost_session_is_reported() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-crash", "seq 1 2000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-crash.log");
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("\"2000\"")))
        .await
    );
    let sup = sup.kill_and_restart();
    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    let local = sup.events("s-crash").await;
    assert_eq!(local.last().unwrap()["data"]["status"], "lost");
    let stored = cp.wait_delivered(&local, "s-crash").await;
    assert_eq!(
        stored.len(),
        local.len(),
        "stored {} of {} events",
        stored.len(),
        local.len()
    );
    assert_eq!(stored, local);
    let client = reqwest::Client::new();
    let session: Value = client
        .get(format!("http://{}/api/v1/sessions/s-crash", cp.addr))
        .bearer_auth(CP_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], json!("lost"), "{session}");
    drop(cp.stop().await);
}

/// Runs a future to completion from inside a synchronous `eventually` check.
fn futures_util_block<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_spool_blocks_the_agent_and_everything_drains_afterwards() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).arg("--spool-max").arg("256KiB").start();
    // 3 MB of output (more than the agent's 1 MiB pipe holds) against a 256 KiB cap, with the control
    // plane down.
    sup.run_cmd(
        "s-spool",
        "yes \"$(head -c 1000 /dev/zero | tr '\\0' x)\" | head -n 3000",
    )
    .await;
    let log = sup.state_dir().join("sessions/s-spool.log");
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(eventually(WAIT, || size() > 256 * 1024).await);
    // The agent is blocked: the log stops growing (past the cap by at most one read of output) and the
    // session keeps running.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let blocked_at = size();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(size(), blocked_at, "the log grew while the spool was full");
    assert!(
        blocked_at < 8 << 20,
        "the log is bounded near the cap: {blocked_at} bytes"
    );
    assert_eq!(sup.session("s-spool").await["status"], "running");

    let cp = ControlPlane::start_at(addr, tempfile::tempdir().unwrap()).await;
    sup.wait_finished("s-spool", WAIT).await;
    let local = sup.events("s-spool").await;
    let texts = agent_texts(&local);
    assert_eq!(texts.len(), 3000, "nothing was dropped");
    assert!(texts.iter().all(|t| t.len() == 1000));
    let stored = cp.wait_delivered(&local, "s-spool").await;
    assert_eq!(stored, local);
}

#[tokio::test(flavor = "multi_thread")]
async fn output_left_in_the_pipe_is_kept_when_a_blocked_agent_is_stopped() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let sup = shipping_to(addr).arg("--spool-max").arg("64KiB").start();
    // 20,000 lines fit in the agent's pipe; the full spool stops the supervisor reading them.
    sup.run_cmd("s-stuck", "seq 1 20000; exec sleep 100").await;
    let log = sup.state_dir().join("sessions/s-stuck.log");
    assert!(
        eventually(WAIT, || std::fs::metadata(&log)
            .is_ok_and(|m| m.len() > 64 * 1024))
        .await
    );
    assert_eq!(sup.post("/sessions/s-stuck/cancel", &json!({})).await.0, 202);
    let session = sup.wait_finished("s-stuck", WAIT).await;
    assert_eq!(session["status"], "cancelled");
    let texts = agent_texts(&sup.events("s-stuck").await);
    assert_eq!(
        texts.len(),
        20_000,
        "every line the agent wrote before it was stopped is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_batch_is_dead_lettered_and_reported_in_the_session() {
    use std::io::Read;

    // A receiver that refuses (400) any batch holding the agent's line `poison` and accepts the rest.
    async fn ingest(body: axum::body::Bytes) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        if text.contains(r#""text":"poison""#) {
            let error = json!({"error": {"code": "invalid_request", "message": "events[1].data: refused by the test receiver"}});
            return (axum::http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
        }
        axum::Json(json!({"acked": {}, "commands": []})).into_response()
    }
    let app = axum::Router::new()
        .route("/api/internal/v1/events", axum::routing::post(ingest))
        .route(
            "/api/internal/v1/heartbeat",
            axum::routing::post(|| async { axum::Json(json!({"commands": []})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sup = shipping_to(addr).start();
    sup.run_cmd("s-reject", "echo poison; sleep 2; echo after").await;
    let letters = sup.state_dir().join("dead-letter");
    assert!(eventually(WAIT, || std::fs::read_dir(&letters).is_ok_and(|d| d.count() == 1)).await);
    sup.wait_finished("s-reject", WAIT).await;
    let events = sup.events("s-reject").await;
    let rejected = events
        .iter()
        .find(|e| e["type"] == "delivery.rejected")
        .expect("a delivery.rejected event");
    assert_eq!(rejected["source"], "supervisor");
    assert_eq!(rejected["data"]["status"], 400);
    assert_eq!(rejected["data"]["firstSeq"], 0);
    assert!(
        rejected["data"]["error"]
            .as_str()
            .unwrap()
            .contains("refused by the test receiver")
    );
    // Later events kept flowing: the final ones were accepted (nothing else was dead-lettered).
    assert_eq!(std::fs::read_dir(&letters).unwrap().count(), 1);
    let (_, metrics) = sup.get("/metrics").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .lines()
            .any(|l| l == "supervisor_delivery_dead_letters_total 1")
    );
}
