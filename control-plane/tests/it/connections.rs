//! `agentctl serve` under slow connections (issue 10, finding 12): a header-read timeout, an idle timeout and
//! a connection cap below the file-descriptor limit keep `/health` and ingest answering; a quiet live follow
//! is not an idle connection.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use control_plane::connections::Limits;

use crate::follow::Sse;
use crate::helpers::{KEY, TOKEN, TestDb, eventually, lines, spawn_app_limited, terminate};

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");
/// Slow connections the attacker opens: more than the server's file-descriptor limit below allows.
const SLOW: usize = 300;

/// Kills the server if the test fails before it stops it.
struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Opens a connection that sends part of a request head and then nothing.
async fn slowloris(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        .await
        .expect("write part of a head");
    stream
}

/// Whether the server closed `stream` (end of file or a reset) within `timeout`.
async fn closed_by_server(stream: &mut TcpStream, timeout: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (a 408, say) before the close.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ingest_answer_while_slow_connections_outnumber_the_file_descriptors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agentctl.db").display());
    // 256 descriptors: the slow connections alone would exhaust them.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 256 && exec \"$0\" serve --listen 127.0.0.1:0",
            BIN,
        ])
        .env("DATABASE_URL", &url)
        .env("INTERNAL_API_KEY", KEY)
        .env("AGENTCTL_API_TOKENS", TOKEN)
        .env("AGENTCTL_HEADER_READ_TIMEOUT", "1s")
        .env("AGENTCTL_MAX_CONNECTIONS", "64")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut child = Killed(Some(child));
    let addr = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("a line");
            if let Some(rest) = line.split("addr=").nth(1) {
                let addr = rest.split_whitespace().next().expect("an address").to_owned();
                // Keep draining stderr so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return addr;
            }
        }
        panic!("serve exited before listening");
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr)
        .await
        .expect("serve listens within 30 s")
        .expect("join");

    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        slow.push(slowloris(&addr).await);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let health = eventually(Duration::from_secs(30), || async {
        let response = http.get(format!("http://{addr}/health")).send().await.ok()?;
        Some(response.status())
    })
    .await;
    assert_eq!(health, StatusCode::OK);
    let batch = json!({"runtimeId": "rt-1", "events": lines("s-1", 0, 2)});
    let ingest = http
        .post(format!("http://{addr}/api/internal/v1/events"))
        .bearer_auth(KEY)
        .json(&batch)
        .send()
        .await
        .expect("ingest answers");
    assert_eq!(ingest.status(), StatusCode::OK);
    // The server closed every slow connection (the header-read timeout), rather than holding them.
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, Duration::from_secs(10)).await,
            "slow connection {i} is still open"
        );
    }
    let child = child.0.take().expect("still running");
    assert_eq!(terminate(child).await.code(), Some(0));
}

crate::on_both_backends!(a_connection_silent_mid_request_is_closed_but_a_quiet_follow_is_not);

async fn a_connection_silent_mid_request_is_closed_but_a_quiet_follow_is_not(db: TestDb) {
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections: 64,
    };
    let app = spawn_app_limited(&db, limits).await;
    app.ingest("rt-1", &lines("s-1", 0, 1)).await;
    let mut follow = Sse::open(&app, "s-1", None).await;
    assert_eq!(follow.until_seq(0).await, vec![0]);

    // A request whose body never comes.
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST /api/internal/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"runtimeId\""
    );
    silent.write_all(head.as_bytes()).await.expect("write");
    assert!(
        closed_by_server(&mut silent, Duration::from_secs(10)).await,
        "a request silent for longer than the idle timeout is still open"
    );

    // The follow saw nothing but keep-alives all that time (several idle timeouts), and is still there.
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.ingest("rt-1", &lines("s-1", 1, 1)).await;
    assert_eq!(follow.until_seq(1).await, vec![1]);
    app.stop().await;
}
