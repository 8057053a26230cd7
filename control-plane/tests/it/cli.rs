//! The `agentctl` client: snapshot tests of every output format and each exit code, against a real server.

use std::process::{Command, Stdio};
use std::time::Duration;

use control_plane::cli::render::{self, Style};
use expect_test::{Expect, expect};
use protocol::SessionList;
use serde_json::Value;

use crate::helpers::{
    Ending, Kind, TOKEN, TestApp, TestDb, lines, spawn_app, spawn_app_on, terminate, transcript,
};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_agentctl");

#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn command(app_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("AGENTCTL_URL", app_url)
        .env("AGENTCTL_TOKEN", TOKEN)
        .env_remove("AGENTCTL_TOKEN_FILE")
        .env_remove("AGENTCTL_FORCE_TTY")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub(crate) async fn finish(child: std::process::Child) -> Run {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("agentctl runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

pub(crate) async fn agentctl(app: &TestApp, args: &[&str]) -> Run {
    agentctl_with(command(&app.url(""), args)).await
}

pub(crate) async fn agentctl_with(mut cmd: Command) -> Run {
    finish(cmd.spawn().expect("spawn agentctl")).await
}

#[track_caller]
pub(crate) fn check(run: &Run, code: i32, stdout: Expect) {
    assert_eq!(run.code, code, "exit code; stderr: {}", run.stderr);
    stdout.assert_eq(&run.stdout);
}

/// Four sessions: succeeded, failed, cancelled and still running.
async fn seeded() -> (TestDb, TestApp) {
    let db = TestDb::new(Kind::Sqlite).await.expect("sqlite");
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &transcript("s-ok", "rt-1", "success", Ending::Succeeded))
        .await;
    app.ingest("rt-1", &transcript("s-fail", "rt-1", "failed", Ending::Failed))
        .await;
    app.ingest(
        "rt-1",
        &transcript("s-cancel", "rt-1", "cancelled", Ending::Cancelled),
    )
    .await;
    app.ingest("rt-1", &transcript("s-run", "rt-1", "cancelled", Ending::Running))
        .await;
    (db, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_piped_json_and_names() {
    let (_db, app) = seeded().await;
    check(
        &agentctl(&app, &["sessions"]).await,
        0,
        expect![[r#"
            s-run	running	reviewer	-	-	2026-11-25T12:00:00.000Z	-
            s-cancel	cancelled	reviewer	-	-	2026-11-25T12:00:00.000Z	2026-11-25T12:00:04.000Z
            s-fail	failed	reviewer	2	0.0123	2026-11-25T12:00:00.000Z	2026-11-25T12:00:05.000Z
            s-ok	succeeded	reviewer	6	0.0831	2026-11-25T12:00:00.000Z	2026-11-25T12:00:09.000Z
        "#]],
    );
    check(
        &agentctl(&app, &["ps", "-o", "name"]).await,
        0,
        expect![[r#"
        s-run
        s-cancel
        s-fail
        s-ok
    "#]],
    );
    check(
        &agentctl(&app, &["ps", "-o", "wide", "--status", "failed"]).await,
        0,
        expect![[r#"
        s-fail	failed	reviewer	2	0.0123	2026-11-25T12:00:00.000Z	2026-11-25T12:00:05.000Z	claude-haiku-4-5	rt-1
    "#]],
    );
    check(
        &agentctl(
            &app,
            &["sessions", "--agent", "reviewer", "-L", "1", "-o", "json"],
        )
        .await,
        0,
        expect![[r#"
        {
          "sessions": [
            {
              "sessionId": "s-run",
              "agentId": "reviewer",
              "status": "running",
              "pid": 4242,
              "createdAt": "2026-11-25T12:00:00.000Z",
              "startedAt": "2026-11-25T12:00:00.000Z",
              "finishedAt": null,
              "exitCode": null,
              "signal": null,
              "lastSeq": 2,
              "numTurns": null,
              "totalCostUsd": null,
              "error": null,
              "conversationId": null,
              "agentVersion": null,
              "runtimeId": "rt-1",
              "model": "claude-sonnet-4-5-20250929",
              "resultText": null
            }
          ],
          "nextCursor": "4"
        }
    "#]],
    );
    let jsonl = agentctl(&app, &["sessions", "-o", "jsonl"]).await;
    assert_eq!(jsonl.code, 0);
    let ids: Vec<String> = jsonl
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("one JSON per line")["sessionId"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["s-run", "s-cancel", "s-fail", "s-ok"]);
    // On a terminal: a table with a header, colour unless NO_COLOR.
    let mut cmd = command(&app.url(""), &["sessions"]);
    cmd.env("AGENTCTL_FORCE_TTY", "1").env("NO_COLOR", "1");
    let table = agentctl_with(cmd).await;
    assert!(
        table
            .stdout
            .starts_with("ID        STATUS       AGENT     TURNS  COST     AGE"),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains('\x1b'));
    let mut cmd = command(&app.url(""), &["sessions"]);
    cmd.env("AGENTCTL_FORCE_TTY", "1");
    assert!(
        agentctl_with(cmd)
            .await
            .stdout
            .contains("\x1b[32m✓ succeeded\x1b[0m")
    );
    app.stop().await;
}

#[test]
fn the_table_on_a_terminal_is_aligned() {
    let list: SessionList = serde_json::from_str(include_str!("fixtures/sessions.json")).expect("fixture");
    let now = protocol_time("2026-11-25T13:00:00.000Z");
    let style = Style { color: false };
    expect![[r#"
        ID                                    STATUS       AGENT          TURNS  COST     AGE         DURATION
        s-run                                 ● running    reviewer       -      -        1m 30s ago  1m 30s
        9f0c2b1e-5a57-4b8e-9c61-0d3f1f0c2a11  ✓ succeeded  code-reviewer  6      $0.0831  1h 0m ago   1m 42s
        s-fail                                ✗ failed     a              -      -        26h 0m ago  -
    "#]]
    .assert_eq(&render::sessions_table(&list.sessions, false, now, style));
    expect![[r#"
        ID                                    STATUS       AGENT          TURNS  COST     AGE         DURATION  MODEL                       RUNTIME
        s-run                                 ● running    reviewer       -      -        1m 30s ago  1m 30s    claude-sonnet-4-5-20250929  rt-1
        9f0c2b1e-5a57-4b8e-9c61-0d3f1f0c2a11  ✓ succeeded  code-reviewer  6      $0.0831  1h 0m ago   1m 42s    claude-haiku-4-5            rt-2
        s-fail                                ✗ failed     a              -      -        26h 0m ago  -         -                           -
    "#]].assert_eq(&render::sessions_table(&list.sessions, true, now, style));
}

fn protocol_time(text: &str) -> i64 {
    control_plane::time::parse_rfc3339_ms(text).expect("a time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_and_transcripts() {
    let (_db, app) = seeded().await;
    check(
        &agentctl(&app, &["show", "s-ok"]).await,
        0,
        expect![[r#"
        Session:   s-ok
        Agent:     reviewer
        Status:    ✓ succeeded
        Model:     claude-sonnet-4-5-20250929
        Runtime:   rt-1
        Created:   2026-11-25T12:00:00.000Z
        Started:   2026-11-25T12:00:00.000Z
        Finished:  2026-11-25T12:00:09.000Z
        Duration:  9s
        Turns:     6
        Cost:      $0.0831
        Exit code: 0
        Signal:    -
        Error:     -
        Last seq:  9
        Result:    Fixed: tokenize("") returned None; it now returns an empty Vec.
                   All 14 tests pass.
    "#]],
    );
    check(
        &agentctl(&app, &["logs", "s-ok"]).await,
        0,
        expect![[r#"
        session s-ok · agent reviewer · runner node /opt/agent-runner/run.mjs · pid 4242
        model claude-sonnet-4-5-20250929 · 8 tools · cwd /workspace/sessions/s-ok
        ⏺ I'll run the tests first to see what fails.
        ⏺ Bash(cargo test -p parser)
          ⎿  running 14 tests
             test tokens::empty ... FAILED
             test tokens::one ... ok
             … +5 lines
        ⏺ Read(src/parser.rs)
          ⎿  ✗ Error reading file: no such file
        ⏺ Fixed: tokenize("") returned None; it now returns an empty Vec.
          All 14 tests pass.
        ✓ succeeded · 6 turns · 1m 42s · $0.0831
    "#]],
    );
    check(
        &agentctl(&app, &["logs", "s-fail"]).await,
        0,
        expect![[r#"
        session s-fail · agent reviewer · runner node /opt/agent-runner/run.mjs · pid 4242
        model claude-haiku-4-5 · 2 tools · cwd /workspace/sessions/s-fail
        ⏺ Bash(make)
          ⎿  ✗ make: *** No targets specified and no makefile found.  Stop.
        ✗ failed (error_max_turns: Reached maximum number of turns (2)) · 2 turns · 4s · $0.0123
    "#]],
    );
    check(
        &agentctl(&app, &["logs", "s-cancel", "-t"]).await,
        0,
        expect![[r#"
        12:00:00 session s-cancel · agent reviewer · runner node /opt/agent-runner/run.mjs · pid 4242
        12:00:01 model claude-sonnet-4-5-20250929 · 1 tool · cwd /workspace/sessions/s-cancel
        12:00:02 ⏺ Bash(sleep 600)
        12:00:03 ⊘ cancel requested
        12:00:04 ⊘ cancelled · 9s
    "#]],
    );
    check(
        &agentctl(&app, &["logs", "s-ok", "--tail", "2"]).await,
        0,
        expect![[r#"
        ✓ succeeded · 6 turns · 1m 42s · $0.0831
    "#]],
    );
    let show = agentctl(&app, &["show", "s-fail", "-o", "json"]).await;
    let detail: Value = serde_json::from_str(&show.stdout).expect("json");
    assert_eq!(detail["status"], "failed");
    // jsonl: the SDK messages as the agent printed them, nothing else (byte-for-byte storage is proved in
    // ingest::data_is_stored_byte_for_byte; the test helper re-encodes the fixture, so compare as JSON).
    let jsonl = agentctl(&app, &["logs", "s-ok", "-o", "jsonl"]).await;
    assert_eq!(jsonl.code, 0);
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    assert_eq!(
        parse(&jsonl.stdout),
        parse(include_str!("fixtures/success.jsonl"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes() {
    let (_db, app) = seeded().await;
    let code = |args: &'static [&'static str]| {
        let app = &app;
        async move { agentctl(app, args).await }
    };
    check(&code(&["wait", "s-ok"]).await, 0, expect!["s-ok succeeded\n"]);
    check(&code(&["wait", "s-fail"]).await, 5, expect!["s-fail failed\n"]);
    check(
        &code(&["wait", "s-cancel"]).await,
        6,
        expect!["s-cancel cancelled\n"],
    );
    check(
        &code(&["wait", "s-run", "--timeout", "300ms"]).await,
        124,
        expect![""],
    );
    check(
        &code(&["show", "s-fail", "--exit-status"])
            .await
            .with_stdout_cleared(),
        5,
        expect![""],
    );
    check(
        &code(&["logs", "s-cancel", "--exit-status"])
            .await
            .with_stdout_cleared(),
        6,
        expect![""],
    );
    check(
        &code(&["logs", "s-ok", "--exit-status"])
            .await
            .with_stdout_cleared(),
        0,
        expect![""],
    );
    let missing = code(&["show", "s-nope"]).await;
    check(&missing, 1, expect![""]);
    expect!["agentctl: session s-nope not found\n"].assert_eq(&missing.stderr);
    let usage = code(&["sessions", "--bogus"]).await;
    check(&usage, 2, expect![""]);
    let mut cmd = command(&app.url(""), &["sessions"]);
    cmd.env("AGENTCTL_TOKEN", "wrong");
    let auth = agentctl_with(cmd).await;
    check(&auth, 4, expect![""]);
    expect!["agentctl: invalid API token\n"].assert_eq(&auth.stderr);
    let unreachable = agentctl_with(command("http://127.0.0.1:1", &["sessions"])).await;
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    // cancel: confirmation is needed unless -y, and stdin is not a terminal here.
    let refused = code(&["cancel", "s-run"]).await;
    check(&refused, 2, expect![""]);
    check(
        &code(&["cancel", "-y", "s-run"]).await,
        0,
        expect!["s-run: cancelling\n"],
    );
    check(
        &code(&["cancel", "-y", "s-ok"]).await,
        0,
        expect!["s-ok: succeeded\n"],
    );
    // Interrupted while waiting.
    let child = command(&app.url(""), &["wait", "s-run"]).spawn().expect("spawn");
    tokio::time::sleep(Duration::from_millis(500)).await;
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    check(&finish(child).await, 130, expect![""]);
    let completion = code(&["completion", "bash"]).await;
    assert_eq!(completion.code, 0);
    assert!(completion.stdout.contains("_agentctl()"), "{}", completion.stdout);
    app.stop().await;
}

impl Run {
    fn with_stdout_cleared(mut self) -> Self {
        self.stdout.clear();
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_is_not_an_error() {
    let (_db, app) = seeded().await;
    app.ingest("rt-1", &lines("s-big", 0, 3000)).await;
    let script = format!("{BIN} logs s-big | head -n 1; exit ${{PIPESTATUS[0]}}");
    let mut bash = Command::new("bash");
    bash.args(["-c", &script])
        .env("AGENTCTL_URL", app.url(""))
        .env("AGENTCTL_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = agentctl_with(bash).await;
    check(&run, 0, expect!["line 0\n"]);
    assert_eq!(run.stderr, "");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_resumes_after_the_server_goes_away() {
    let db = TestDb::new(Kind::Sqlite).await.expect("sqlite");
    let app = spawn_app(&db).await;
    let addr = app.addr;
    app.ingest("rt-1", &lines("s-1", 0, 10)).await;
    let child = command(&app.url(""), &["logs", "-f", "s-1"])
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The server stops (ending the stream without `end`) and comes back on the same address.
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let app = spawn_app_on(&db, addr, Duration::from_secs(30)).await;
    app.ingest("rt-1", &lines("s-1", 10, 10)).await;
    app.ingest("rt-1", &[crate::helpers::sup("s-1", 20, "session.finished", serde_json::json!({"status": "succeeded", "exitCode": 0, "signal": null, "durationMs": 65000, "numTurns": 1, "totalCostUsd": 0.5, "error": null, "stderrTail": null}))]).await;
    let run = tokio::time::timeout(Duration::from_secs(20), finish(child))
        .await
        .expect("logs -f ends");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: String = (0..20).map(|i| format!("line {i}\n")).collect::<String>()
        + "✓ succeeded · 1 turn · 1m 5s · $0.5000\n";
    assert_eq!(run.stdout, expected);
    assert!(run.stderr.contains("resuming after seq 9"), "{}", run.stderr);
    app.stop().await;
}

/// A stand-in runtime: `POST /execute` checks the bearer token, records the request and answers like a
/// supervisor, with the session id the request carried (or `s-new`).
async fn fake_runtime() -> (String, tokio::sync::mpsc::Receiver<protocol::ExecuteRequest>) {
    use axum::http::{HeaderMap, StatusCode};
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let router = axum::Router::new().route(
        "/execute",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sup-token") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        r#"{"error":{"code":"unauthorized","message":"bad token"}}"#.to_owned(),
                    );
                }
                let request: protocol::ExecuteRequest =
                    serde_json::from_str(&body).expect("an ExecuteRequest");
                let answer = protocol::ExecuteResponse {
                    success: true,
                    agent_id: request.agent_id.clone(),
                    session_id: request
                        .session_id
                        .clone()
                        .unwrap_or_else(|| "s-new".parse().expect("id")),
                    status: "started".into(),
                };
                tx.send(request).await.expect("test listens");
                (
                    StatusCode::ACCEPTED,
                    serde_json::to_string(&answer).expect("json"),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_starts_a_session_on_a_runtime_and_follows_it_to_its_end() {
    let (_db, app) = seeded().await;
    let (runtime, mut requests) = fake_runtime().await;

    let mut cmd = command(
        &app.url(""),
        &[
            "run",
            "--runtime",
            &runtime,
            "--agent",
            "reviewer",
            "--prompt",
            "fix the test",
            "--max-turns",
            "3",
        ],
    );
    cmd.env("SUPERVISOR_TOKEN", "sup-token");
    check(&agentctl_with(cmd).await, 0, expect!["s-new\n"]);
    let request = requests.recv().await.expect("a request");
    assert_eq!(
        (
            request.agent_id.as_str(),
            request.prompt.as_str(),
            request.options.max_turns
        ),
        ("reviewer", "fix the test", Some(3))
    );

    // -f: the exit code is the session's; the runtime ships the events a moment later.
    let mut cmd = command(
        &app.url(""),
        &[
            "run",
            "--runtime",
            &runtime,
            "--agent",
            "reviewer",
            "--prompt-file",
            "-",
            "--session-id",
            "s-followed",
            "-f",
        ],
    );
    cmd.env("SUPERVISOR_TOKEN", "sup-token").stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"prompt from stdin").expect("write prompt");
    }
    let request = requests.recv().await.expect("a request");
    assert_eq!(request.prompt, "prompt from stdin");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.ingest(
        "rt-1",
        &transcript("s-followed", "rt-1", "failed", Ending::Failed),
    )
    .await;
    let run = finish(child).await;
    check(
        &run,
        5,
        expect![[r#"
        session s-followed · agent reviewer · runner node /opt/agent-runner/run.mjs · pid 4242
        model claude-haiku-4-5 · 2 tools · cwd /workspace/sessions/s-fail
        ⏺ Bash(make)
          ⎿  ✗ make: *** No targets specified and no makefile found.  Stop.
        ✗ failed (error_max_turns: Reached maximum number of turns (2)) · 2 turns · 4s · $0.0123
    "#]],
    );

    // A wrong supervisor token is an auth error.
    let mut cmd = command(
        &app.url(""),
        &[
            "run",
            "--runtime",
            &runtime,
            "--agent",
            "reviewer",
            "--prompt",
            "x",
        ],
    );
    cmd.env("SUPERVISOR_TOKEN", "wrong");
    check(&agentctl_with(cmd).await, 4, expect![""]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_creates_its_database_prints_generated_credentials_once_and_stops_on_sigterm() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("INTERNAL_API_KEY")
        .env_remove("AGENTCTL_API_TOKENS")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let pid = child.id().to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let (mut key, mut token) = (None, None);
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.expect("a line");
            if let Some(k) = line.strip_prefix("agentctl: generated internal API key (INTERNAL_API_KEY): ") {
                key = Some(k.to_owned());
            } else if let Some(t) = line.strip_prefix("agentctl: generated API token (AGENTCTL_TOKEN): ") {
                token = Some(t.to_owned());
            } else if let Some(rest) = line.split("addr=").nth(1) {
                let addr = rest.split_whitespace().next().expect("an address").to_owned();
                return (
                    key.expect("key printed before serving"),
                    token.expect("token printed"),
                    addr,
                );
            }
        }
        panic!("serve exited before listening");
    });
    let Ok(read) = tokio::time::timeout(Duration::from_secs(30), reader).await else {
        Command::new("kill").args(["-KILL", &pid]).status().expect("kill");
        panic!("serve did not start listening within 30 s");
    };
    let (key, token, addr) = read.expect("join");
    assert!(key.starts_with("ak_") && token.starts_with("at_") && key != token);
    let http = reqwest::Client::new();
    let list = http
        .get(format!("http://{addr}/api/v1/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(list.status(), reqwest::StatusCode::OK);
    let wrong = http
        .get(format!("http://{addr}/api/v1/sessions"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    let batch = serde_json::json!({"runtimeId": "rt-1", "events": lines("s-1", 0, 2)});
    let ingest = http
        .post(format!("http://{addr}/api/internal/v1/events"))
        .bearer_auth(&key)
        .json(&batch)
        .send()
        .await
        .expect("send");
    assert_eq!(ingest.status(), reqwest::StatusCode::OK);
    assert!(dir.path().join("fresh.db").exists());
    let status = terminate(child).await;
    assert_eq!(status.code(), Some(0));
}
