//! Issue 10: what a hostile tester broke, each attack done again as the test.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

/// Sends a raw HTTP/1.1 request and closes the connection at once, without reading the answer.
async fn send_and_hang_up(sup: &Sup, path: &str, body: &Value) {
    let body = serde_json::to_vec(body).unwrap();
    let mut stream = TcpStream::connect(sup.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    // Reset rather than close: the server sees the client gone while it is still admitting.
    stream.set_zero_linger().unwrap();
    drop(stream);
}

async fn running(sup: &Sup) -> u64 {
    let (_, health) = sup.get("/health").await;
    health["sessions"]["running"].as_u64().unwrap()
}

/// Polls `/health` until no session holds a slot.
async fn wait_no_session_running(sup: &Sup, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if running(sup).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn clients_that_hang_up_during_execute_leak_no_slot() {
    let sup = Options::default().arg("--max-sessions").arg("4").start();
    // Many files make admission take long enough for the hang-up to land in the middle of it.
    let files: Vec<Value> = (0..300)
        .map(|i| json!({"path": format!("d{}/f{i}.txt", i % 10), "content": "x".repeat(2000)}))
        .collect();
    for i in 0..20 {
        let body = json!({
            "agentId": "a", "sessionId": format!("hangup-{i}"), "prompt": "p",
            "env": {"CMD": "true"}, "files": files,
        });
        send_and_hang_up(&sup, "/execute", &body).await;
    }
    assert!(
        wait_no_session_running(&sup, Duration::from_secs(30)).await,
        "a session of a client that hung up still holds a slot: {} running",
        running(&sup).await
    );
    let (_, listed) = sup.get("/sessions").await;
    for session in listed["sessions"].as_array().unwrap() {
        assert!(
            !matches!(session["status"].as_str(), Some("pending" | "running")),
            "an aborted session was left behind: {session}"
        );
    }
    sup.run_cmd("after-the-hang-ups", "true").await;
    sup.wait_finished("after-the-hang-ups", Duration::from_secs(30))
        .await;
}
