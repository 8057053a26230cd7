//! Issue 10 finding 6: the supervisor's secrets never come from its command line, which every agent can
//! read in `/proc/<pid>/cmdline`; they come from the environment or a file.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::*;

#[test]
fn secret_flags_on_the_command_line_are_refused_naming_the_env_var_and_the_file_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let workspace = tmp.path().join("ws");
    for (flag, env, file_flag) in [
        (
            "--internal-api-key",
            "INTERNAL_API_KEY",
            "--internal-api-key-file",
        ),
        (
            "--anthropic-api-key",
            "ANTHROPIC_API_KEY",
            "--anthropic-api-key-file",
        ),
        ("--token", "SUPERVISOR_TOKEN", "--token-file"),
    ] {
        let (status, stderr) = run_to_exit(
            &[
                "--state-dir",
                state.to_str().unwrap(),
                "--workspace",
                workspace.to_str().unwrap(),
                "--runner",
                "/bin/true",
                flag,
                "sk-on-the-command-line-0123",
            ],
            Duration::from_secs(20),
        );
        assert_eq!(status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(env) && stderr.contains(file_flag),
            "{flag}: {stderr}"
        );
        assert!(
            !stderr.contains("sk-on-the-command-line-0123"),
            "the refusal repeats the secret: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_internal_api_key_is_read_from_a_file_without_its_trailing_newline() {
    let cp = ControlPlane::start().await;
    let keys = tempfile::tempdir().unwrap();
    let file = keys.path().join("internal-api-key");
    std::fs::write(&file, format!("{CP_KEY}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sup = Options::default()
        .arg("--control-plane-url")
        .arg(&format!("http://{}", cp.addr))
        .arg("--internal-api-key-file")
        .arg(file.to_str().unwrap())
        .start();
    sup.run_cmd("s-key-file", "echo delivered").await;
    sup.wait_finished("s-key-file", Duration::from_secs(30)).await;
    let local = sup.events("s-key-file").await;
    let stored = cp.wait_delivered(&local, "s-key-file").await;
    assert_eq!(stored, local, "the control plane took the key from the file");
    assert!(
        !sup.stderr().contains("can be read by other users"),
        "a private key file is not warned about"
    );
}

#[test]
fn a_key_file_others_can_read_is_warned_about_and_an_empty_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("key");
    std::fs::write(&file, "\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, stderr) = run_to_exit(
        &[
            "--state-dir",
            tmp.path().join("state").to_str().unwrap(),
            "--workspace",
            tmp.path().join("ws").to_str().unwrap(),
            "--runner",
            "/bin/true",
            "--anthropic-api-key-file",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("can be read by other users"), "{stderr}");
    assert!(stderr.contains("is empty"), "{stderr}");
}
