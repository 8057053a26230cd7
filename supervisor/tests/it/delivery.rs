//! Delivery to a real control plane (`agentctl serve` in-process, on SQLite): every event exactly as
//! logged, through an outage, cancel commands from the answers, the backlog at shutdown and after a crash.

use std::time::Duration;

use serde_json::json;

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
    // The control plane starts on this address only after the session ran and a delivery failed.
    let addr = free_addr();
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-outage", "seq 1 3000").await;
    sup.wait_finished("s-outage", WAIT).await;
    let local = sup.events("s-outage").await;
    let retried = async || sup.metric("supervisor_delivery_retries_total").await > Some(0);
    assert!(eventually(WAIT, retried).await, "the outage was retried");
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let stored = cp.wait_delivered(&local, "s-outage").await;
    assert_eq!(stored, local);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_on_the_control_plane_reaches_the_agent() {
    let cp = ControlPlane::start().await;
    let sup = shipping_to(cp.addr).start();
    sup.run_cmd("s-remote", "echo started; exec sleep 100").await;
    // The session must be known to the control plane before it can be cancelled there.
    let cancel = async || {
        let response = cp
            .public(reqwest::Method::POST, "/api/v1/sessions/s-remote/cancel")
            .send()
            .await;
        response.is_ok_and(|r| r.status() == 202)
    };
    let accepted = eventually(WAIT, cancel).await;
    assert!(accepted, "the control plane accepted the cancel");
    let session = sup.wait_finished("s-remote", WAIT).await;
    assert_eq!(session["status"], "cancelled", "{session}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backlog_is_delivered_before_a_sigterm_exit() {
    let cp = ControlPlane::start().await;
    let mut sup = shipping_to(cp.addr).arg("--grace").arg("2s").start();
    sup.run_cmd("s-term", "seq 1 20000; exec sleep 100").await;
    let logged_all = async || log_contains(&sup.state_dir(), "s-term", r#""20000""#);
    assert!(
        eventually(WAIT, logged_all).await,
        "the agent's lines reached the log"
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
    let addr = free_addr();
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-crash", "seq 1 2000; exec sleep 100").await;
    let logged_all = async || log_contains(&sup.state_dir(), "s-crash", r#""2000""#);
    assert!(
        eventually(WAIT, logged_all).await,
        "the agent's lines reached the log"
    );
    let sup = sup.kill_and_restart();
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(addr, &db.url()).await;
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
    let session = cp.session("s-crash").await;
    assert_eq!(session["status"], json!("lost"), "{session}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_spool_blocks_the_agent_and_everything_drains_afterwards() {
    let addr = free_addr();
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
    let paused = async || {
        sup.logged(
            "spool full: pausing the agent's output until events are delivered",
            "s-spool",
        )
    };
    assert!(
        eventually(WAIT, paused).await,
        "the supervisor paused the agent's output"
    );
    // The agent is blocked: the log stops growing (past the cap by at most one read of output) and the
    // session keeps running. Growth that did not happen takes a while to show: watch it for a second.
    let blocked_at = size();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(size(), blocked_at, "the log grew while the spool was full");
    assert!(
        blocked_at < 8 << 20,
        "the log is bounded near the cap: {blocked_at} bytes"
    );
    assert_eq!(sup.session("s-spool").await["status"], "running");

    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(addr, &db.url()).await;
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
    let addr = free_addr();
    let sup = shipping_to(addr).arg("--spool-max").arg("64KiB").start();
    // 20,000 lines fit in the agent's pipe; the full spool stops the supervisor reading them. The agent
    // marks when all of them are written, so the cancel cannot cut `seq` short on a loaded machine.
    sup.run_cmd("s-stuck", "seq 1 20000; touch written; exec sleep 100")
        .await;
    let paused = async || {
        sup.logged(
            "spool full: pausing the agent's output until events are delivered",
            "s-stuck",
        )
    };
    assert!(
        eventually(WAIT, paused).await,
        "the supervisor paused the agent's output"
    );
    let written = sup.workspace().join("sessions/s-stuck/written");
    assert!(
        eventually(WAIT, async || written.exists()).await,
        "the agent wrote its 20,000 lines into the pipe"
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
    // The agent prints its second line only once the first batch was refused, so it goes in a later one.
    sup.run_cmd(
        "s-reject",
        "echo poison; until [ -e go-on ]; do sleep 0.05; done; echo after",
    )
    .await;
    // Wait for the report in the session's own log, not for the dead-letter file: the file exists a moment
    // before the report is written, and a session that ended in that moment would get none.
    let reported = async || {
        sup.events("s-reject")
            .await
            .iter()
            .any(|e| e["type"] == "delivery.rejected")
    };
    assert!(
        eventually(WAIT, reported).await,
        "the rejected batch was reported in the session"
    );
    let letters = sup.state_dir().join("dead-letter");
    std::fs::write(sup.workspace().join("sessions/s-reject/go-on"), "").unwrap();
    sup.wait_finished("s-reject", WAIT).await;
    let events = sup.events("s-reject").await;
    let rejected = events
        .iter()
        .find(|e| e["type"] == "delivery.rejected")
        .expect("a delivery.rejected event");
    assert_eq!(rejected["source"], "supervisor");
    assert_eq!(rejected["data"]["status"], 400);
    // The refused batch holds the poison line; it may or may not start at seq 0 (session.started can go
    // alone in an earlier, accepted batch on a slow machine).
    let poison = events
        .iter()
        .find(|e| e.to_string().contains(r#""text":"poison""#))
        .expect("the poison line in the local log")["seq"]
        .as_u64()
        .unwrap();
    let (first, last) = (
        rejected["data"]["firstSeq"].as_u64().unwrap(),
        rejected["data"]["lastSeq"].as_u64().unwrap(),
    );
    assert!(
        first <= poison && poison <= last,
        "the refused range {first}..={last} holds the poison line (seq {poison})"
    );
    assert!(
        rejected["data"]["error"]
            .as_str()
            .unwrap()
            .contains("refused by the test receiver")
    );
    // Later events kept flowing: the final ones were accepted (nothing else was dead-lettered).
    assert_eq!(std::fs::read_dir(&letters).unwrap().count(), 1);
    assert_eq!(
        sup.metric("supervisor_delivery_dead_letters_total").await,
        Some(1)
    );
}
