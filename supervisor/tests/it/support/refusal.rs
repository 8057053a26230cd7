//! A supervisor that must refuse its configuration: run it to its exit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// Runs the supervisor with `args` (after `--listen 127.0.0.1:0 --no-auth --run-as nobody`) until it exits
/// on its own, for configurations it must refuse; panics if it is still running after `timeout`.
pub(crate) fn run_to_exit(args: &[&str], timeout: Duration) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--no-auth", "--run-as", "nobody"])
        .args(args)
        .env_remove("SUPERVISOR_TOKEN")
        .env_remove("ANTHROPIC_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start agent-supervisor");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the supervisor") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the supervisor did not refuse to start within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped stderr"), &mut stderr)
        .expect("read the supervisor's stderr");
    (status, stderr)
}
