//! Destinations that are not what they should be: one that answers 404 (a control-plane URL with a wrong
//! path), one that is hostile (another caller's `storage`), and how the supervisor's log lines look on a
//! pipe.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
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

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_answering_404_keeps_every_event_until_it_is_fixed() {
    // A wrong path behind a reverse proxy: every request is answered 404, for a while. The stub reads
    // each body whole before it answers, as a proxy does, so the supervisor always hears the 404 (an
    // answer sent before the body was read may reach it as a reset connection instead).
    let seen = Arc::new(Mutex::new(0usize));
    let counter = seen.clone();
    let not_found = axum::Router::new().fallback(move |uri: axum::http::Uri, _body: Bytes| {
        let counter = counter.clone();
        async move {
            if uri.path() == "/api/internal/v1/events" {
                *counter.lock().unwrap() += 1;
            }
            (StatusCode::NOT_FOUND, "no such route")
        }
    });
    let (addr, stop, task) = serve_stub("127.0.0.1:0".parse().unwrap(), not_found).await;
    let sup = shipping_to(addr).start();
    sup.run_cmd("s-404", "seq 1 500").await;
    sup.wait_finished("s-404", WAIT).await;
    let local = sup.events("s-404").await;
    assert!(
        eventually(WAIT, async || *seen.lock().unwrap() >= 2).await,
        "the supervisor kept offering its batch to the misconfigured destination"
    );

    // The operator fixes it: the real control plane answers on that address from now on.
    stop.cancel();
    task.await.unwrap();
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(addr, &db.url()).await;
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
    let misconfigured = sup.metric("supervisor_delivery_misconfigured_total").await;
    assert!(
        misconfigured > Some(0),
        "counted: {misconfigured:?}, retries: {:?}\n{}",
        sup.metric("supervisor_delivery_retries_total").await,
        sup.stderr()
    );
    assert_eq!(
        sup.metric("supervisor_delivery_dead_letters_total").await,
        Some(0)
    );
    let log = sup.stderr();
    assert!(
        log.contains("misconfigured"),
        "the misconfiguration was logged:\n{log}"
    );
    assert!(!log.contains(CP_KEY), "the credential never reaches the log");
}

/// What a hostile destination was told.
#[derive(Default)]
struct Told {
    heartbeats: Vec<Value>,
    ingested_sessions: Vec<String>,
}

#[derive(Clone)]
struct Hostile {
    told: Arc<Mutex<Told>>,
    victim: String,
}

impl Hostile {
    fn cancel_the_victim(&self) -> Value {
        json!([{"type": "cancel", "sessionId": self.victim}])
    }
}

async fn hostile_ingest(State(hostile): State<Hostile>, body: Bytes) -> Response {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut json)
        .unwrap();
    let batch: Value = serde_json::from_slice(&json).unwrap();
    let mut told = hostile.told.lock().unwrap();
    for event in batch["events"].as_array().unwrap() {
        told.ingested_sessions
            .push(event["sessionId"].as_str().unwrap().to_owned());
    }
    axum::Json(json!({"acked": {}, "commands": hostile.cancel_the_victim()})).into_response()
}

async fn hostile_heartbeat(State(hostile): State<Hostile>, axum::Json(beat): axum::Json<Value>) -> Response {
    hostile.told.lock().unwrap().heartbeats.push(beat);
    axum::Json(json!({"commands": hostile.cancel_the_victim()})).into_response()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_storage_destination_neither_sees_nor_cancels_another_callers_session() {
    let cp = ControlPlane::start().await;
    let hostile = Hostile {
        told: Arc::default(),
        victim: "s-victim".to_owned(),
    };
    let app = axum::Router::new()
        .route("/api/internal/v1/events", post(hostile_ingest))
        .route("/api/internal/v1/heartbeat", post(hostile_heartbeat))
        .with_state(hostile.clone());
    let (hostile_addr, _stop, _task) = serve_stub("127.0.0.1:0".parse().unwrap(), app).await;
    let sup = shipping_to(cp.addr).start();

    // Another caller's session, shipped to the configured control plane.
    sup.run_cmd("s-victim", "echo started; exec sleep 100").await;
    // The hostile caller's session, with its own `storage`.
    sup.run_cmd_with(
        "s-hostile",
        "echo started; exec sleep 100",
        json!({"storage": {"type": "postgresql", "apiUrl": format!("http://{hostile_addr}"), "apiKey": "hostile-key-0123456789"}}),
    )
    .await;

    // Its events were answered with cancel commands at once; wait for two heartbeats too.
    assert!(
        eventually(WAIT, async || hostile.told.lock().unwrap().heartbeats.len() >= 2).await,
        "the hostile destination got heartbeats"
    );
    let victim = sup.session("s-victim").await;
    assert_eq!(
        victim["status"], "running",
        "the hostile destination cancelled nothing: {victim}"
    );
    {
        let told = hostile.told.lock().unwrap();
        for beat in &told.heartbeats {
            assert_eq!(
                beat["sessions"],
                json!(["s-hostile"]),
                "a heartbeat lists only its own sessions"
            );
        }
        assert!(!told.ingested_sessions.is_empty());
        assert!(
            told.ingested_sessions.iter().all(|id| id == "s-hostile"),
            "only the hostile caller's own events: {:?}",
            told.ingested_sessions
        );
    }
    // The victim's own control plane can still cancel it.
    let (status, _) = sup.post("/sessions/s-victim/cancel", &json!({})).await;
    assert_eq!(status, 202);
    assert_eq!(sup.wait_finished("s-victim", WAIT).await["status"], "cancelled");
}

#[test]
fn log_lines_on_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
            "--runner",
            SHELL_RUNNER,
            "--run-as",
            "nobody",
        ])
        .arg("--workspace")
        .arg(dir.path().join("workspace"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("LOG_FORMAT", "text")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = Vec::new();
    let deadline = Instant::now() + WAIT;
    // Lines up to "supervisor ready": what an operator's log file gets at every start.
    while !String::from_utf8_lossy(&log).contains("supervisor ready") {
        assert!(
            Instant::now() < deadline,
            "no ready line:\n{}",
            String::from_utf8_lossy(&log)
        );
        if stderr.read_until(b'\n', &mut log).unwrap() == 0 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("supervisor ready"), "{text}");
    assert!(!log.contains(&0x1b), "no ANSI escape on a pipe:\n{text:?}");
}
