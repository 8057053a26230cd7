//! `agentctl agents …`, `run --agent` and `conversations show` as child processes against a real server, on
//! both backends: YAML and JSON files, versions, the server's refusals, the queue and its follow, and secrets
//! that never reach stdout or stderr.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use expect_test::expect;
use serde_json::{Value, json};

use crate::agents::{SECRET, definition};
use crate::cli::{Run, agentctl, command, finish};
use crate::helpers::{Ending, TestApp, TestDb, eventually, spawn_app, transcript};
use crate::on_both_backends;

/// `agentctl` with nothing from the environment choosing the direct path.
async fn ctl(app: &TestApp, args: &[&str]) -> Run {
    let run = agentctl(app, args).await;
    assert_no_secret(&run);
    run
}

#[track_caller]
fn assert_no_secret(run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "the secret was printed: {run:?}"
    );
}

/// The test agent as a YAML file, written by hand as a person would (block scalars, comments).
fn yaml(max_turns: u32, policy: &str) -> String {
    format!(
        r#"# The support bot of the API tests, as a file.
id: support-bot
description: Answers support mail
model: claude-test
maxTurns: {max_turns}
allowedTools: [Bash, Skill]
skills:
  - name: refunds
    files:
      SKILL.md: |
        ---
        name: refunds
        description: Refund rules
        ---
        Body
files:
  - path: policies/refunds.md
    content: "{policy}"
    encoding: utf8
env:
  TZ: Europe/Berlin
secrets:
  CRM_TOKEN: {SECRET}
timeoutSeconds: 600
runtimeSelector:
  pool: default
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write definition");
    path.to_str().expect("utf-8 path").to_owned()
}

async fn apply_reports_created_unchanged_and_configured_and_versions_stay_readable(db: TestDb) {
    let app = spawn_app(&db).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "agent.yaml", &yaml(5, "30 days"));
    let run = ctl(&app, &["agents", "apply", "-f", &file]).await;
    assert_eq!(run.code, 0, "{run:?}");
    expect!["agent/support-bot created (version 1)\n"].assert_eq(&run.stdout);

    // The same agent as JSON (the API's own form, from the shared test definition) changes nothing.
    assert_eq!(
        serde_json::to_value(parse_yaml(&yaml(5, "30 days"))).expect("json"),
        definition(),
        "the YAML file is the API test's definition"
    );
    let json_file = write(dir.path(), "agent.json", &definition().to_string());
    let run = ctl(&app, &["agents", "apply", "-f", &json_file]).await;
    expect!["agent/support-bot unchanged (version 1)\n"].assert_eq(&run.stdout);

    // A changed file content makes version 2; from stdin, told apart by its content.
    let mut cmd = command(&app.url(""), &["agents", "apply", "-f", "-"]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn agentctl");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(yaml(5, "60 days").as_bytes())
            .expect("write stdin");
    }
    let run = finish(child).await;
    assert_no_secret(&run);
    assert_eq!(run.code, 0, "{run:?}");
    expect!["agent/support-bot configured (version 2)\n"].assert_eq(&run.stdout);

    let run = ctl(
        &app,
        &["agents", "show", "support-bot", "--version", "1", "-o", "json"],
    )
    .await;
    let v1: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        (v1["version"].clone(), v1["files"][0]["content"].clone()),
        (json!(1), json!("30 days"))
    );
    assert_eq!(v1["secrets"]["CRM_TOKEN"]["set"], true, "{v1}");
    let run = ctl(&app, &["agents", "show", "support-bot"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let secrets_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Secrets:"))
        .expect("a Secrets line");
    assert!(secrets_line.contains("CRM_TOKEN (set "), "{}", run.stdout);
    assert!(run.stdout.contains("Version:     2\n"), "{}", run.stdout);

    // Piped: tab-separated lines without a header.
    let run = ctl(&app, &["agents", "versions", "support-bot"]).await;
    let numbers: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').next().expect("a field"))
        .collect();
    assert_eq!(numbers, ["1", "2"], "{run:?}");
    let run = ctl(&app, &["agents", "list"]).await;
    let fields: Vec<&str> = run.stdout.trim_end().split('\t').collect();
    assert_eq!(fields[..3], ["support-bot", "2", "claude-test"], "{run:?}");
    let run = ctl(&app, &["agents", "list", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(list["agents"][0]["id"], "support-bot", "{list}");
    app.stop().await;
}

fn parse_yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("yaml")
}

async fn bad_files_are_usage_errors_naming_the_line_and_refusals_name_the_field(db: TestDb) {
    let app = spawn_app(&db).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = yaml(5, "30 days").replace("allowedTools: [Bash, Skill]", "allowedTools: [Bash, Skill");
    let file = write(dir.path(), "broken.yaml", &broken);
    let run = ctl(&app, &["agents", "apply", "-f", &file]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&format!("{file}: invalid YAML")) && run.stderr.contains("line "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);

    let no_id = write(dir.path(), "no-id.json", r#"{"model": "x"}"#);
    let run = ctl(&app, &["agents", "apply", "-f", &no_id]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("id: missing"), "{}", run.stderr);

    // The server's check, shown as it is: it names the field.
    let refused = yaml(5, "30 days").replace("TZ: Europe/Berlin", "LD_PRELOAD: /x.so");
    let file = write(dir.path(), "refused.yaml", &refused);
    let run = ctl(&app, &["agents", "apply", "-f", &file]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("400") && run.stderr.contains("env.LD_PRELOAD"),
        "{}",
        run.stderr
    );
    let run = ctl(&app, &["agents", "list", "-o", "json"]).await;
    assert_eq!(
        run.stdout.trim(),
        r#"{
  "agents": []
}"#,
        "nothing was created"
    );
    let run = ctl(&app, &["agents", "show", "support-bot"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("agent support-bot not found"),
        "{}",
        run.stderr
    );
    app.stop().await;
}

/// Claims the one queued job as a runtime would, and ships its transcript through the ingest route.
async fn run_claimed(app: &TestApp, sid: &str) {
    let (_, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "rt-1", "labels": {"pool": "default"}, "free": 1, "waitSeconds": 5}),
        )
        .await;
    assert_eq!(answer["jobs"][0]["sessionId"], sid, "{answer}");
    let mut events = transcript(sid, "rt-1", "success", Ending::Succeeded);
    events[0]["data"]["agentId"] = json!("support-bot");
    let (_, answer) = app.ingest("rt-1", &events).await;
    assert!(answer.get("rejected").is_none(), "{answer}");
}

async fn run_agent_queues_and_follows_the_session_from_the_queue_to_its_end(db: TestDb) {
    let app = spawn_app(&db).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "agent.yaml", &yaml(5, "30 days"));
    assert_eq!(ctl(&app, &["agents", "apply", "-f", &file]).await.code, 0);

    let mut cmd = command(
        &app.url(""),
        &[
            "run",
            "--agent",
            "support-bot",
            "--prompt",
            "refund?",
            "--session-id",
            "s-1",
            "--env",
            "TICKET=42",
            "-f",
        ],
    );
    cmd.env_remove("AGENTCTL_RUNTIME");
    let child = cmd.spawn().expect("spawn agentctl");
    eventually(Duration::from_secs(10), || async {
        let (_, s) = app.get("/api/v1/sessions/s-1").await;
        (s["status"] == "queued").then_some(())
    })
    .await;
    run_claimed(&app, "s-1").await;
    let run = finish(child).await;
    assert_no_secret(&run);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("session s-1 queued (agent support-bot version 1)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("✓ succeeded"),
        "the transcript: {}",
        run.stdout
    );

    // A follow-up in the same conversation, not followed: its id on stdout.
    let mut cmd = command(
        &app.url(""),
        &[
            "run",
            "--agent",
            "support-bot",
            "--prompt",
            "and then?",
            "--session-id",
            "s-2",
            "--conversation",
            "s-1",
        ],
    );
    cmd.env_remove("AGENTCTL_RUNTIME");
    let run = finish(cmd.spawn().expect("spawn")).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, "s-2\n"), "{run:?}");
    assert!(
        run.stderr.contains("continuing conversation s-1"),
        "{}",
        run.stderr
    );

    let run = ctl(&app, &["conversations", "show", "s-1"]).await;
    let rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1])).collect::<Vec<_>>(),
        [("s-1", "succeeded"), ("s-2", "queued")],
        "{run:?}"
    );
    let run = ctl(&app, &["conversations", "show", "s-1", "-o", "json"]).await;
    let conversation: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(conversation["agentId"], "support-bot", "{conversation}");

    // Cancelling a queued session cancels it then and there: it had not finished before.
    let run = ctl(&app, &["cancel", "s-2", "-y"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "s-2: cancelled\n"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("already finished"), "{}", run.stderr);

    // Deleted: no new runs, with the server's reason and exit 1.
    let run = ctl(&app, &["agents", "delete", "support-bot"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "agent/support-bot deleted\n"),
        "{run:?}"
    );
    let mut cmd = command(&app.url(""), &["run", "--agent", "support-bot", "--prompt", "p"]);
    cmd.env_remove("AGENTCTL_RUNTIME");
    let run = finish(cmd.spawn().expect("spawn")).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("agent support-bot was deleted"),
        "{}",
        run.stderr
    );
    let run = ctl(&app, &["agents", "versions", "support-bot", "-o", "json"]).await;
    let versions: Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(versions["deletedAt"].is_string(), "{versions}");
    app.stop().await;
}

async fn runtimes_lists_state_load_and_labels_of_each_runtime(db: TestDb) {
    let app = spawn_app(&db).await;
    for (id, labels, capacity, state) in [
        ("rt-gpu", json!({"pool": "gpu", "zone": "a"}), json!(4), "active"),
        ("rt-old", json!({}), json!(null), "draining"),
    ] {
        let (_, answer) = app
            .post_internal(
                "/api/internal/v1/heartbeat",
                &json!({"runtimeId": id, "version": "0.2.0", "sessions": [], "labels": labels,
                        "capacity": capacity, "state": state}),
            )
            .await;
        assert!(answer.get("error").is_none(), "{answer}");
    }
    let run = ctl(&app, &["runtimes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let mut rows: Vec<Vec<&str>> = run.stdout.lines().map(|l| l.split('\t').collect()).collect();
    rows.sort();
    assert_eq!(
        rows.iter().map(|r| r[..4].to_vec()).collect::<Vec<_>>(),
        [
            ["rt-gpu", "active", "0/4", "pool=gpu,zone=a"],
            ["rt-old", "draining", "0/-", "-"],
        ],
        "{run:?}"
    );
    let run = ctl(&app, &["runtimes", "-o", "json"]).await;
    let list: protocol::RuntimeList = serde_json::from_str(&run.stdout).expect("a runtime list");
    assert_eq!(list.runtimes.len(), 2, "{list:?}");
    app.stop().await;
}

on_both_backends!(
    runtimes_lists_state_load_and_labels_of_each_runtime,
    apply_reports_created_unchanged_and_configured_and_versions_stay_readable,
    bad_files_are_usage_errors_naming_the_line_and_refusals_name_the_field,
    run_agent_queues_and_follows_the_session_from_the_queue_to_its_end,
);

/// `examples/agents/*.yaml`, applied as the README says (the secret's placeholder filled in on the way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_agents_are_definitions_the_server_takes() {
    let db = TestDb::new(crate::helpers::Kind::Sqlite).await.expect("sqlite");
    let app = spawn_app(&db).await;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents");
    let quickstart = examples.join("quickstart.yaml");
    let run = ctl(
        &app,
        &["agents", "apply", "-f", quickstart.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "agent/quickstart created (version 1)\n"),
        "{run:?}"
    );
    let (_, agent) = app.get("/api/v1/agents/quickstart").await;
    assert_eq!(agent["skills"][0]["name"], "house-rules", "{agent}");
    assert_eq!(agent["permissionMode"], "bypassPermissions", "{agent}");
    assert!(
        agent.get("secrets").is_none_or(|s| s == &json!({})),
        "no secrets: {agent}"
    );

    let text = std::fs::read_to_string(examples.join("with-secret.yaml")).expect("read example");
    assert!(
        text.contains("CRM_TOKEN: __CRM_TOKEN__"),
        "the placeholder the comment names"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let filled = write(
        dir.path(),
        "with-secret.yaml",
        &text.replace("__CRM_TOKEN__", SECRET),
    );
    let run = ctl(&app, &["agents", "apply", "-f", &filled]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "agent/support-bot created (version 1)\n"),
        "{run:?}"
    );
    let run = ctl(&app, &["agents", "show", "support-bot", "-o", "json"]).await;
    let shown: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(shown["secrets"]["CRM_TOKEN"]["set"], true, "{shown}");

    let text = std::fs::read_to_string(examples.join("with-database.yaml")).expect("read example");
    let url = "postgres://crm_reader:example-pw-1234@db.internal/crm";
    let filled = write(
        dir.path(),
        "with-database.yaml",
        &text.replace("__CRM_DATABASE_URL__", url),
    );
    let run = ctl(&app, &["agents", "apply", "-f", &filled]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "agent/crm-analyst created (version 1)\n"),
        "{run:?}"
    );
    let run = ctl(&app, &["agents", "show", "crm-analyst"]).await;
    assert!(run.stdout.contains("crm (read-only)"), "{run:?}");
    assert!(!run.stdout.contains("example-pw"), "{run:?}");

    // A package and a database (issue 15): npm pins pdf-lib from the registry as the version is made.
    let text = std::fs::read_to_string(examples.join("crm-report.yaml")).expect("read example");
    let filled = write(
        dir.path(),
        "crm-report.yaml",
        &text.replace("__CRM_DATABASE_URL__", url),
    );
    let run = ctl(&app, &["agents", "apply", "-f", &filled]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "agent/crm-report created (version 1)\n"),
        "{run:?}"
    );
    let run = ctl(&app, &["agents", "show", "crm-report", "-o", "json"]).await;
    let shown: Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(
        shown["packages"]["lockfile"]
            .as_str()
            .is_some_and(|l| l.contains("node_modules/pdf-lib")),
        "the version holds the pinned lockfile: {shown}"
    );
    assert_eq!(shown["databases"][0]["url"]["set"], true, "{shown}");
    assert!(!run.stdout.contains("example-pw"), "{run:?}");
    app.stop().await;
}
