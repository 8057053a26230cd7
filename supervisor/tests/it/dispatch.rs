//! Pull dispatch end to end (DESIGN.md §9, issue 11's "Prove it"): real supervisors claiming from real
//! `agentctl serve` replicas on one PostgreSQL. Sessions are queued through the public API of an agent
//! whose runner is the tests' NDJSON emitter (the shell runner).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::fixtures::{PgDb, admin_url};
use crate::support::{CP_KEY, ControlPlane, Options, Relay, Sup, eventually, free_addr, shipping_to};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;

/// The emitter: 20 NDJSON lines, then a successful result.
fn emitter() -> String {
    format!(
        r#"i=1; while [ $i -le 20 ]; do echo "{{\"type\":\"line\",\"n\":$i}}"; i=$((i+1)); done; echo '{SUCCESS}'"#
    )
}

/// Creates (or replaces) agent `id` running `cmd`, for runtimes matching `selector`.
async fn apply_agent(cp: &ControlPlane, id: &str, cmd: &str, selector: Value) {
    cp.put_agent(
        id,
        &json!({"id": id, "env": {"CMD": cmd}, "runtimeSelector": selector}),
    )
    .await;
}

/// Queues a session of agent `agent`.
async fn queue(cp: &ControlPlane, agent: &str, session: &str) {
    cp.queue(agent, session, "emit").await;
}

async fn status(cp: &ControlPlane, session: &str) -> String {
    cp.session(session).await["status"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned()
}

/// A supervisor claiming from `cp` as runtime `id`, with `extra` flags.
fn puller(cp: &str, id: &str, extra: &[&str]) -> Sup {
    let mut options = Options::default()
        .runtime_id(id)
        .arg("--control-plane-url")
        .arg(cp)
        .env("INTERNAL_API_KEY", CP_KEY);
    for arg in extra {
        options = options.arg(arg);
    }
    options.start()
}

fn started_on(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "session.started")
        .map(|e| e["data"]["runtimeId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_supervisors_on_two_replicas_run_300_queued_sessions_each_exactly_once() {
    let Some(admin) = admin_url() else { return };
    let db = PgDb::create(&admin);
    let a = ControlPlane::start_on(free_addr(), &db.url).await;
    let b = ControlPlane::start_on(free_addr(), &db.url).await;
    apply_agent(&a, "emitter", &emitter(), json!({})).await;
    let sups = [
        puller(&a.url(), "rt-1", &["--max-sessions", "8"]),
        puller(&a.url(), "rt-2", &["--max-sessions", "8"]),
        puller(&b.url(), "rt-3", &["--max-sessions", "8"]),
    ];
    let ids: Vec<String> = (0..300).map(|i| format!("s-{i:03}")).collect();
    for (i, id) in ids.iter().enumerate() {
        queue(if i % 2 == 0 { &a } else { &b }, "emitter", id).await;
    }
    let mut pending = ids.clone();
    let done = eventually(Duration::from_secs(300), async || {
        let mut still = Vec::new();
        for id in &pending {
            if status(&b, id).await != "succeeded" {
                still.push(id.clone());
            }
        }
        pending = still;
        pending.is_empty()
    })
    .await;
    assert!(done, "not finished: {:?}", &pending[..pending.len().min(10)]);
    let mut per_runtime: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let events = a.events(id).await;
        let started = started_on(&events);
        assert_eq!(started.len(), 1, "{id} started {started:?}");
        let lines = events.iter().filter(|e| e["type"] == "line").count();
        assert_eq!(lines, 20, "{id}: every line stored once");
        *per_runtime.entry(started[0].clone()).or_default() += 1;
    }
    // Every session ran on exactly one runtime, and each supervisor knows only its own.
    let mut listed = 0;
    for sup in &sups {
        listed += sup.get("/sessions").await.1["sessions"].as_array().unwrap().len();
    }
    assert_eq!(listed, 300, "{per_runtime:?}");
    assert_eq!(per_runtime.len(), 3, "all three pulled: {per_runtime:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_claimed_by_a_supervisor_killed_before_starting_it_runs_elsewhere() {
    let Some(admin) = admin_url() else { return };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start_on(free_addr(), &db.url).await;
    apply_agent(&cp, "emitter", &emitter(), json!({})).await;
    let relay = Relay::swallowing_jobs(&cp.url()).await;
    let mut doomed = puller(&relay.url(), "rt-doomed", &[]);
    queue(&cp, "emitter", "s-orphan").await;
    assert!(
        eventually(Duration::from_secs(20), async || !relay.swallowed().is_empty()).await,
        "{}",
        doomed.stderr()
    );
    // Claimed, never started: kill -9.
    doomed.kill();
    let _heir = puller(&cp.url(), "rt-heir", &[]);
    // The start lease (30 s) runs out, the job goes back to the queue and the other runtime runs it.
    assert!(
        eventually(Duration::from_secs(90), async || status(&cp, "s-orphan").await
            == "succeeded")
        .await,
        "{}",
        cp.session("s-orphan").await
    );
    assert_eq!(started_on(&cp.events("s-orphan").await), ["rt-heir"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_killed_while_running_a_pulled_session_leaves_it_lost() {
    let Some(admin) = admin_url() else { return };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start_with(free_addr(), &db.url, Duration::from_secs(2)).await;
    apply_agent(&cp, "sleeper", "sleep 600", json!({})).await;
    let mut sup = puller(&cp.url(), "rt-victim", &[]);
    queue(&cp, "sleeper", "s-victim").await;
    assert!(
        eventually(Duration::from_secs(20), async || status(&cp, "s-victim").await
            == "running")
        .await
    );
    sup.kill();
    assert!(
        eventually(Duration::from_secs(30), async || status(&cp, "s-victim").await
            == "lost")
        .await,
        "{}",
        cp.session("s-victim").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_for_pool_gpu_waits_for_such_a_runtime_and_runs_only_there() {
    let Some(admin) = admin_url() else { return };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start_on(free_addr(), &db.url).await;
    apply_agent(&cp, "trainer", &emitter(), json!({"pool": "gpu"})).await;
    apply_agent(&cp, "helper", &emitter(), json!({})).await;
    let cpu = puller(&cp.url(), "rt-cpu", &["--label", "pool=cpu"]);
    queue(&cp, "trainer", "s-gpu").await;
    queue(&cp, "helper", "s-any").await;
    // The CPU runtime runs what fits it, and leaves the GPU job queued.
    assert!(
        eventually(Duration::from_secs(20), async || status(&cp, "s-any").await
            == "succeeded")
        .await
    );
    assert_eq!(status(&cp, "s-gpu").await, "queued");
    assert!(cpu.get("/sessions/s-gpu").await.0 == 404);
    let _gpu = puller(&cp.url(), "rt-gpu", &["--label", "pool=gpu"]);
    assert!(
        eventually(Duration::from_secs(30), async || status(&cp, "s-gpu").await
            == "succeeded")
        .await
    );
    assert_eq!(started_on(&cp.events("s-gpu").await), ["rt-gpu"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_supervisor_finishes_its_session_while_another_takes_the_queue() {
    let Some(admin) = admin_url() else { return };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start_on(free_addr(), &db.url).await;
    let waits = format!("while [ ! -e release ]; do sleep 0.02; done; echo '{SUCCESS}'");
    apply_agent(&cp, "waiter", &waits, json!({})).await;
    apply_agent(&cp, "emitter", &emitter(), json!({})).await;
    let mut leaving = puller(&cp.url(), "rt-leaving", &["--drain-timeout", "60s"]);
    queue(&cp, "waiter", "s-held").await;
    assert!(
        eventually(Duration::from_secs(20), async || status(&cp, "s-held").await
            == "running")
        .await
    );
    let (code, _) = leaving.post("/drain", &json!({})).await;
    assert_eq!(code, 202);
    let listed_draining = eventually(Duration::from_secs(10), async || {
        let list: Value = cp
            .public(reqwest::Method::GET, "/api/v1/runtimes")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["runtimes"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r["runtimeId"] == "rt-leaving" && r["state"] == "draining")
        })
    })
    .await;
    assert!(listed_draining, "the control plane lists rt-leaving as draining");
    queue(&cp, "emitter", "s-next").await;
    let _staying = shipping_to(cp.addr).runtime_id("rt-staying").start();
    assert!(
        eventually(Duration::from_secs(30), async || status(&cp, "s-next").await
            == "succeeded")
        .await
    );
    assert_eq!(started_on(&cp.events("s-next").await), ["rt-staying"]);
    std::fs::write(leaving.workspace().join("sessions/s-held/release"), "").unwrap();
    let exit = leaving.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.code(), Some(0), "{}", leaving.stderr());
    assert_eq!(status(&cp, "s-held").await, "succeeded");
}
