//! The model side: `fake-anthropic` served from this test process, and the options that run the real
//! Claude Agent SDK (`agent-runner/run.mjs` and its bundled CLI) against it.

use std::net::SocketAddr;
use std::path::PathBuf;

use fake_anthropic::{Config, Scenarios, Server};
use serde_json::{Value, json};

use super::{Options, require_root};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `fake-anthropic` on a free loopback port, recording every request it gets; it serves until the test's
/// runtime ends.
#[derive(Debug)]
pub(crate) struct FakeModel {
    pub(crate) addr: SocketAddr,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeModel {
    /// With the built-in scenarios (`scenario:sleep`, `scenario:unauthorized`, …).
    pub(crate) async fn builtin() -> Self {
        Self::serve(Scenarios::builtin()).await
    }

    /// With a scenario file of `fake-anthropic/scenarios/`.
    pub(crate) async fn scenario_file(name: &str) -> Self {
        let path = repo().join("fake-anthropic/scenarios").join(name);
        let scenarios = Scenarios::load(&path).unwrap_or_else(|err| panic!("load {}: {err}", path.display()));
        Self::serve(scenarios).await
    }

    /// With the scenarios written here.
    pub(crate) async fn scenarios(json: &Value) -> Self {
        Self::serve(Scenarios::from_json(&json.to_string()).expect("a valid scenario file")).await
    }

    async fn serve(scenarios: Scenarios) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let record = dir.path().join("requests.jsonl");
        let config = Config {
            scenarios,
            record: Some(record.clone()),
        };
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("bind fake-anthropic");
        let addr = server.local_addr();
        tokio::spawn(server.run(std::future::pending()));
        Self {
            addr,
            record,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order: headers, body and what the fake decided (`fake`).
    pub(crate) fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("a record line is JSON"))
            .collect()
    }
}

impl Options {
    /// Runs the real runner (as `nobody`: it needs root) with no API retries and no side traffic, so that
    /// every request the CLI makes is one the test expects.
    pub(crate) fn real_sdk(self) -> Self {
        require_root();
        let runner_dir = repo().join("agent-runner");
        assert!(
            runner_dir
                .join("node_modules/@anthropic-ai/claude-agent-sdk")
                .exists(),
            "agent-runner/node_modules is missing: run `npm ci` in agent-runner/"
        );
        self.runner(&format!("node {}", runner_dir.join("run.mjs").display()))
            .arg("--grace")
            .arg("3s")
            .agent_env("CLAUDE_CODE_MAX_RETRIES=0")
            .agent_env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
    }

    /// Agents reach `model` directly (`ANTHROPIC_BASE_URL`), not through the supervisor's proxy.
    pub(crate) fn model(self, model: &FakeModel) -> Self {
        self.agent_env(&format!("ANTHROPIC_BASE_URL={}", model.url()))
    }

    /// `--agent-env NAME=VALUE`: a default of every agent's environment.
    pub(crate) fn agent_env(self, assignment: &str) -> Self {
        self.arg("--agent-env").arg(assignment)
    }
}

/// The scenarios of a three-turn conversation: `conv` answers each turn (turn 1 runs `first_command`, turn 2
/// another tool, each answer quoting its tool result); a request without the earlier turns gets `fresh`,
/// which answers `NOT RESUMED`.
pub(crate) fn conversation_scenarios(first_command: &str) -> Value {
    let bash = |command: &str| json!({"name": "Bash", "input": {"command": command, "description": "tool"}});
    json!({"default": "fresh", "scenarios": {
        "fresh": {"turns": [{"text": "NOT RESUMED"}]},
        "conv": {"turns": [
            {"text": "Turn 1: running a tool.", "toolUse": bash(first_command)},
            {"text": "ANSWER-ONE saw: {{tool_result}}"},
            {"text": "Turn 2: running a tool.", "toolUse": bash("echo tool-output-TWO")},
            {"text": "ANSWER-TWO saw: {{tool_result}}"},
            {"text": "ANSWER-THREE"}
        ]}
    }})
}
