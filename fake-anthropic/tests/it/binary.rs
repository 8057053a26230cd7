//! The `fake-anthropic` binary's contract: address on stdout's first line, scenario and record flags,
//! clean exit on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn prints_the_bound_address_first_serves_the_scenario_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.json");
    std::fs::write(&scenario, r#"{"turns": [{"text": "from the file"}]}"#).unwrap();
    let record = dir.path().join("record.jsonl");

    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-anthropic"))
        .args(["--listen", "127.0.0.1:0", "--scenario"])
        .arg(&scenario)
        .arg("--record")
        .arg(&record)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start fake-anthropic");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("address printed in time")
        .unwrap()
        .expect("a first line");
    let addr: std::net::SocketAddr = first
        .parse()
        .unwrap_or_else(|_| panic!("first line is an address: {first:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let body = json!({"model": "m", "max_tokens": 100000, "tools": [{"name": "Bash"}],
                      "messages": [{"role": "user", "content": "hi"}]});
    let message: Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/messages"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(message["content"][0]["text"], "from the file");
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert_eq!(recorded.lines().count(), 1, "{recorded}");

    let pid = Pid::from_raw(child.id().expect("running").try_into().unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits promptly on SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert_eq!(
        stdout.next_line().await.unwrap(),
        None,
        "nothing but the address on stdout"
    );
}

#[tokio::test]
async fn refuses_a_bad_scenario_file_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.json");
    std::fs::write(
        &scenario,
        r#"{"turns": [{"text": "x", "toolUse": {"name": "Bash", "input": []}}]}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fake-anthropic"))
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no address printed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("at `turns[0]`: toolUse `Bash`: input must be a JSON object"),
        "stderr names the problem: {stderr}"
    );
}
