//! A real `agent-supervisor` process (optionally PID 1 of a fresh PID namespace) and an HTTP client for
//! its API.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{descendants, eventually, inner_pid, parse_ndjson, require_root, sigkill};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_agent-supervisor");

/// A runner that runs the `CMD` environment variable of the request with `sh`.
pub(crate) const SHELL_RUNNER: &str = r#"/bin/sh -c 'eval "$CMD"'"#;

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub pid1: bool,
    pub(crate) runner: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) auth: bool,
    /// The supervisor's file-descriptor limit (`RLIMIT_NOFILE`), when the test sets one.
    pub(crate) nofile: Option<u64>,
    /// `--runtime-id` (`rt-test` unless a test runs several supervisors against one control plane).
    pub(crate) runtime_id: String,
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
            runtime_id: "rt-test".to_owned(),
        }
    }
}

impl Options {
    pub(crate) fn pid1(mut self) -> Self {
        self.pid1 = true;
        self
    }

    pub(crate) fn runner(mut self, runner: &str) -> Self {
        self.runner = runner.to_owned();
        self
    }

    pub(crate) fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the supervisor with this many file descriptors at most (through `prlimit`).
    pub(crate) fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    pub(crate) fn runtime_id(mut self, id: &str) -> Self {
        self.runtime_id = id.to_owned();
        self
    }

    pub(crate) fn with_auth(mut self) -> Self {
        self.auth = true;
        self
    }

    pub(crate) fn start(self) -> Sup {
        Sup::start(self)
    }
}

/// Uids per supervisor of this test run: more than any test's `--max-sessions`.
pub(crate) const UIDS_PER_SUPERVISOR: u32 = 100;

/// A `--uid-range` no other supervisor of this test process (nor, most likely, of another one) uses.
pub(crate) fn next_uid_range() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = 1_000_000 + (std::process::id() % 1000) * 1_000_000 + n * UIDS_PER_SUPERVISOR;
    format!("{start}-{}", start + UIDS_PER_SUPERVISOR - 1)
}

/// A running supervisor.
pub(crate) struct Sup {
    child: Child,
    /// The supervisor's pid as seen from the test (inside a namespace it is 1 there).
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) token: Option<String>,
    stderr: Arc<Mutex<String>>,
    pub(crate) client: reqwest::Client,
    exited: Option<std::process::ExitStatus>,
    options: Options,
}

impl Sup {
    pub(crate) fn start(options: Options) -> Self {
        Self::launch(options, true, None)
    }

    /// Kills this supervisor with SIGKILL (no shutdown at all) and starts a new one on the same state
    /// directory and workspace, with the same options.
    pub(crate) fn kill_and_restart(mut self) -> Sup {
        self.kill_everything();
        let _ = self.child.wait();
        self.exited = Some(std::process::ExitStatus::default());
        let options = self.options.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        Self::launch(options, true, Some(dir))
    }

    /// `kill -9`: the supervisor and every process below it, as a crash of the container leaves them.
    pub(crate) fn kill(&mut self) {
        self.kill_everything();
        let _ = self.child.wait();
        self.exited = Some(std::process::ExitStatus::default());
    }

    /// Kills the supervisor and every process below it the way a crash of a container's PID 1 does: the
    /// supervisor sees none of its agents die. (The kernel kills a namespace's processes only after its
    /// PID 1 is gone; an agent killed first would be reaped by a live supervisor and its session finished
    /// `failed`, not left for the next one to find unfinished and end `lost`.) So the supervisor is
    /// stopped first: a stopped process runs no code, reaps nothing and writes nothing. Then everything
    /// below it is killed until only zombies are left (orphans stay below it: it is their subreaper or
    /// their PID 1), and then the supervisor itself.
    fn kill_everything(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGSTOP);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let running: Vec<u32> = descendants(self.pid)
                .into_iter()
                .filter(|(_, state)| *state != 'Z')
                .map(|(pid, _)| pid)
                .collect();
            // A process may fork between the listing and its kill: list again until none runs.
            if running.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in running {
                sigkill(pid);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        sigkill(self.pid);
    }

    /// Like `start`, on a directory the test prepared (e.g. a small file system mounted there).
    pub(crate) fn start_in(options: Options, dir: tempfile::TempDir) -> Self {
        Self::launch(options, true, Some(dir))
    }

    /// Starts without `--no-auth` even when `options.auth` is off, so the supervisor generates a token.
    pub(crate) fn start_raw(options: Options) -> Self {
        Self::launch(options, false, None)
    }

    /// Like `start_raw`, on a directory the test prepared (`state/`, `workspace/` below it).
    pub(crate) fn start_raw_in(options: Options, dir: tempfile::TempDir) -> Self {
        Self::launch(options, false, Some(dir))
    }

    fn launch(mut options: Options, no_auth_flag: bool, dir: Option<tempfile::TempDir>) -> Self {
        if !options.args.iter().any(|a| a == "--uid-range") {
            // Each supervisor kills every process of the uids it hands out: two of them must never share
            // one. A restart (`kill_and_restart`) keeps its range, as the same container would.
            options = options.arg("--uid-range").arg(&next_uid_range());
        }
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
            options.runtime_id.clone(),
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub(crate) fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    /// The first uid of its `--uid-range`.
    pub(crate) fn first_uid(&self) -> u32 {
        let at = self
            .options
            .args
            .iter()
            .position(|a| a == "--uid-range")
            .expect("a uid range");
        let range = &self.options.args[at + 1];
        range.split('-').next().unwrap().parse().unwrap()
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .auth(self.client.post(self.url(path)).json(body))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.auth(self.client.get(self.url(path))).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Starts a session running `cmd` with the shell runner; panics unless 202.
    pub(crate) async fn run_cmd(&self, session_id: &str, cmd: &str) {
        self.run_cmd_with(session_id, cmd, serde_json::json!({})).await;
    }

    /// Like `run_cmd`, with extra top-level request fields.
    pub(crate) async fn run_cmd_with(&self, session_id: &str, cmd: &str, extra: Value) {
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

    pub(crate) async fn session(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/sessions/{id}")).await;
        assert_eq!(status, 200, "GET /sessions/{id}: {body}");
        body
    }

    /// Waits until the session is finished and returns it.
    pub(crate) async fn wait_finished(&self, id: &str, timeout: Duration) -> Value {
        let mut session = Value::Null;
        let finished = eventually(timeout, async || {
            session = self.session(id).await;
            !matches!(session["status"].as_str(), Some("pending" | "running"))
        })
        .await;
        assert!(
            finished,
            "session {id} still {} after {timeout:?}",
            session["status"]
        );
        session
    }

    /// Every event of a session, from the API.
    pub(crate) async fn events(&self, id: &str) -> Vec<Value> {
        let response = self
            .auth(self.client.get(self.url(&format!("/sessions/{id}/events"))))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        parse_ndjson(&response.text().await.unwrap())
    }

    /// A counter or gauge of `GET /metrics` (`None` when it is not there).
    pub(crate) async fn metric(&self, name: &str) -> Option<u64> {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "GET /metrics: {body}");
        body.as_str()
            .expect("metrics are text")
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .map(|value| value.parse().expect("a metric is an integer"))
    }

    /// Whether the supervisor logged a line with this `message` for session `id`.
    pub(crate) fn logged(&self, message: &str, id: &str) -> bool {
        self.stderr()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|v| v["message"] == message && v["session_id"] == id)
    }

    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), signal)
            .expect("signal supervisor");
    }

    /// Waits for the supervisor (or `unshare`, which returns its PID 1's status) to exit.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
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
            // Outside a namespace nothing kills the agents with the supervisor: it is done here, while they
            // are still its descendants (escapees included: it is their subreaper).
            self.kill_everything();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
