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

#[tokio::test]
async fn a_hardlink_planted_in_a_leftover_workspace_is_never_written_through() {
    use std::os::unix::fs::MetadataExt;
    let sup = Options::default().start();
    let outside = sup.dir.path().join("outside.txt");
    std::fs::write(&outside, "original").unwrap();
    // What another agent left in the workspace of a session id it expects to be reused.
    let planted = sup.workspace().join("sessions").join("victim");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::hard_link(&outside, planted.join("data.txt")).unwrap();

    let (status, answer) = sup
        .post(
            "/execute",
            &json!({
                "agentId": "a", "sessionId": "victim", "prompt": "p", "env": {"CMD": "true"},
                "files": [{"path": "data.txt", "content": "overwritten by root"}],
            }),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict", "{answer}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "original");
    assert_eq!(
        std::fs::metadata(&outside).unwrap().uid(),
        nix::unistd::getuid().as_raw()
    );
}

#[tokio::test]
async fn a_request_whose_files_fail_leaves_no_workspace_behind() {
    let sup = Options::default().start();
    let body = |files: Value| json!({"agentId": "a", "sessionId": "fails-first", "prompt": "p", "env": {"CMD": "true"}, "files": files});
    let (status, answer) = sup
        .post(
            "/execute",
            &body(json!([{"path": "a", "content": "1"}, {"path": "a/b", "content": "2"}])),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("needs a directory where files[0].path writes the file"),
        "a file/dir conflict is no symlink escape: {message}"
    );
    for dir in ["sessions", "homes"] {
        let path = sup.workspace().join(dir).join("fails-first");
        assert!(!path.exists(), "{} was left behind", path.display());
    }
    let (status, answer) = sup
        .post("/execute", &body(json!([{"path": "a/b", "content": "2"}])))
        .await;
    assert_eq!(status, 202, "the corrected request starts: {answer}");
}

#[test]
fn a_state_dir_others_can_write_is_refused_naming_path_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (status, stderr) = run_to_exit(
        &[
            "--state-dir",
            state.to_str().unwrap(),
            "--workspace",
            tmp.path().join("ws").to_str().unwrap(),
            "--runner",
            "/bin/true",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} can be written by others (mode 777)",
            state.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_token_file_swapped_for_a_symlink_is_replaced_never_written_through() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, state.join("token")).unwrap();

    let sup = Sup::start_raw_in(Options::default(), tmp);
    assert_eq!(
        std::fs::read_to_string(sup.dir.path().join("victim")).unwrap(),
        "precious"
    );
    let meta = std::fs::symlink_metadata(sup.state_dir().join("token")).unwrap();
    assert!(meta.is_file(), "the symlink was replaced by a file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let token = std::fs::read_to_string(sup.state_dir().join("token")).unwrap();
    let response = sup
        .client
        .get(sup.url("/sessions"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_valid_token_file_is_reused_by_the_next_start() {
    let mut first = Sup::start_raw(Options::default());
    let token = std::fs::read_to_string(first.state_dir().join("token")).unwrap();
    let dir = std::mem::replace(&mut first.dir, tempfile::tempdir().unwrap());
    drop(first);
    let second = Sup::start_raw_in(Options::default(), dir);
    assert_eq!(
        std::fs::read_to_string(second.state_dir().join("token")).unwrap(),
        token
    );
    let response = second
        .client
        .get(second.url("/sessions"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_missing_runner_refuses_start() {
    let tmp = tempfile::tempdir().unwrap();
    for runner in ["/does/not/exist --flag", "no-such-runner-on-path"] {
        let (status, stderr) = run_to_exit(
            &[
                "--state-dir",
                tmp.path().join("state").to_str().unwrap(),
                "--workspace",
                tmp.path().join("ws").to_str().unwrap(),
                "--runner",
                runner,
            ],
            Duration::from_secs(20),
        );
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is not an executable file"), "{stderr}");
    }
}

#[tokio::test]
async fn agent_env_values_are_redacted_like_request_env_values() {
    let secret = "sk-ant-from-agent-env-0123";
    let sup = Options::default()
        .arg("--agent-env")
        .arg(&format!("ANTHROPIC_API_KEY={secret}"))
        .arg("--agent-env")
        .arg("SHORT=abc")
        .start();
    sup.run_cmd("s-agent-env", r#"echo "key $ANTHROPIC_API_KEY short $SHORT""#)
        .await;
    sup.wait_finished("s-agent-env", Duration::from_secs(30)).await;
    let log = std::fs::read_to_string(sup.state_dir().join("sessions/s-agent-env.log")).unwrap();
    assert!(
        !log.contains(secret),
        "the --agent-env value reached the local log"
    );
    let texts = agent_texts(&sup.events("s-agent-env").await);
    assert_eq!(texts, ["key [redacted:ANTHROPIC_API_KEY] short abc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_execute_keep_answering_under_slow_connections() {
    // Few file descriptors, so that the slow connections could exhaust them.
    let sup = Options::default()
        .nofile(600)
        .arg("--header-read-timeout")
        .arg("1s")
        .start();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        // A full accept queue drops SYNs: stop there rather than wait for the kernel's retries.
        let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(sup.addr));
        let Ok(Ok(mut stream)) = connect.await else {
            break;
        };
        // Half a header, never finished.
        if stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_ok()
        {
            slow.push(stream);
        }
    }
    // More than the cap the fd limit leaves (108), though not always all: the accept queue is bounded too.
    assert!(
        slow.len() > 200,
        "only {} slow connections were opened",
        slow.len()
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let health = client.get(sup.url("/health")).send().await;
    assert!(
        health.as_ref().is_ok_and(|r| r.status() == 200),
        "/health did not answer under slow connections: {health:?}"
    );
    let execute = client
        .post(sup.url("/execute"))
        .json(&json!({"agentId": "a", "sessionId": "after-slowloris", "prompt": "p", "env": {"CMD": "true"}}))
        .send()
        .await;
    assert!(
        execute.as_ref().is_ok_and(|r| r.status() == 202),
        "/execute did not answer under slow connections: {execute:?}"
    );
    drop(slow);
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let sup = Options::default().with_auth().start();
    let token = sup.token.clone().unwrap();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = sup
            .client
            .get(sup.url("/sessions"))
            .header("Authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn execute_refuses_trailing_garbage_and_oversized_env_names() {
    let sup = Options::default().start();
    let raw = |body: String| {
        sup.client
            .post(sup.url("/execute"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let response = raw(r#"{"agentId":"a","prompt":"p","env":{"CMD":"true"}} trailing"#.to_owned())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("trailing"),
        "{body}"
    );

    let name = "A".repeat(5000);
    let (status, body) = sup
        .post(
            "/execute",
            &json!({"agentId": "a", "prompt": "p", "env": {name: "x"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, listed) = sup.get("/sessions").await;
    assert_eq!(listed["sessions"], json!([]), "nothing was started");
}

/// Sends `bytes` and never more, then reads until the server closes; `None` if it is still open after
/// `within`.
async fn read_until_closed(addr: std::net::SocketAddr, bytes: &[u8], within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    read.ok().map(|_| String::from_utf8_lossy(&answer).into_owned())
}

const TRICKLE: &[u8] =
    b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"agentId\"";

#[tokio::test]
async fn a_request_body_that_trickles_in_is_answered_and_closed_after_the_body_read_timeout() {
    let sup = Options::default().arg("--body-read-timeout").arg("1s").start();
    let answer = read_until_closed(sup.addr, TRICKLE, Duration::from_secs(15)).await;
    let answer = answer.expect("the connection is still open 15 s after the body stopped");
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[tokio::test]
async fn the_credential_proxy_bounds_slow_heads_and_trickling_bodies() {
    let sup = Options::default()
        .env("ANTHROPIC_API_KEY", "sk-ant-held-for-the-proxy-test")
        .arg("--anthropic-upstream")
        .arg("http://127.0.0.1:9")
        .arg("--header-read-timeout")
        .arg("1s")
        .arg("--body-read-timeout")
        .arg("1s")
        .start();
    sup.run_cmd("s-proxy-url", r#"echo "$ANTHROPIC_BASE_URL""#).await;
    sup.wait_finished("s-proxy-url", Duration::from_secs(30)).await;
    let texts = agent_texts(&sup.events("s-proxy-url").await);
    let proxy: std::net::SocketAddr = texts[0].strip_prefix("http://").unwrap().parse().unwrap();

    let slow_head = read_until_closed(
        proxy,
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(15),
    )
    .await;
    assert!(
        slow_head.is_some(),
        "a head that never ends is held open by the proxy"
    );
    let trickle = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\"";
    let answer = read_until_closed(proxy, trickle, Duration::from_secs(15)).await;
    let answer = answer.expect("a body that stopped coming is held open by the proxy");
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}
