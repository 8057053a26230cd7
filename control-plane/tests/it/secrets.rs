//! `agentctl serve` takes its secrets from the environment or from files, never from its command line,
//! which every process on the host can read in `/proc/PID/cmdline` (issue 10, finding 6).

use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{lines, terminate};

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

/// Runs `agentctl serve ARGS` without secrets in its environment, expecting it to exit within 30 s.
async fn serve_exits(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("INTERNAL_API_KEY")
        .env_remove("AGENTCTL_API_TOKENS")
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("spawn serve");
    let pid = child.id().to_string();
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    match waited {
        Ok(output) => output.expect("join").expect("wait"),
        Err(_) => {
            Command::new("kill").args(["-KILL", &pid]).status().expect("kill");
            panic!("serve {args:?} started instead of refusing its command line");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_secrets_on_its_command_line_naming_the_env_var_and_the_file_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("agentctl.db").display());
    let cases: [(&[&str], &str, &[&str]); 4] = [
        (
            &[
                "--internal-api-key",
                "argv-key-0123456789",
                "--database-url",
                &sqlite,
            ],
            "argv-key-0123456789",
            &[
                "--internal-api-key",
                "INTERNAL_API_KEY",
                "--internal-api-key-file",
            ],
        ),
        (
            &["--api-token=argv-token-0123456789", "--database-url", &sqlite],
            "argv-token-0123456789",
            &["--api-token", "AGENTCTL_API_TOKENS", "--api-token-file"],
        ),
        (
            &[
                "--database-url",
                "postgres://agentctl:argv-password-0123@127.0.0.1:1/agentctl",
            ],
            "argv-password-0123",
            &["--database-url", "DATABASE_URL", "--database-url-file"],
        ),
        (
            &[
                "--database-url=postgresql://u:argv-password-4567@127.0.0.1:1/x",
                "--internal-api-key=k-0123456789",
            ],
            "argv-password-4567",
            &[
                "--database-url",
                "--internal-api-key",
                "DATABASE_URL",
                "INTERNAL_API_KEY",
            ],
        ),
    ];
    for (args, secret, named) in cases {
        let output = serve_exits(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for name in named {
            assert!(stderr.contains(name), "{args:?}: {stderr:?} does not name {name}");
        }
        assert!(
            !stderr.contains(secret),
            "{args:?}: the secret is printed: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains(secret));
    }
    assert!(
        !dir.path().join("agentctl.db").exists(),
        "refused before opening the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_its_secrets_from_files_one_value_per_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    let tokens = dir.path().join("tokens");
    let database = dir.path().join("database-url");
    std::fs::write(&keys, "key-one-0123456789\n\n  key-two-0123456789  \n").expect("write keys");
    std::fs::write(&tokens, "token-0123456789\n").expect("write tokens");
    let sqlite = format!("sqlite://{}\n", dir.path().join("from-file.db").display());
    std::fs::write(&database, sqlite).expect("write database url");
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--internal-api-key-file")
        .arg(&keys)
        .arg("--api-token-file")
        .arg(&tokens)
        .arg("--database-url-file")
        .arg(&database)
        .env_remove("INTERNAL_API_KEY")
        .env_remove("AGENTCTL_API_TOKENS")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let pid = child.id().to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("a line");
            if let Some(rest) = line.split("addr=").nth(1) {
                let addr = rest.split_whitespace().next().expect("an address").to_owned();
                std::thread::spawn(move || for _ in lines {});
                return (addr, seen);
            }
            seen.push(line);
        }
        panic!("serve exited before listening: {seen:?}");
    });
    let Ok(read) = tokio::time::timeout(Duration::from_secs(30), reader).await else {
        Command::new("kill").args(["-KILL", &pid]).status().expect("kill");
        panic!("serve did not start listening within 30 s");
    };
    let (addr, before) = read.expect("join");
    assert!(
        // The key that seals agents' secrets is generated beside the SQLite file either way.
        !before
            .iter()
            .any(|l| l.contains("generated") && !l.contains("control_plane::secrets")),
        "nothing is generated when files give the credentials: {before:?}"
    );
    let http = reqwest::Client::new();
    for key in ["key-one-0123456789", "key-two-0123456789"] {
        let batch = json!({"runtimeId": "rt-1", "events": lines("s-1", 0, 1)});
        let ingest = http
            .post(format!("http://{addr}/api/internal/v1/events"))
            .bearer_auth(key)
            .json(&batch)
            .send()
            .await
            .expect("send");
        assert_eq!(ingest.status(), StatusCode::OK, "{key}");
    }
    let list = http
        .get(format!("http://{addr}/api/v1/sessions"))
        .bearer_auth("token-0123456789")
        .send()
        .await
        .expect("send");
    assert_eq!(list.status(), StatusCode::OK);
    assert!(
        dir.path().join("from-file.db").exists(),
        "the URL came from the file"
    );
    assert_eq!(terminate(child).await.code(), Some(0));
}
