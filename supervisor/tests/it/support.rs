//! The test harness: a real `agent-supervisor` process (optionally PID 1 of a fresh PID namespace),
//! real child processes, and an HTTP client.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use control_plane::http::auth::{Auth, Secret};
use control_plane::server::{Application, ServerConfig};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const BIN: &str = env!("CARGO_BIN_EXE_agent-supervisor");

/// A runner that runs the `CMD` environment variable of the request with `sh`.
pub const SHELL_RUNNER: &str = r#"/bin/sh -c 'eval "$CMD"'"#;

pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Fails (never skips) when the test needs root: CI runs as root, and a skipped check proves nothing.
#[track_caller]
pub fn require_root() {
    assert!(
        is_root(),
        "this test needs root (PID namespaces, running agents as another user): run it as root"
    );
}

#[derive(Debug, Clone)]
pub struct Options {
    pub pid1: bool,
    pub runner: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub auth: bool,
    /// The supervisor's file-descriptor limit (`RLIMIT_NOFILE`), when the test sets one.
    pub nofile: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pid1: false,
            runner: SHELL_RUNNER.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            auth: false,
            nofile: None,
        }
    }
}

impl Options {
    pub fn pid1(mut self) -> Self {
        self.pid1 = true;
        self
    }

    pub fn runner(mut self, runner: &str) -> Self {
        self.runner = runner.to_owned();
        self
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the supervisor with this many file descriptors at most (through `prlimit`).
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    pub fn with_auth(mut self) -> Self {
        self.auth = true;
        self
    }

    pub fn start(self) -> Sup {
        Sup::start(self)
    }
}

/// A running supervisor.
pub struct Sup {
    child: Child,
    /// The supervisor's pid as seen from the test (inside a namespace it is 1 there).
    pub pid: u32,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub token: Option<String>,
    stderr: Arc<Mutex<String>>,
    pub client: reqwest::Client,
    exited: Option<std::process::ExitStatus>,
    options: Options,
}

impl Sup {
    pub fn start(options: Options) -> Self {
        Self::launch(options, true, None)
    }

    /// Kills this supervisor with SIGKILL (no shutdown at all) and starts a new one on the same state
    /// directory and workspace, with the same options.
    pub fn kill_and_restart(mut self) -> Sup {
        // The agents die with it, as they would with a crashed container's PID 1.
        for (pid, _) in descendants(self.pid) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::SIGKILL,
        );
        let _ = self.child.wait();
        self.exited = Some(std::process::ExitStatus::default());
        let options = self.options.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Self::launch(options, true, Some(dir))
    }

    /// Starts without `--no-auth` even when `options.auth` is off, so the supervisor generates a token.
    pub fn start_raw(options: Options) -> Self {
        Self::launch(options, false, None)
    }

    /// Like `start_raw`, on a directory the test prepared (`state/`, `workspace/` below it).
    pub fn start_raw_in(options: Options, dir: tempfile::TempDir) -> Self {
        Self::launch(options, false, Some(dir))
    }

    fn launch(options: Options, no_auth_flag: bool, dir: Option<tempfile::TempDir>) -> Self {
        let relaunch = options.clone();
        let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
        // The agent's user must be able to reach its working directory below this one.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut args: Vec<String> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--workspace".into(),
            dir.path().join("workspace").display().to_string(),
            "--state-dir".into(),
            dir.path().join("state").display().to_string(),
            "--runner".into(),
            options.runner.clone(),
            "--run-as".into(),
            "nobody".into(),
            "--runtime-id".into(),
            "rt-test".into(),
        ];
        let token = options.auth.then(|| "test-token-0123456789".to_owned());
        if !options.auth && no_auth_flag {
            args.push("--no-auth".into());
        }
        args.extend(options.args.iter().cloned());
        let mut command = if options.pid1 {
            require_root();
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", BIN]);
            c
        } else if let Some(limit) = options.nofile {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={limit}:{limit}")).arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        command
            .args(&args)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "debug")
            .env_remove("SUPERVISOR_TOKEN")
            .env_remove("ANTHROPIC_API_KEY")
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = &token {
            command.env("SUPERVISOR_TOKEN", token);
        }
        let mut child = command.spawn().expect("start agent-supervisor");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "listening"
                    && let Some(addr) = v["addr"].as_str()
                {
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().expect("listening addr"));
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("supervisor did not start:\n{}", stderr.lock().unwrap());
            }
        };
        let pid = if options.pid1 {
            inner_pid(child.id())
        } else {
            child.id()
        };
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            child,
            pid,
            addr,
            dir,
            token,
            stderr,
            client,
            exited: None,
            options: relaunch,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .auth(self.client.post(self.url(path)).json(body))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.auth(self.client.get(self.url(path))).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Starts a session running `cmd` with the shell runner; panics unless 202.
    pub async fn run_cmd(&self, session_id: &str, cmd: &str) {
        self.run_cmd_with(session_id, cmd, serde_json::json!({})).await;
    }

    /// Like `run_cmd`, with extra top-level request fields.
    pub async fn run_cmd_with(&self, session_id: &str, cmd: &str, extra: Value) {
        let mut body = serde_json::json!({
            "agentId": "test", "sessionId": session_id, "prompt": "run the command", "env": {"CMD": cmd}
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "env" {
                for (ek, ev) in v.as_object().unwrap() {
                    body["env"][ek] = ev.clone();
                }
            } else {
                body[k] = v.clone();
            }
        }
        let (status, answer) = self.post("/execute", &body).await;
        assert_eq!(status, 202, "POST /execute for {session_id}: {answer}");
    }

    pub async fn session(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/sessions/{id}")).await;
        assert_eq!(status, 200, "GET /sessions/{id}: {body}");
        body
    }

    /// Polls until the session is finished.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let session = self.session(id).await;
            let status = session["status"].as_str().unwrap_or_default();
            if !matches!(status, "pending" | "running") {
                return session;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} still {status} after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every event of a session, from the API.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let response = self
            .auth(self.client.get(self.url(&format!("/sessions/{id}/events"))))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        parse_ndjson(&response.text().await.unwrap())
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), signal)
            .expect("signal supervisor");
    }

    /// Waits for the supervisor (or `unshare`, which returns its PID 1's status) to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exited = Some(status);
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("supervisor did not exit within {timeout:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if self.exited.is_none() {
            // Outside a namespace nothing kills the agents with the supervisor: do it first, while they
            // are still its descendants (escapees included: it is their subreaper).
            for (pid, _) in descendants(self.pid) {
                let _ =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
            }
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid as i32),
                nix::sys::signal::SIGKILL,
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn parse_ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
        .collect()
}

/// Events of a session read straight from its local log file (valid records only).
pub fn events_on_disk(state_dir: &Path, id: &str) -> Vec<Value> {
    let data = std::fs::read(state_dir.join("sessions").join(format!("{id}.log"))).expect("read event log");
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let tab = line
                .iter()
                .rposition(|b| *b == b'\t')
                .expect("a record has a checksum");
            serde_json::from_slice(&line[..tab]).expect("a record is JSON")
        })
        .collect()
}

/// The texts of a session's `text` events (what the agent printed that was not JSON).
pub fn agent_texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["source"] == "agent" && e["type"] == "text")
        .map(|e| e["data"]["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The host pid of the process that `unshare --fork` started (PID 1 of the new namespace).
fn inner_pid(unshare: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "unshare did not start its child");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `(pid, ppid, state)` of every process on the host.
pub fn processes() -> Vec<(u32, u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: fields start after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state));
    }
    out
}

/// The processes below `root` (not including it), with their states.
pub fn descendants(root: u32) -> Vec<(u32, char)> {
    let all = processes();
    let mut children: HashMap<u32, Vec<(u32, char)>> = HashMap::new();
    for (pid, ppid, state) in &all {
        children.entry(*ppid).or_default().push((*pid, *state));
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for (child, state) in children.get(&pid).into_iter().flatten() {
            out.push((*child, *state));
            stack.push(*child);
        }
    }
    out
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// The control plane, in-process: what delivery tests ship to.

pub const CP_KEY: &str = "internal-key-0123456789";
pub const CP_TOKEN: &str = "api-token-0123456789";

/// `agentctl serve` in the test process, on its own SQLite file.
pub struct ControlPlane {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// The SQLite database file.
    pub db: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    pub async fn start_at(listen: SocketAddr, dir: tempfile::TempDir) -> Self {
        let db = dir.path().join("agentctl.db");
        let config = ServerConfig {
            listen,
            database_url: format!("sqlite://{}", db.display()),
            auth: Auth {
                internal_keys: vec![Secret::new(CP_KEY)],
                api_tokens: vec![Secret::new(CP_TOKEN)],
                disabled: false,
            },
            heartbeat_timeout: Duration::from_secs(30),
        };
        let app = Application::build(config).await.expect("start the control plane");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        let task = tokio::spawn(async move {
            app.run(async move { shutdown.cancelled().await })
                .await
                .expect("control plane ran");
        });
        Self {
            addr,
            stop,
            task,
            db,
            dir,
        }
    }

    pub async fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().unwrap(), tempfile::tempdir().unwrap()).await
    }

    /// Stops the server (SQLite checkpoints its WAL into the file) and hands back its directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.stop.cancel();
        let _ = self.task.await;
        self.dir
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        let client = reqwest::Client::new();
        let mut all = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = format!("http://{}/api/v1/sessions/{id}/events?limit=1000", self.addr);
            if let Some(after) = after {
                url.push_str(&format!("&after={after}"));
            }
            let response = client.get(url).bearer_auth(CP_TOKEN).send().await.unwrap();
            if response.status() == 404 {
                return all;
            }
            let page: Value = response.json().await.unwrap();
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return all;
            }
            after = events.last().unwrap()["seq"].as_u64();
            all.extend(events);
        }
    }

    /// Waits until the control plane holds as many events of `id` as the supervisor's local log.
    pub async fn wait_delivered(&self, sup_events: &[Value], id: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stored = self.events(id).await;
            if stored.len() >= sup_events.len() || Instant::now() > deadline {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Supervisor options that ship to the control plane at `cp`.
pub fn shipping_to(cp: SocketAddr) -> Options {
    Options::default()
        .arg("--control-plane-url")
        .arg(&format!("http://{cp}"))
        .env("INTERNAL_API_KEY", CP_KEY)
}

/// Runs the supervisor with `args` (after `--listen 127.0.0.1:0 --no-auth --run-as nobody`) until it exits on its own, for
/// configurations it must refuse; panics if it is still running after `timeout`.
pub fn run_to_exit(args: &[&str], timeout: Duration) -> (std::process::ExitStatus, String) {
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
        if let Some(status) = child.try_wait().unwrap() {
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
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}
