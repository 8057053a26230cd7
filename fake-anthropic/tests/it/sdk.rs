//! The real Claude Agent SDK (`node agent-runner/run.mjs`, which runs the bundled `claude` CLI) against
//! fake-anthropic. The SDK refuses `bypassPermissions` as root, so the agent runs as `nobody` (uid 65534)
//! through `setpriv`; these tests therefore need root (as in CI) and fail, rather than skip, without it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::TestServer;

const NOBODY: u32 = 65534;
/// Generous: the CLI is a large binary and CI shares two cores with other tests.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

fn agent_runner_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent-runner")
}

/// Fails with the fix when a precondition of running the real SDK is missing.
fn check_preconditions() {
    let sdk = agent_runner_dir().join("node_modules/@anthropic-ai/claude-agent-sdk");
    assert!(
        sdk.is_dir(),
        "the Agent SDK is not installed: run `npm ci` in agent-runner/ (looked for {})",
        sdk.display()
    );
    let euid = std::fs::metadata("/proc/self").expect("read /proc/self").uid();
    assert_eq!(
        euid, 0,
        "these tests run the agent as uid {NOBODY} through setpriv and need root (the SDK refuses \
         bypassPermissions as root); run them as root, as CI does"
    );
}

/// A HOME and a working directory owned by `nobody`, inside a temp dir `nobody` can traverse.
struct AgentDirs {
    _root: TempDir,
    home: PathBuf,
    cwd: PathBuf,
}

impl AgentDirs {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("create temp dir");
        let home = root.path().join("home");
        let cwd = root.path().join("work");
        for dir in [&home, &cwd] {
            std::fs::create_dir(dir).expect("create agent dir");
        }
        for dir in [root.path(), &home, &cwd] {
            std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown agent dir to nobody");
        }
        Self {
            _root: root,
            home,
            cwd,
        }
    }
}

/// Starts the runner as `nobody` with the offline environment, and writes the job spec to its stdin.
async fn start_runner(server: &TestServer, dirs: &AgentDirs, prompt: &str, options: Value) -> Child {
    check_preconditions();
    let job = json!({
        "sessionId": "s-test",
        "agentId": "tester",
        "prompt": prompt,
        "cwd": dirs.cwd,
        "options": options,
    });
    let mut child = Command::new("setpriv")
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".to_owned(),
        ])
        .args(["env", "-i"])
        .arg(format!("HOME={}", dirs.home.display()))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin")
        .arg(format!("ANTHROPIC_BASE_URL=http://{}", server.addr))
        .arg("ANTHROPIC_API_KEY=sk-fake-key")
        .arg("CLAUDE_CODE_MAX_RETRIES=0")
        .arg("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
        .arg("node")
        .arg(agent_runner_dir().join("run.mjs"))
        .current_dir(&dirs.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start setpriv … node agent-runner/run.mjs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(job.to_string().as_bytes())
        .await
        .expect("write the job spec");
    drop(stdin);
    child
}

struct Finished {
    status: ExitStatus,
    messages: Vec<Value>,
    stderr: String,
}

async fn finish(child: Child) -> Finished {
    let output = tokio::time::timeout(RUN_DEADLINE, child.wait_with_output())
        .await
        .expect("the runner finishes in time")
        .expect("collect the runner's output");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let messages = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("stdout line is not JSON ({err}): {line}"))
        })
        .collect();
    Finished {
        status: output.status,
        messages,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn find<'a>(messages: &'a [Value], what: &str, predicate: impl Fn(&Value) -> bool) -> &'a Value {
    messages
        .iter()
        .find(|message| predicate(message))
        .unwrap_or_else(|| panic!("no {what} among the SDK messages:\n{}", summary(messages)))
}

fn summary(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|message| format!("{} {}", message["type"], message["subtype"]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn blocks<'a>(message: &'a Value, kind: &str) -> impl Iterator<Item = &'a Value> {
    let kind = kind.to_owned();
    message["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |block| block["type"] == kind)
}

#[tokio::test]
async fn the_real_sdk_runs_the_default_scenario_to_success() {
    let server = TestServer::start(None).await;
    let dirs = AgentDirs::new();
    let options = json!({
        "model": "claude-sonnet-4-5",
        "systemPrompt": "You are the fake-anthropic end-to-end test.",
        "maxTurns": 5,
        "allowedTools": null,
        "permissionMode": null,
    });
    let run = finish(start_runner(&server, &dirs, "Say hello from bash.", options).await).await;
    let messages = &run.messages;
    assert!(
        run.status.success(),
        "runner exit {:?}; stderr:\n{}\nmessages:\n{}",
        run.status,
        run.stderr,
        summary(messages)
    );

    let init = find(messages, "system init", |m| {
        m["type"] == "system" && m["subtype"] == "init"
    });
    assert_eq!(init["cwd"], json!(dirs.cwd));
    assert_eq!(
        init["permissionMode"], "bypassPermissions",
        "the runner's default permission mode"
    );

    let tool_call = find(messages, "assistant Bash tool_use", |m| {
        m["type"] == "assistant" && blocks(m, "tool_use").any(|block| block["name"] == "Bash")
    });
    let tool_use_id = blocks(tool_call, "tool_use").next().unwrap()["id"].clone();
    let tool_result = find(messages, "user tool_result", |m| {
        m["type"] == "user" && blocks(m, "tool_result").any(|block| block["tool_use_id"] == tool_use_id)
    });
    let output = blocks(tool_result, "tool_result").next().unwrap()["content"].to_string();
    assert!(
        output.contains("hello from bash") && output.contains("Linux"),
        "the command really ran: {output}"
    );

    let answer = find(messages, "assistant text after the tool", |m| {
        m["type"] == "assistant"
            && blocks(m, "text").any(|block| block["text"].as_str().unwrap().contains("hello from bash"))
    });
    assert!(
        blocks(answer, "text").next().unwrap()["text"]
            .as_str()
            .unwrap()
            .starts_with("The command printed:")
    );

    // After the SDK's messages the runner prints the turn's conversation state (DESIGN §9).
    let result = messages
        .iter()
        .rev()
        .find(|m| m["type"] != "conversation.state")
        .expect("some messages");
    assert_eq!(
        result["type"],
        "result",
        "the result is the SDK's last message:\n{}",
        summary(messages)
    );
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert!(result["num_turns"].as_u64().unwrap() >= 2, "{result}");
    assert!(
        result["total_cost_usd"].as_f64().unwrap() > 0.0,
        "usage is billed: {result}"
    );

    // What reached the API: our key, the chosen model, the system prompt, the CLI's tools.
    let requests: Vec<Value> = server
        .recorded()
        .into_iter()
        .filter(|line| line["fake"]["auxiliary"] == false)
        .collect();
    assert_eq!(requests.len(), 2, "one request per turn: {requests:#?}");
    for request in &requests {
        assert_eq!(request["headers"]["x-api-key"], "sk-fake-key");
        assert_eq!(request["headers"]["anthropic-version"], "2023-06-01");
        assert_eq!(request["body"]["model"], "claude-sonnet-4-5");
        assert_eq!(request["body"]["stream"], true);
        assert!(
            request["body"]["system"]
                .to_string()
                .contains("You are the fake-anthropic end-to-end test.")
        );
        assert!(
            request["body"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|tool| tool["name"] == "Bash")
        );
    }
}

#[tokio::test]
async fn the_real_sdk_fails_on_an_authentication_error() {
    let server = TestServer::start(None).await;
    let dirs = AgentDirs::new();
    let run = finish(start_runner(&server, &dirs, "scenario:unauthorized hi", json!({})).await).await;
    assert!(
        !run.status.success(),
        "a 401 must fail the run; stderr:\n{}",
        run.stderr
    );
    assert_eq!(run.status.code(), Some(1), "stderr:\n{}", run.stderr);
    if let Some(result) = run.messages.iter().rev().find(|m| m["type"] == "result") {
        assert_eq!(result["is_error"], true, "{result}");
    }
    assert!(
        run.stderr.contains("Invalid API key"),
        "stderr says why:\n{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_runner_stops_the_agent_promptly_on_sigterm() {
    let server = TestServer::start(None).await;
    let dirs = AgentDirs::new();
    let mut child = start_runner(&server, &dirs, "scenario:sleep", json!({})).await;
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();

    // Wait until the CLI is running the tool (`sleep 300`), so the signal lands mid-tool.
    let started = tokio::time::timeout(RUN_DEADLINE, async {
        while let Some(line) = stdout.next_line().await.expect("read stdout") {
            let message: Value = serde_json::from_str(&line).expect("stdout line is JSON");
            if message["type"] == "system" && message["subtype"] == "task_started" {
                return true;
            }
        }
        false
    })
    .await
    .expect("the tool starts in time");
    assert!(started, "the runner exited before the tool started");

    // setpriv and env exec, so the child's pid is node's.
    let pid = Pid::from_raw(child.id().expect("running").try_into().unwrap());
    kill(pid, Signal::SIGTERM).expect("signal the runner");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the runner exits within seconds of SIGTERM, not after the 300 s tool")
        .expect("wait for the runner");
    assert_eq!(status.code(), Some(143), "128 + SIGTERM: {status}");
}
