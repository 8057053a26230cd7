//! An agent of the control plane, end to end (issue 11's first "Prove it"): a real `agentctl serve` process
//! (on SQLite, and on PostgreSQL), a real supervisor pulling from it, the real runner (`agent-runner/run.mjs` and the SDK's CLI)
//! and `fake-anthropic`. The agent is defined through the public API with a skill, a file, an env value and
//! a secret; a queued session of it runs on the pulling supervisor, and the secret is then looked for
//! everywhere the system keeps or shows anything.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::fixtures::{PgDb, admin_url};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(120);
const SKILL_BODY: &str = "SKILL-BODY-4411";
const FILE_CONTENT: &str = "FILE-CONTENT-5512";
const PLAIN: &str = "PLAIN-VALUE-3301";

/// The database `serve` keeps: a SQLite file in the test's directory, or a PostgreSQL database of its own.
pub(crate) enum Backend {
    Sqlite,
    Postgres(PgDb),
}

impl Backend {
    pub(crate) fn database_url(&self, dir: &Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", dir.join("agentctl.db").display()),
            Backend::Postgres(db) => db.url.clone(),
        }
    }

    /// Everything the database holds, as bytes: its files, or a dump of its rows.
    pub(crate) fn contents(&self, dir: &Path) -> Vec<(String, Vec<u8>)> {
        match self {
            Backend::Sqlite => {
                assert!(
                    dir.join("agentctl.db").exists(),
                    "no database file in {}",
                    dir.display()
                );
                files_below(dir)
                    .into_iter()
                    .map(|(path, bytes)| (path.display().to_string(), bytes))
                    .collect()
            }
            Backend::Postgres(db) => {
                let dump = Command::new("pg_dump")
                    .args(["--data-only", &db.url])
                    .output()
                    .expect("run pg_dump");
                assert!(
                    dump.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&dump.stderr)
                );
                vec![("pg_dump of the database".to_owned(), dump.stdout)]
            }
        }
    }
}

/// `agentctl serve` as a child process (the binary `cargo test --workspace` builds beside this test's),
/// with its log in a file; killed when dropped.
pub(crate) struct Serve {
    child: Child,
    pub(crate) url: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Serve {
    pub(crate) async fn start(dir: &Path, backend: &Backend) -> Self {
        let bin = agentctl_bin();
        let addr = free_addr();
        let log = dir.join("serve.log");
        let mut command = Command::new(&bin);
        if let Backend::Postgres(_) = backend {
            // On SQLite `serve` generates its key beside the database; PostgreSQL replicas need one given.
            command.env(
                "AGENTCTL_SECRETS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            );
        }
        let child = command
            .args(["serve", "--listen", &addr.to_string()])
            // Secrets through the environment, as `serve` requires; debug logs so a leak has every chance.
            .env("DATABASE_URL", backend.database_url(dir))
            .env("INTERNAL_API_KEY", CP_KEY)
            .env("AGENTCTL_API_TOKENS", CP_TOKEN)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("serve.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|err| panic!("start {}: {err}", bin.display()));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let serve = Self {
            child,
            url: format!("http://{addr}"),
            log,
            client,
        };
        let up = eventually(Duration::from_secs(30), async || {
            serve
                .client
                .get(format!("{}/health", serve.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "agentctl serve did not come up: {}", serve.log_text());
        serve
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A public-API request; panics unless it succeeds, and returns the answer's text.
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> String {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(CP_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        text
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        serde_json::from_str(&self.call(reqwest::Method::GET, path, None).await).unwrap()
    }

    /// Every stored event of a session, paged.
    pub(crate) async fn events(&self, id: &str) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let mut path = format!("/api/v1/sessions/{id}/events?limit=1000");
            if let Some(seq) = all.last().and_then(|e| e["seq"].as_u64()) {
                path.push_str(&format!("&after={seq}"));
            }
            let page = self.get(&path).await;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return all;
            }
            all.extend(events);
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agentctl_bin() -> PathBuf {
    // target/debug/deps/it-… → target/debug/agentctl
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("agentctl");
    assert!(
        bin.exists(),
        "{} is missing: `cargo build -p control-plane --bin agentctl` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// The model's part: load the skill, then print the file, the env value and the secret, then repeat what the
/// shell printed.
fn scenario() -> Value {
    json!({"turns": [
        {"text": "Loading the skill.", "toolUse": {"name": "Skill", "input": {"skill": "e2e-probe"}}},
        {"text": "Looking around.", "toolUse": {"name": "Bash", "input": {
            "command": "cat data/probe.txt; echo \"plain=$E2E_PLAIN\"; echo \"secret=$E2E_SECRET\"",
            "description": "Print the file and the environment"}}},
        {"text": "The shell printed:\n{{tool_result}}"}
    ]})
}

fn definition(secret: &str) -> Value {
    json!({
        "id": "e2e",
        "description": "Probes its context",
        "maxTurns": 8,
        "permissionMode": "bypassPermissions",
        "allowedTools": ["Bash", "Skill"],
        "skills": [{"name": "e2e-probe", "files": {"SKILL.md": format!(
            "---\nname: e2e-probe\ndescription: Probe skill of the agents e2e test. Use when asked to probe.\n---\n\n\
             # Probe\n\nAnswer with the word {SKILL_BODY}.\n")}}],
        "files": [{"path": "data/probe.txt", "content": format!("{FILE_CONTENT}\n"), "encoding": "utf8"}],
        "env": {"E2E_PLAIN": PLAIN},
        "secrets": {"E2E_SECRET": secret},
    })
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every file below `dir`, with its bytes.
pub(crate) fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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

/// The content blocks of every event of `kind` (`assistant`, `user`), flattened.
pub(crate) fn blocks(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .flat_map(|e| {
            e["data"]["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_session_of_an_agent_gets_its_skill_file_env_and_secret_and_the_secret_shows_nowhere() {
    prove(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgresql_too_the_agents_secret_reaches_it_and_shows_nowhere() {
    let Some(admin) = admin_url() else { return };
    prove(Backend::Postgres(PgDb::create(&admin))).await;
}

async fn prove(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path(), &backend).await;
    let model = FakeModel::scenarios(&scenario()).await;
    let sup = Options::default()
        .real_sdk()
        .model(&model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-the-e2e-test")
        .runtime_id("rt-e2e")
        .arg("--control-plane-url")
        .arg(&serve.url)
        .env("INTERNAL_API_KEY", CP_KEY)
        .start();
    let secret = format!("e2e-secret-{}", unique());

    let agent = serve
        .call(
            reqwest::Method::PUT,
            "/api/v1/agents/e2e",
            Some(&definition(&secret)),
        )
        .await;
    let agent: Value = serde_json::from_str(&agent).unwrap();
    assert_eq!(agent["version"], 1, "{agent}");
    assert_eq!(agent["secrets"]["E2E_SECRET"]["set"], true, "{agent}");
    let queued = serve
        .call(
            reqwest::Method::POST,
            "/api/v1/agents/e2e/sessions",
            Some(&json!({"prompt": "probe your context", "sessionId": "s-e2e"})),
        )
        .await;
    assert!(queued.contains("\"queued\""), "{queued}");

    let mut session = Value::Null;
    let finished = eventually(WAIT, async || {
        session = serve.get("/api/v1/sessions/s-e2e").await;
        !["queued", "pending", "running"].contains(&session["status"].as_str().unwrap_or("queued"))
    })
    .await;
    assert!(finished, "not finished: {session}\n{}", sup.stderr());
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    assert_eq!(session["agentVersion"], 1, "{session}");
    // The session's end is stored before its last events may be: wait for the final one.
    let mut events = Vec::new();
    let complete = eventually(WAIT, async || {
        events = serve.events("s-e2e").await;
        events.iter().any(|e| e["type"] == "session.finished")
    })
    .await;
    assert!(complete, "no session.finished stored: {events:#?}");
    let started = events.iter().find(|e| e["type"] == "session.started").unwrap();
    assert_eq!(
        started["data"]["runtimeId"], "rt-e2e",
        "ran on the pulling supervisor"
    );

    // The skill: the CLI listed it at start-up, the model called it, and its body reached the model.
    let init = events
        .iter()
        .find(|e| e["type"] == "system" && e["data"]["subtype"] == "init")
        .expect("the SDK's init event");
    assert!(init["data"]["skills"].to_string().contains("e2e-probe"), "{init}");
    let calls = blocks(&events, "assistant");
    assert!(
        calls
            .iter()
            .any(|b| b["type"] == "tool_use" && b["name"] == "Skill"),
        "no Skill call: {events:#?}"
    );
    let requests = model.requests();
    assert!(
        requests
            .iter()
            .any(|r| r["body"]["messages"].to_string().contains(SKILL_BODY)),
        "the skill's body never reached the model"
    );

    // The file, the env value and the secret reached the agent: the shell printed them. The model got the
    // output as the CLI sent it (both values in clear: proof that they reached the agent); the stored
    // events have both redacted (DESIGN §2: every `env` value of 8 characters or more is, like a secret).
    for value in [PLAIN, secret.as_str()] {
        assert!(
            requests
                .iter()
                .any(|r| r["body"]["messages"].to_string().contains(value)),
            "{value} never reached the agent's shell"
        );
    }
    let results = blocks(&events, "user")
        .into_iter()
        .filter(|b| b["type"] == "tool_result");
    let printed: String = results.map(|b| b["content"].to_string()).collect();
    assert!(printed.contains(FILE_CONTENT), "the file: {printed}");
    assert!(
        printed.contains("plain=[redacted:E2E_PLAIN]"),
        "the env value: {printed}"
    );
    assert!(
        printed.contains("secret=[redacted:E2E_SECRET]"),
        "the secret: {printed}"
    );

    // Nowhere in clear: no stored event, no API answer, no log, no metric, no file of either side.
    for event in &events {
        assert!(!event.to_string().contains(&secret), "in a stored event: {event}");
    }
    let mut answers = Vec::new();
    for path in [
        "/api/v1/agents/e2e",
        "/api/v1/agents/e2e?version=1",
        "/api/v1/agents",
        "/api/v1/agents/e2e/versions",
        "/api/v1/sessions/s-e2e",
        "/api/v1/sessions",
        "/api/v1/conversations/s-e2e",
        "/api/v1/runtimes",
        "/metrics",
    ] {
        let answer = serve.call(reqwest::Method::GET, path, None).await;
        assert!(!answer.contains(&secret), "in the answer of GET {path}: {answer}");
        answers.push(answer);
    }
    assert!(answers[0].contains("\"set\":true"), "{}", answers[0]);
    let (_, metrics) = sup.get("/metrics").await;
    assert!(
        !metrics.to_string().contains(&secret),
        "in the supervisor's /metrics"
    );
    let (_, local) = sup.get("/sessions/s-e2e").await;
    assert!(
        !local.to_string().contains(&secret),
        "in the supervisor's session"
    );
    for (path, bytes) in files_below(&sup.state_dir()) {
        assert!(!contains(&bytes, &secret), "in {}", path.display());
    }
    assert!(!sup.stderr().contains(&secret), "in the supervisor's log");
    drop(sup);
    drop(serve);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(!log.is_empty(), "serve logged nothing: the check proves nothing");
    for (path, bytes) in files_below(dir.path()) {
        assert!(!contains(&bytes, &secret), "in {}", path.display());
    }
    let mut checked = 0;
    for (what, bytes) in backend.contents(dir.path()) {
        checked += bytes.len();
        assert!(!contains(&bytes, &secret), "in {what}");
    }
    // The rows are there (an empty dump would prove nothing): the tool output, redacted.
    let all: Vec<u8> = backend
        .contents(dir.path())
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert!(
        checked > 0 && contains(&all, FILE_CONTENT),
        "the database holds no events"
    );
}

/// A value unique to this run, so no earlier run's leftovers can satisfy or fail the check.
pub(crate) fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}
