//! Jobs' npm packages (issue 15) end to end: an agent version whose lockfile the real control plane pinned
//! with the real npm, installed by a real supervisor with `npm ci` from the real registry into its cache,
//! read-only for agents and visible to their Node and their shell.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{CP_KEY, ControlPlane, FakeModel, Options, Sup, eventually};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;

/// What the agent reports of its packages: `require` through `NODE_PATH`, a package's command on `PATH`,
/// and whether it could write into the shared tree.
fn probe() -> String {
    format!(
        r#"n=$(node -e "console.log(require('is-number')(5))" 2>&1); b=$(command -v semver); v=$(semver 1.2.3 2>&1)
if touch "$NODE_PATH/planted" 2>/dev/null || mkdir "$NODE_PATH/is-number/planted" 2>/dev/null; then w=yes; else w=no; fi
echo "{{\"type\":\"probe\",\"isNumber\":\"$n\",\"bin\":\"$b\",\"semver\":\"$v\",\"wrote\":\"$w\",\"nodePath\":\"$NODE_PATH\"}}"
echo '{SUCCESS}'"#
    )
}

fn puller(cp: &ControlPlane) -> Sup {
    Options::default()
        .runtime_id("rt-npm")
        .arg("--control-plane-url")
        .arg(&cp.url())
        .env("INTERNAL_API_KEY", CP_KEY)
        .start()
}

async fn run(cp: &ControlPlane, session: &str) -> Vec<Value> {
    cp.queue("counter", session, "count").await;
    let mut status = String::new();
    let done = eventually(Duration::from_secs(300), async || {
        status = cp.session(session).await["status"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        matches!(
            status.as_str(),
            "succeeded" | "failed" | "cancelled" | "timed_out" | "lost"
        )
    })
    .await;
    assert!(done, "{session} still {status}");
    let events = cp.events(session).await;
    assert_eq!(status, "succeeded", "{session}: {events:#?}");
    events
}

fn one<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["type"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}: {events:#?}");
    found[0]
}

/// The trees of the cache, without an interrupted install's directory.
fn trees(workspace: &Path) -> Vec<PathBuf> {
    let root = workspace.join("packages").join("npm");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_versions_packages_install_once_read_only_and_reach_node_and_the_shell() {
    let cp = ControlPlane::start().await;
    cp.put_agent(
        "counter",
        &json!({"env": {"CMD": probe()}, "packages": {"npm": ["is-number@7.0.0", "semver@7.6.3"]}}),
    )
    .await;
    let sup = puller(&cp);

    let cold = run(&cp, "s-cold").await;
    let installed = one(&cold, "packages.installed");
    assert_eq!(installed["data"]["cached"], false, "{installed}");
    let probe = one(&cold, "probe");
    assert_eq!(
        probe["data"]["isNumber"], "true",
        "require('is-number') through NODE_PATH: {probe}"
    );
    assert_eq!(
        probe["data"]["semver"], "1.2.3",
        "the package's command on PATH: {probe}"
    );
    assert_eq!(
        probe["data"]["wrote"], "no",
        "the agent cannot write into the shared tree: {probe}"
    );
    let node_modules = PathBuf::from(probe["data"]["nodePath"].as_str().unwrap());
    assert_eq!(
        probe["data"]["bin"].as_str().unwrap(),
        node_modules.join(".bin/semver").to_str().unwrap()
    );
    // The installing event came first: the control plane saw the claim taken before the agent started.
    let order: Vec<&str> = cold
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|t| t.starts_with("packages.") || *t == "session.started")
        .collect();
    assert_eq!(
        order,
        ["packages.installing", "packages.installed", "session.started"]
    );

    let warm = run(&cp, "s-cached").await;
    let again = one(&warm, "packages.installed");
    assert_eq!(again["data"]["cached"], true, "{again}");
    assert_eq!(
        again["data"]["lockfileSha256"],
        installed["data"]["lockfileSha256"]
    );
    assert_eq!(one(&warm, "probe")["data"]["isNumber"], "true");
    println!(
        "npm packages for is-number@7.0.0 + semver@7.6.3: cold install {} ms (npm ci), cached {} ms",
        installed["data"]["durationMs"], again["data"]["durationMs"]
    );

    // One tree, the supervisor's (root's), directories 0755 and files 0644, nothing planted in it.
    let trees = trees(&sup.workspace());
    let hash = installed["data"]["lockfileSha256"].as_str().unwrap();
    assert_eq!(trees, [sup.workspace().join("packages/npm").join(hash)]);
    assert_eq!(node_modules, trees[0].join("node_modules"));
    for (path, mode) in [
        (trees[0].clone(), 0o755),
        (node_modules.clone(), 0o755),
        (node_modules.join("is-number"), 0o755),
        (node_modules.join("is-number/index.js"), 0o644),
    ] {
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            meta.uid(),
            nix::unistd::Uid::effective().as_raw(),
            "{}",
            path.display()
        );
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{}", path.display());
    }
    assert!(!node_modules.join("planted").exists());
    drop(sup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockfile_that_cannot_install_fails_the_session_with_npms_error_and_the_next_one_retries() {
    let sup = Options::default().start();
    // A lockfile in sync with its specs whose tarball does not exist: npm resolves nothing here, it fetches.
    let lockfile = json!({
        "name": "agent-packages", "version": "0.0.0", "lockfileVersion": 3, "requires": true,
        "packages": {
            "": {"name": "agent-packages", "version": "0.0.0", "dependencies": {"is-number": "^7.0.0"}},
            "node_modules/is-number": {
                "version": "7.0.99",
                "resolved": "https://registry.npmjs.org/is-number/-/is-number-7.0.99.tgz"
            }
        }
    })
    .to_string();
    let packages = json!({"packages": {"npm": ["is-number@^7.0.0"], "lockfile": lockfile}});
    for session in ["s-bad-1", "s-bad-2"] {
        sup.run_cmd_with(session, &format!("echo '{SUCCESS}'"), packages.clone())
            .await;
        let finished = sup.wait_finished(session, Duration::from_secs(300)).await;
        assert_eq!(finished["status"], "failed", "{finished}");
        let error = finished["error"].as_str().unwrap();
        println!("{session}: {error}");
        assert!(
            error.starts_with("install npm packages: npm ci failed"),
            "{error}"
        );
        assert!(
            error.contains("404") && error.contains("is-number-7.0.99.tgz"),
            "npm's own error: {error}"
        );
        let events = sup.events(session).await;
        let failed = one(&events, "packages.failed");
        assert_eq!(failed["data"]["error"], error);
        assert!(
            events.iter().all(|e| e["type"] != "session.started"),
            "no agent ran"
        );
        // Nothing is left behind: the next session installs again.
        assert_eq!(trees(&sup.workspace()), Vec::<PathBuf>::new());
    }

    // A job's packages come with their lockfile: a runtime resolves none.
    let (status, answer) = sup
        .post(
            "/execute",
            &json!({"agentId": "test", "prompt": "p", "packages": {"npm": ["is-number@7.0.0"]}}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("packages.lockfile"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_one_lockfile_started_together_share_one_install() {
    // The control plane pins the lockfile; the sessions are posted straight to a supervisor, all at once.
    let cp = ControlPlane::start().await;
    cp.put_agent("pinned", &json!({"packages": {"npm": ["is-number@7.0.0"]}}))
        .await;
    let packages = cp.get("/api/v1/agents/pinned").await["packages"].clone();
    let sup = Options::default().arg("--max-sessions").arg("4").start();
    let cmd = format!(
        r#"echo "{{\"type\":\"probe\",\"isNumber\":\"$(node -e "console.log(require('is-number')(5))")\"}}"; echo '{SUCCESS}'"#
    );
    let ids = ["s-together-1", "s-together-2", "s-together-3"];
    futures_util::future::join_all(
        ids.iter()
            .map(|id| sup.run_cmd_with(id, &cmd, json!({"packages": packages.clone()}))),
    )
    .await;
    let mut cold = 0;
    for id in ids {
        let finished = sup.wait_finished(id, Duration::from_secs(300)).await;
        assert_eq!(finished["status"], "succeeded", "{finished}");
        let events = sup.events(id).await;
        assert_eq!(one(&events, "probe")["data"]["isNumber"], "true");
        let installed = one(&events, "packages.installed");
        println!(
            "{id}: cached {} after {} ms",
            installed["data"]["cached"], installed["data"]["durationMs"]
        );
        cold += usize::from(installed["data"]["cached"] == false);
    }
    assert_eq!(cold, 1, "one install, shared");
    assert_eq!(trees(&sup.workspace()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_refuses_fails_the_session_without_showing_its_credentials() {
    let sup = Options::default()
        .env(
            "SUPERVISOR_NPM_REGISTRY",
            "http://npm-user:s3cret-t0ken@127.0.0.1:9/",
        )
        .start();
    let lockfile = json!({
        "name": "agent-packages", "version": "0.0.0", "lockfileVersion": 3, "requires": true,
        "packages": {
            "": {"name": "agent-packages", "version": "0.0.0", "dependencies": {"is-number": "7.0.0"}},
            "node_modules/is-number": {
                "version": "7.0.0",
                "resolved": "http://npm-user:s3cret-t0ken@127.0.0.1:9/is-number/-/is-number-7.0.0.tgz"
            }
        }
    })
    .to_string();
    let packages = json!({"packages": {"npm": ["is-number@7.0.0"], "lockfile": lockfile}});
    // While npm retries, every user can read its command line: the credentials must not be on it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scan = std::thread::spawn({
        let done = done.clone();
        move || {
            let (mut saw_npm, mut leaked) = (false, Vec::new());
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    saw_npm |=
                        text.contains("npm") && text.contains(" ci ") && text.contains("--ignore-scripts");
                    if text.contains("s3cret-t0ken") {
                        leaked.push(text);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (saw_npm, leaked)
        }
    });
    sup.run_cmd_with("s-refused", &format!("echo '{SUCCESS}'"), packages)
        .await;
    let finished = sup.wait_finished("s-refused", Duration::from_secs(300)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (saw_npm, leaked) = scan.join().unwrap();
    assert!(saw_npm, "npm ci was seen running");
    assert!(leaked.is_empty(), "credentials on a command line: {leaked:?}");
    assert_eq!(finished["status"], "failed", "{finished}");
    let error = finished["error"].as_str().unwrap();
    println!("{error}");
    assert!(
        error.starts_with("install npm packages: npm ci failed"),
        "{error}"
    );
    assert!(
        error.contains("127.0.0.1:9"),
        "npm's error names where it failed: {error}"
    );
    let events = sup.events("s-refused").await;
    let everything = format!("{events:?}{}", sup.stderr());
    assert!(
        !everything.contains("s3cret-t0ken"),
        "the credentials leaked: {everything}"
    );
    assert!(!everything.contains("npm-user"), "the user leaked: {everything}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_sdks_bash_tool_requires_a_package_and_runs_its_command() {
    let cp = ControlPlane::start().await;
    cp.put_agent(
        "pinned",
        &json!({"packages": {"npm": ["is-number@7.0.0", "semver@7.6.3"]}}),
    )
    .await;
    let packages = cp.get("/api/v1/agents/pinned").await["packages"].clone();
    let command =
        r#"node -e "console.log('is-number-says-' + require('is-number')(5))" && semver -r '^7' 7.1.0"#;
    let model = FakeModel::scenarios(&json!({"default": "npm", "scenarios": {"npm": {"turns": [
        {"text": "Using the package.", "toolUse": {"name": "Bash", "input": {"command": command, "description": "probe"}}},
        {"text": "SAW: {{tool_result}}"}
    ]}}}))
    .await;
    let sup = Options::default().real_sdk().model(&model).start();
    let body = json!({
        "agentId": "sdk-npm", "sessionId": "s-sdk-npm", "prompt": "scenario:npm use the package",
        "env": {"ANTHROPIC_API_KEY": "sk-fake-key-for-tests"},
        "options": {"model": "claude-sonnet-4-5", "permissionMode": "default", "allowedTools": ["Bash"]},
        "packages": packages,
    });
    let (status, answer) = sup.post("/execute", &body).await;
    assert_eq!(status, 202, "{answer}");
    let session = sup.wait_finished("s-sdk-npm", Duration::from_secs(300)).await;
    let events = sup.events("s-sdk-npm").await;
    assert_eq!(session["status"], "succeeded", "{session}\n{events:#?}");
    let answer: String = events
        .iter()
        .filter(|e| e["type"] == "assistant")
        .flat_map(|e| {
            e["data"]["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| b["type"] == "text")
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        answer.contains("is-number-says-true") && answer.contains("7.1.0"),
        "the tool result: {answer}\n{events:#?}"
    );
}
