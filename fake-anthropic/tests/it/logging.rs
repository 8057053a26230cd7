//! The binary's log lines: plain text when stderr is a file or a pipe (colour codes belong on a terminal only).

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn log_lines_on_a_piped_stderr_carry_no_colour_codes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-anthropic"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("NO_COLOR")
        .env_remove("LOG_FORMAT")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start fake-anthropic");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("address printed in time")
        .expect("read stdout")
        .expect("a first line");
    let pid = Pid::from_raw(child.id().expect("running").try_into().expect("a pid"));
    kill(pid, Signal::SIGTERM).expect("send SIGTERM");
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits promptly on SIGTERM")
        .expect("wait");
    assert!(output.status.success(), "{}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fake-anthropic listening"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in piped logs: {stderr:?}");
}
