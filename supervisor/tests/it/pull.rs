//! The pull loop (DESIGN.md §9) against the real control plane (`agentctl serve` in this process, through
//! a relay that records the claims where a test checks them): a claimed job runs like a `POST /execute`,
//! labels and capacity reach claims and heartbeats, a job that cannot start still ends as a session,
//! claims ask only for free slots, and cancels reach pulled sessions.
//!
//! Three tests use the stand-in control plane (`support::Dispatcher`) for what the real one never does:
//! hand out jobs it would have refused at `PUT`/queue (invalid, from a newer or older protocol), hand out
//! a job again while it runs, and answer every claim at once instead of long-polling.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ControlPlane, Dispatcher, Relay, Sup, eventually, shipping_to};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;
/// A secret of an agent, which must show nowhere.
const SECRET: &str = "sk-pulled-secret-0123456789";

/// A shell-runner command that runs `cmd`, then prints a successful result.
fn succeeding(cmd: &str) -> String {
    format!("{cmd}; echo '{SUCCESS}'")
}

/// A command that waits for a file `release` in its working directory.
const UNTIL_RELEASED: &str = "while [ ! -e release ]; do sleep 0.02; done";

/// Defines agent `id` (the shell runner runs its `CMD`) with `extra` fields of the definition.
async fn define(cp: &ControlPlane, id: &str, cmd: &str, extra: Value) {
    let mut body = json!({"id": id, "env": {"CMD": succeeding(cmd)}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    cp.put_agent(id, &body).await;
}

/// Queues session `session` of agent `agent`.
async fn queue(cp: &ControlPlane, agent: &str, session: &str) {
    cp.queue(agent, session, "run the command").await;
}

/// Waits until the control plane has `session` finished; answers it as the public API shows it.
async fn finished(cp: &ControlPlane, sup: &Sup, session: &str) -> Value {
    let mut shown = Value::Null;
    let done = eventually(Duration::from_secs(30), async || {
        shown = cp.session(session).await;
        shown["finishedAt"].is_string()
    })
    .await;
    assert!(done, "{session} did not finish: {shown}\n{}", sup.stderr());
    shown
}

async fn types(cp: &ControlPlane, session: &str) -> Vec<String> {
    cp.events(session)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The runtime `id` as `GET /api/v1/runtimes` lists it, once it has sent a heartbeat.
async fn listed_runtime(cp: &ControlPlane, id: &str) -> Value {
    let mut runtime = Value::Null;
    let listed = eventually(Duration::from_secs(15), async || {
        let list: Value = cp
            .public(reqwest::Method::GET, "/api/v1/runtimes")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        runtime = list["runtimes"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["runtimeId"] == id).cloned())
            .unwrap_or(Value::Null);
        !runtime.is_null()
    })
    .await;
    assert!(listed, "{id} is not listed");
    runtime
}

async fn running_on(sup: &Sup, session: &str) -> bool {
    eventually(Duration::from_secs(15), async || {
        sup.get(&format!("/sessions/{session}")).await.1["status"] == "running"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_job_runs_like_an_execute_and_is_shipped_with_labels_and_capacity_in_every_claim() {
    let cp = ControlPlane::start().await;
    // Only a runtime whose claims carry both labels may take it.
    define(
        &cp,
        "puller",
        "echo hello",
        json!({"runtimeSelector": {"pool": "gpu", "zone": "eu-1"}}),
    )
    .await;
    let relay = Relay::start(&cp.url()).await;
    let sup = shipping_to(relay.addr)
        .runtime_id("rt-labelled")
        .arg("--label")
        .arg("pool=gpu")
        .arg("--label")
        .arg("zone=eu-1")
        .arg("--max-sessions")
        .arg("3")
        .start();
    queue(&cp, "puller", "s-pulled").await;
    let shown = finished(&cp, &sup, "s-pulled").await;
    assert_eq!(shown["status"], "succeeded", "{shown}\n{}", sup.stderr());
    assert_eq!(
        types(&cp, "s-pulled").await,
        ["session.started", "text", "result", "session.finished"]
    );
    let session = sup.session("s-pulled").await;
    assert_eq!(
        (&session["agentId"], &session["status"]),
        (&json!("puller"), &json!("succeeded"))
    );
    let (_, first) = &relay.claims()[0];
    assert_eq!(
        first,
        &json!({"runtimeId": "rt-labelled", "labels": {"pool": "gpu", "zone": "eu-1"}, "free": 3, "waitSeconds": 30})
    );
    // The heartbeats, as the control plane lists the runtime.
    let runtime = listed_runtime(&cp, "rt-labelled").await;
    assert_eq!(
        (&runtime["labels"], &runtime["capacity"], &runtime["state"]),
        (
            &json!({"pool": "gpu", "zone": "eu-1"}),
            &json!(3),
            &json!("active")
        ),
        "{runtime}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_come_from_the_environment_as_a_comma_separated_list() {
    let cp = ControlPlane::start().await;
    define(
        &cp,
        "picky",
        "true",
        json!({"runtimeSelector": {"pool": "gpu", "zone": "eu-1"}}),
    )
    .await;
    let sup = shipping_to(cp.addr)
        .runtime_id("rt-env")
        .env("SUPERVISOR_LABELS", "pool=gpu,zone=eu-1")
        .start();
    queue(&cp, "picky", "s-picky").await;
    assert_eq!(finished(&cp, &sup, "s-picky").await["status"], "succeeded");
    let runtime = listed_runtime(&cp, "rt-env").await;
    assert_eq!(
        runtime["labels"],
        json!({"pool": "gpu", "zone": "eu-1"}),
        "{runtime}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_job_that_cannot_start_ends_failed_with_the_reason_and_its_secret_shows_nowhere() {
    let cp = ControlPlane::start().await;
    define(&cp, "keeper", "true", json!({"secrets": {"API_TOKEN": SECRET}})).await;
    let sup = shipping_to(cp.addr).runtime_id("rt-refusing").start();
    // A session directory left behind on this runtime: the job's files cannot be written fresh.
    std::fs::create_dir_all(sup.workspace().join("sessions/s-leftover")).unwrap();
    queue(&cp, "keeper", "s-leftover").await;
    let shown = finished(&cp, &sup, "s-leftover").await;
    assert_eq!(shown["status"], "failed", "{shown}");
    let error = shown["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the claimed job was refused") && error.contains("workspace of session s-leftover"),
        "{error}"
    );
    assert_eq!(
        types(&cp, "s-leftover").await,
        ["session.finished"],
        "nothing ran"
    );
    assert_eq!(sup.session("s-leftover").await["status"], "failed");
    let stored = serde_json::to_string(&cp.events("s-leftover").await).unwrap();
    assert!(
        !stored.contains(SECRET) && !shown.to_string().contains(SECRET),
        "{stored}"
    );
    assert!(!sup.stderr().contains(SECRET));
    // The runtime goes on claiming.
    queue(&cp, "keeper", "s-fine").await;
    assert_eq!(finished(&cp, &sup, "s-fine").await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_ask_only_for_free_slots_and_wait_for_a_session_to_finish() {
    let cp = ControlPlane::start().await;
    define(&cp, "waiter", UNTIL_RELEASED, json!({})).await;
    define(&cp, "quick", "true", json!({})).await;
    // Both queued before the runtime asks: a claim for more than its one free slot would take both.
    queue(&cp, "waiter", "s-first").await;
    queue(&cp, "quick", "s-second").await;
    let relay = Relay::start(&cp.url()).await;
    let sup = shipping_to(relay.addr)
        .runtime_id("rt-one-slot")
        .arg("--max-sessions")
        .arg("1")
        .start();
    assert!(running_on(&sup, "s-first").await, "{}", sup.stderr());
    let claims_while_full = relay.claims().len();
    let second = cp.session("s-second").await;
    assert_eq!(
        (&second["status"], &second["runtimeId"]),
        (&json!("queued"), &Value::Null),
        "one free slot, one job claimed: {second}"
    );
    std::fs::write(sup.workspace().join("sessions/s-first/release"), "").unwrap();
    assert_eq!(finished(&cp, &sup, "s-second").await["status"], "succeeded");
    let first = sup.session("s-first").await;
    let second = sup.session("s-second").await;
    assert!(
        first["finishedAt"].as_str() <= second["createdAt"].as_str(),
        "the second started only after the first finished: {first} {second}"
    );
    let claims = relay.claims();
    assert!(claims.iter().all(|(_, c)| c["free"] == 1), "{claims:?}");
    // While the only slot was held, no claim was sent (the claim that got the second job came after).
    assert_eq!(claims_while_full, 1, "{claims:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_the_control_plane_stops_a_pulled_session() {
    let cp = ControlPlane::start().await;
    define(&cp, "sleeper", "sleep 60", json!({})).await;
    let sup = shipping_to(cp.addr).runtime_id("rt-cancel").start();
    queue(&cp, "sleeper", "s-cancel").await;
    assert!(running_on(&sup, "s-cancel").await, "{}", sup.stderr());
    let response = cp
        .public(reqwest::Method::POST, "/api/v1/sessions/s-cancel/cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let shown = finished(&cp, &sup, "s-cancel").await;
    assert_eq!(shown["status"], "cancelled", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_labels_and_pull_without_a_control_plane_are_refused_at_start() {
    for (args, message) in [
        (vec!["--label", "pool"], "expected KEY=VALUE"),
        (vec!["--label", "pool=a b"], "the value may hold only"),
        (vec!["--label", "pool=a", "--label", "pool=b"], "given twice"),
        (vec!["--pull"], "no control plane to claim work from"),
        (vec!["--claim-wait", "60s"], "must be from 1s to 30s"),
        (vec!["--max-jobs", "1"], "--max-jobs: this runtime claims no jobs"),
        (vec!["--max-jobs", "0"], "--max-jobs"),
        (vec!["--exit-when-idle", "soon"], "--exit-when-idle"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(crate::support::BIN)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--no-auth",
                "--runner",
                "/bin/true",
                "--run-as",
                "nobody",
            ])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--workspace")
            .arg(dir.path().join("ws"))
            .args(&args)
            .env_remove("SUPERVISOR_LABELS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// A job for the shell runner, as the stand-in hands it out.
fn job(session: &str, cmd: &str) -> Value {
    json!({"agentId": "puller", "sessionId": session, "prompt": "run the command",
           "env": {"CMD": succeeding(cmd)}, "agentVersion": 2, "conversationId": session})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_the_real_control_plane_would_refuse_end_failed_with_the_reason_and_secrets_redacted() {
    let cp = Dispatcher::start().await;
    let sup = cp.supervisor().start();
    let mut empty_prompt = job("s-empty", "true");
    empty_prompt["prompt"] = json!("  ");
    // The reason quotes the path, and so the secret: only its redacted form may be stored.
    let mut escape = job("s-escape", "true");
    escape["files"] = json!([{"path": format!("../{SECRET}"), "content": "x"}]);
    escape["env"]["API_TOKEN"] = json!(SECRET);
    let mut unknown = job("s-unknown", "true");
    unknown["colour"] = json!("blue");
    unknown["env"]["API_TOKEN"] = json!(SECRET);
    let mut preload = job("s-preload", "true");
    preload["env"]["LD_PRELOAD"] = json!("/tmp/evil.so");
    for job in [empty_prompt, escape, unknown, preload] {
        cp.queue(job);
    }
    for (session, reason) in [
        ("s-empty", "prompt"),
        (
            "s-escape",
            "files[0].path: \"../[redacted:API_TOKEN]\" contains `..`",
        ),
        ("s-unknown", "colour: unknown field"),
        ("s-preload", "env.LD_PRELOAD"),
    ] {
        let finished = cp.finished(session).await;
        assert_eq!(finished["status"], "failed", "{session}: {finished}");
        let error = finished["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{session}: {error}");
        assert_eq!(cp.types(session), ["session.finished"], "{session}: nothing ran");
        let listed = sup.session(session).await;
        assert_eq!(listed["status"], "failed", "{session}: {listed}");
        let stored = serde_json::to_string(&cp.events(session)).unwrap();
        assert!(!stored.contains(SECRET), "{stored}");
    }
    assert!(!sup.stderr().contains(SECRET));
    // The runtime goes on claiming.
    cp.queue(job("s-fine", "true"));
    assert_eq!(cp.finished("s-fine").await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_handed_out_again_runs_once() {
    let cp = Dispatcher::start().await;
    let sup = cp.supervisor().start();
    let release = sup.workspace().join("sessions/s-twice/release");
    let waits = "while [ ! -e release ]; do sleep 0.02; done";
    cp.queue(job("s-twice", waits));
    assert!(
        eventually(Duration::from_secs(10), async || sup
            .get("/sessions/s-twice")
            .await
            .1["status"]
            == "running")
        .await
    );
    // The lease ran out before `session.started` arrived, say: the same job (its attempt changed) again.
    let mut again = job("s-twice", waits);
    again["agentVersion"] = json!(3);
    cp.queue(again);
    assert!(eventually(Duration::from_secs(10), async || cp.queued() == 0).await);
    std::fs::write(&release, "").unwrap();
    assert_eq!(cp.finished("s-twice").await["status"], "succeeded");
    let started = cp
        .types("s-twice")
        .iter()
        .filter(|t| *t == "session.started")
        .count();
    assert_eq!(started, 1);
    assert!(
        sup.stderr()
            .contains("claimed a session this runtime already has")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_that_answers_at_once_is_not_asked_in_a_spin() {
    let cp = Dispatcher::start().await;
    cp.answer_at_once();
    let sup = cp.supervisor().start();
    assert!(eventually(Duration::from_secs(10), async || !cp.claims().is_empty()).await);
    // No condition to wait for here: what is checked is how often it asks over a while. Asking again at
    // once after every empty answer would be thousands of claims; backing off after a few, a handful.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let claims = cp.claims().len();
    assert!(claims < 40, "{claims} claims in about 2 s");
    // And it still takes a job when one comes.
    cp.queue(job("s-late", "true"));
    assert_eq!(
        cp.finished("s-late").await["status"],
        "succeeded",
        "{}",
        sup.stderr()
    );
}
