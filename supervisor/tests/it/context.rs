//! The session context of `POST /execute`, end to end through the real SDK: skills, options, MCP servers
//! and secrets. `fake-anthropic` (in-process, `fake-anthropic/scenarios/context.json`) records every request
//! the CLI sends, so each option is checked where it matters: in what reaches the model API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(90);

/// The main-conversation requests (not side calls) of one scenario, in the order received.
fn conversation(model: &FakeModel, scenario: &str) -> Vec<Value> {
    model
        .requests()
        .into_iter()
        .filter(|r| r["fake"]["scenario"] == scenario && r["fake"]["auxiliary"] == false)
        .collect()
}

/// The first request of turn `turn` of `scenario`.
#[track_caller]
fn turn(model: &FakeModel, scenario: &str, turn: u64) -> Value {
    let requests = conversation(model, scenario);
    requests
        .iter()
        .find(|r| r["fake"]["turn"] == turn)
        .unwrap_or_else(|| panic!("no request for turn {turn} of {scenario}: {requests:#?}"))
        .clone()
}

/// `fake-anthropic` with the context scenarios.
async fn context_model() -> FakeModel {
    FakeModel::scenario_file("context.json").await
}

/// A supervisor running the real runner (as a uid of its own, without a passwd entry) against `model`.
fn sdk_supervisor(model: &FakeModel) -> Sup {
    Options::default().real_sdk().model(model).start()
}

fn tool_names(request: &Value) -> Vec<String> {
    request["body"]["tools"]
        .as_array()
        .expect("the request lists tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Starts a session and waits for its end; returns the session and its events.
async fn run(sup: &Sup, id: &str, body: Value) -> (Value, Vec<Value>) {
    let mut request = json!({
        "agentId": "context-test", "sessionId": id,
        "env": {"ANTHROPIC_API_KEY": "sk-fake-key-for-tests"},
    });
    for (k, v) in body.as_object().unwrap() {
        if k == "env" {
            for (ek, ev) in v.as_object().unwrap() {
                request["env"][ek] = ev.clone();
            }
        } else {
            request[k] = v.clone();
        }
    }
    let (status, answer) = sup.post("/execute", &request).await;
    assert_eq!(status, 202, "POST /execute {id}: {answer}");
    let session = sup.wait_finished(id, WAIT).await;
    let events = sup.events(id).await;
    (session, events)
}

/// The text of the last assistant message: the scenarios echo tool results there.
fn last_assistant_text(events: &[Value]) -> String {
    events
        .iter()
        .rev()
        .filter(|e| e["type"] == "assistant")
        .flat_map(|e| {
            e["data"]["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| b["type"] == "text")
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .next()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_in_the_request_are_loaded_by_the_sdk_and_their_content_reaches_the_model() {
    let model = context_model().await;
    let sup = sdk_supervisor(&model);
    let skill_md = "---\nname: ctx-probe\ndescription: Probe skill for the context tests. Use when asked to probe.\n---\n\n\
                    # Probe\n\nAnswer with the word SKILL-BODY-7731 and run scripts/probe.sh.\n";
    let (session, events) = run(
        &sup,
        "s-skill",
        json!({
            "prompt": "scenario:skill use the probe skill",
            "skills": [{"name": "ctx-probe", "files": {
                "SKILL.md": skill_md,
                "scripts/probe.sh": "#!/bin/sh\necho probe\n",
            }}],
        }),
    )
    .await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");

    // The files landed where the SDK looks for project skills.
    let dir = sup.workspace().join("sessions/s-skill/.claude/skills/ctx-probe");
    assert_eq!(std::fs::read_to_string(dir.join("SKILL.md")).unwrap(), skill_md);
    assert!(dir.join("scripts/probe.sh").exists());

    // The CLI listed it among its skills at start-up.
    let init = events
        .iter()
        .find(|e| e["type"] == "system" && e["data"]["subtype"] == "init")
        .expect("a system init message");
    let skills = init["data"]["skills"].to_string();
    assert!(skills.contains("ctx-probe"), "init skills: {skills}");

    // The model called the Skill tool, and the skill's body came back to it in the next request.
    let calls_skill = events.iter().any(|e| {
        e["type"] == "assistant"
            && e["data"]["message"]["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_use" && b["name"] == "Skill"))
    });
    assert!(calls_skill, "no Skill tool_use: {events:#?}");
    let after = turn(&model, "skill", 1);
    assert!(
        after["body"]["messages"].to_string().contains("SKILL-BODY-7731"),
        "the skill's content did not reach the model: {:#}",
        after["body"]["messages"]
    );
    // And the transcript shows it came back: in the events after the tool call, not just in the request.
    let first_tool_use = events
        .iter()
        .position(|e| e["type"] == "assistant" && e.to_string().contains("tool_use"))
        .unwrap();
    assert!(
        events[first_tool_use..]
            .iter()
            .any(|e| e["type"] == "user" && e.to_string().contains("ctx-probe")),
        "no tool result for the skill in the transcript: {events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn system_prompt_model_and_disallowed_tools_reach_the_model_api() {
    let model = context_model().await;
    let sup = sdk_supervisor(&model);
    let (plain, events) = run(
        &sup,
        "s-plain",
        json!({"prompt": "scenario:options plain", "options": {"model": "claude-sonnet-4-5"}}),
    )
    .await;
    assert_eq!(plain["status"], "succeeded", "{plain}\n{events:#?}");
    let (shaped, events) = run(
        &sup,
        "s-shaped",
        json!({
            "prompt": "scenario:options shaped",
            "options": {
                "model": "claude-haiku-4-5-20251001",
                "systemPrompt": "You are the context test agent SYSPROMPT-5521.",
                "disallowedTools": ["Write", "Edit"],
            },
        }),
    )
    .await;
    assert_eq!(shaped["status"], "succeeded", "{shaped}\n{events:#?}");

    let requests = conversation(&model, "options");
    let plain = requests
        .iter()
        .find(|r| r["body"]["messages"].to_string().contains("options plain"))
        .expect("the plain session's request");
    let shaped = requests
        .iter()
        .find(|r| r["body"]["messages"].to_string().contains("options shaped"))
        .expect("the shaped session's request");

    assert_eq!(plain["body"]["model"], "claude-sonnet-4-5");
    assert_eq!(shaped["body"]["model"], "claude-haiku-4-5-20251001");

    let system = shaped["body"]["system"].to_string();
    assert!(system.contains("SYSPROMPT-5521"), "{system}");
    assert!(!plain["body"]["system"].to_string().contains("SYSPROMPT-5521"));

    let (plain_tools, shaped_tools) = (tool_names(plain), tool_names(shaped));
    for tool in ["Write", "Edit"] {
        assert!(plain_tools.contains(&tool.to_owned()), "{plain_tools:?}");
        assert!(!shaped_tools.contains(&tool.to_owned()), "{shaped_tools:?}");
    }
    assert!(shaped_tools.contains(&"Bash".to_owned()), "{shaped_tools:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_tools_decide_which_tools_run_without_asking() {
    // Without bypassPermissions a headless agent may only use what `allowedTools` pre-approves: the same
    // Bash call runs in one session and is refused in the other, and the model sees which.
    let model = context_model().await;
    let sup = sdk_supervisor(&model);
    let (allowed, events) = run(
        &sup,
        "s-allowed",
        json!({
            "prompt": "scenario:allowed with Bash allowed",
            "options": {"permissionMode": "default", "allowedTools": ["Bash"]},
        }),
    )
    .await;
    assert_eq!(allowed["status"], "succeeded", "{allowed}\n{events:#?}");
    assert!(
        last_assistant_text(&events).contains("allowed-tool-ran"),
        "{events:#?}"
    );
    let (refused, events) = run(
        &sup,
        "s-refused",
        json!({
            "prompt": "scenario:allowed with only Read allowed",
            "options": {"permissionMode": "default", "allowedTools": ["Read"]},
        }),
    )
    .await;
    assert_eq!(refused["status"], "succeeded", "{refused}\n{events:#?}");
    let answer = last_assistant_text(&events);
    assert!(!answer.contains("allowed-tool-ran"), "{answer}");
    assert!(sup.workspace().join("sessions/s-allowed/allowed.txt").exists());
    assert!(!sup.workspace().join("sessions/s-refused/allowed.txt").exists());

    let results: Vec<String> = conversation(&model, "allowed")
        .iter()
        .filter(|r| r["fake"]["turn"] == 1)
        .map(|r| r["body"]["messages"].to_string())
        .collect();
    assert!(
        results
            .iter()
            .any(|m| m.contains("Bash allowed") && m.contains("allowed-tool-ran")),
        "{results:#?}"
    );
    assert!(
        results
            .iter()
            .any(|m| m.contains("only Read allowed") && !m.contains("allowed-tool-ran")),
        "{results:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_mcp_server_from_the_request_is_started_and_its_tool_is_called() {
    let model = context_model().await;
    let sup = sdk_supervisor(&model);
    let server = repo().join("supervisor/tests/fixtures/mcp-echo.mjs");
    let (session, events) = run(
        &sup,
        "s-mcp",
        json!({
            "prompt": "scenario:mcp call the echo server",
            "options": {"mcpServers": {"echo": {"type": "stdio", "command": "node", "args": [server]}}},
        }),
    )
    .await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");

    let init = events
        .iter()
        .find(|e| e["type"] == "system" && e["data"]["subtype"] == "init")
        .expect("a system init message");
    let servers = init["data"]["mcp_servers"].to_string();
    assert!(
        servers.contains("echo") && servers.contains("connected"),
        "{servers}"
    );
    // The tool's answer went back to the model in the next request.
    let after = turn(&model, "mcp", 1)["body"]["messages"].to_string();
    assert!(after.contains("echo: ping-from-the-model"), "{after}");
    // The server's answer (with its pid and uid: it ran as the session's own uid) came back and was echoed.
    let answer = last_assistant_text(&events);
    assert!(answer.contains("echo: ping-from-the-model (pid "), "{answer}");
    assert!(answer.contains(&format!("uid {})", sup.first_uid())), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_servers_env_never_reaches_a_command_line_other_users_can_read() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let model = context_model().await;
    let sup = sdk_supervisor(&model);
    let secret = format!("mcp-env-secret-{}", uuid_like());
    let server = repo().join("supervisor/tests/fixtures/mcp-echo.mjs");
    // `/proc/<pid>/cmdline` is world-readable: what this (root) reader sees, any uid sees.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, secret) = (stop.clone(), secret.clone());
        std::thread::spawn(move || {
            let (mut saw_server, mut saw_secret) = (false, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    saw_server |= cmdline.contains("mcp-echo.mjs");
                    if cmdline.contains(&secret) {
                        saw_secret.push(cmdline);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (saw_server, saw_secret)
        })
    };
    let (session, events) = run(
        &sup,
        "s-mcp-secret",
        json!({
            "prompt": "scenario:mcp call the echo server",
            "options": {"mcpServers": {"echo": {"type": "stdio", "command": "node", "args": [server],
                                                 "env": {"ECHO_TOKEN": secret}}}},
        }),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let (saw_server, saw_secret) = reader.join().unwrap();
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");
    assert!(
        last_assistant_text(&events).contains("echo: ping-from-the-model"),
        "the server with the env ran and answered"
    );
    assert!(
        saw_server,
        "the reader never saw the MCP server run: it proves nothing"
    );
    assert!(
        saw_secret.is_empty(),
        "the MCP server's env is on a command line: {saw_secret:?}"
    );
}

/// Every file below `dir`, with its bytes.
fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_printing_its_api_key_leaks_it_nowhere_and_cannot_read_the_supervisors_secrets() {
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(free_addr(), &db.url()).await;
    let model = context_model().await;
    // Started without `--no-auth` or a token, so it generates one into `<state>/token` (root-only).
    let mut sup = Sup::start_raw(shipping_to(cp.addr).real_sdk().model(&model));
    let secret = format!("sk-ant-secret-{}", uuid_like());
    let token_file = sup.state_dir().join("token");
    sup.token = Some(std::fs::read_to_string(&token_file).unwrap().trim().to_owned());
    let (session, events) = run(
        &sup,
        "s-secret",
        json!({
            "prompt": "scenario:secret print your key",
            "env": {
                "ANTHROPIC_API_KEY": secret,
                "PROBE_TOKEN_FILE": token_file.display().to_string(),
                "PROBE_SUPERVISOR_PID": sup.pid.to_string(),
            },
        }),
    )
    .await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");

    // The agent really had the key: it reached fake-anthropic as `x-api-key`, and the file it wrote holds it.
    assert_eq!(turn(&model, "secret", 0)["headers"]["x-api-key"], secret.as_str());
    let written = sup.workspace().join("sessions/s-secret/key.txt");
    assert_eq!(std::fs::read_to_string(&written).unwrap().trim(), secret);

    // What it printed came back redacted, and the agent's user could read neither secret of the supervisor.
    let output = last_assistant_text(&events);
    assert!(output.contains("key=[redacted:ANTHROPIC_API_KEY]"), "{output}");
    assert!(
        output.contains(&format!("\n{}\n", sup.first_uid())),
        "the agent ran as the first uid of the range: {output}"
    );
    assert!(
        output.contains("token-refused") && !output.contains("TOKEN-READABLE"),
        "{output}"
    );
    assert!(
        output.contains("environ-refused") && !output.contains("ENVIRON-READABLE"),
        "{output}"
    );
    let token_mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&token_file).unwrap().permissions());
    assert_eq!(token_mode & 0o077, 0, "token file mode {token_mode:o}");

    // Every event reached the control plane before we look at its database.
    let logged = events.len();
    let delivered = async || cp.events("s-secret").await.len() >= logged;
    assert!(
        eventually(WAIT, delivered).await,
        "the control plane did not store all {logged} events"
    );

    // The value is nowhere: not in the local log or anything else in the state dir, not in the supervisor's
    // own log, not in the control plane's database.
    for (path, bytes) in files_below(&sup.state_dir()) {
        assert!(!contains(&bytes, &secret), "the key is in {}", path.display());
    }
    assert!(
        !sup.stderr().contains(&secret),
        "the key is in the supervisor's stderr"
    );
    assert!(!events.iter().any(|e| e.to_string().contains(&secret)));
    drop(sup);
    cp.stop().await;
    let mut checked = 0;
    for (path, bytes) in files_below(db.dir()) {
        checked += bytes.len();
        assert!(!contains(&bytes, &secret), "the key is in {}", path.display());
    }
    assert!(checked > 0, "no database file in {}", db.dir().display());
}

/// A value unique to this run, so no earlier run's leftovers can satisfy or fail the check.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}
