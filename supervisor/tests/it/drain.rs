//! The drain for scale-in (DESIGN.md §9): `POST /drain` and SIGTERM with `--drain-timeout`. A draining
//! runtime finishes what runs, admits and claims nothing new, says `draining` on `/health` and in its
//! heartbeats (the control plane lists it so), then shuts down and exits 0.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ControlPlane, Dispatcher, eventually, shipping_to};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;

/// A command that waits for a file `release` in its working directory, then succeeds.
fn until_released() -> String {
    format!("while [ ! -e release ]; do sleep 0.02; done; echo '{SUCCESS}'")
}

fn job(session: &str, cmd: &str) -> Value {
    json!({"agentId": "puller", "sessionId": session, "prompt": "run the command", "env": {"CMD": cmd}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_runtime_finishes_its_session_admits_and_claims_nothing_new_and_exits_0() {
    let cp = Dispatcher::start().await;
    let mut sup = cp.supervisor().arg("--drain-timeout").arg("60s").start();
    cp.queue(job("s-running", &until_released()));
    assert!(
        eventually(Duration::from_secs(10), async || sup
            .get("/sessions/s-running")
            .await
            .1["status"]
            == "running")
        .await
    );
    let (status, body) = sup.post("/drain", &json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (&body["status"], &body["sessions"]["running"]),
        (&json!("draining"), &json!(1))
    );
    let claims_at_drain = cp.claims().len();
    // Asking twice is fine.
    let (status, body) = sup.post("/drain", &json!({})).await;
    assert_eq!((status, &body["status"]), (202, &json!("draining")));

    let (status, health) = sup.get("/health").await;
    assert_eq!((status, &health["status"]), (503, &json!("draining")), "{health}");
    let (status, refused) = sup.post("/execute", &job("s-direct", "true")).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (503, &json!("draining")),
        "{refused}"
    );
    // The heartbeat says so at once, not at the next tick only.
    assert!(
        eventually(Duration::from_secs(4), async || cp
            .heartbeats()
            .iter()
            .any(|b| b["state"] == "draining"))
        .await,
        "{:?}",
        cp.heartbeats()
    );
    cp.queue(job("s-queued", "true"));

    std::fs::write(sup.workspace().join("sessions/s-running/release"), "").unwrap();
    let status = sup.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    assert_eq!(cp.finished("s-running").await["status"], "succeeded");
    assert_eq!(cp.queued(), 1, "nothing was claimed while draining");
    assert_eq!(
        cp.claims().len(),
        claims_at_drain,
        "no claim after the drain began"
    );
    assert!(cp.events("s-direct").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_lists_a_draining_runtime_as_draining() {
    let cp = ControlPlane::start().await;
    let mut sup = shipping_to(cp.addr)
        .arg("--no-pull")
        .arg("--label")
        .arg("pool=default")
        .arg("--max-sessions")
        .arg("4")
        .arg("--drain-timeout")
        .arg("60s")
        .start();
    sup.run_cmd("s-1", &until_released()).await;
    let runtime = async || -> Value {
        let list: Value = cp
            .public(reqwest::Method::GET, "/api/v1/runtimes")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["runtimes"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["runtimeId"] == "rt-test").cloned())
            .unwrap_or(Value::Null)
    };
    let mut listed = Value::Null;
    assert!(
        eventually(Duration::from_secs(15), async || {
            listed = runtime().await;
            listed["running"] == 1
        })
        .await,
        "{listed}"
    );
    assert_eq!(
        (&listed["state"], &listed["labels"], &listed["capacity"]),
        (&json!("active"), &json!({"pool": "default"}), &json!(4))
    );
    let (status, _) = sup.post("/drain", &json!({})).await;
    assert_eq!(status, 202);
    assert!(
        eventually(Duration::from_secs(10), async || {
            listed = runtime().await;
            listed["state"] == "draining"
        })
        .await,
        "{listed}"
    );
    assert_eq!(listed["running"], 1, "its session still runs: {listed}");
    std::fs::write(sup.workspace().join("sessions/s-1/release"), "").unwrap();
    let status = sup.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    assert_eq!(cp.session("s-1").await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_drain_timeout_drains_first_and_stops_what_outlives_it() {
    let mut sup = crate::support::Options::default()
        .arg("--drain-timeout")
        .arg("1s")
        .arg("--grace")
        .arg("1s")
        .start();
    sup.run_cmd("s-long", "sleep 60").await;
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    let mut health = Value::Null;
    assert!(
        eventually(Duration::from_secs(5), async || {
            health = sup.get("/health").await.1;
            health["status"] != "ok"
        })
        .await
    );
    assert_eq!(
        health["status"], "draining",
        "a drain first, not the shutdown: {health}"
    );
    assert_eq!(sup.session("s-long").await["status"], "running");
    let status = sup.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    assert!(
        sup.stderr()
            .contains("drain timeout: stopping the sessions still running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_without_a_drain_timeout_shuts_down_at_once() {
    let mut sup = crate::support::Options::default()
        .arg("--grace")
        .arg("1s")
        .start();
    sup.run_cmd("s-long", "sleep 60").await;
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
    assert!(!sup.stderr().contains("draining: no new sessions"));
}
