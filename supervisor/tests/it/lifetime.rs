//! Runtimes for one job (issue 15): `--max-jobs N` claims exactly N of the queued jobs and exits 0 once they
//! finished and every event was delivered; `--exit-when-idle` ends a runtime that held no session for that
//! long, never one that is busy. Real `agentctl serve` (embedded SQLite), real supervisors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{CP_KEY, ControlPlane, Options, Sup, events_on_disk};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;

/// 20 NDJSON lines, then a successful result.
fn emitter() -> String {
    format!(
        r#"i=1; while [ $i -le 20 ]; do echo "{{\"type\":\"line\",\"n\":$i}}"; i=$((i+1)); done; echo '{SUCCESS}'"#
    )
}

fn puller(cp: &ControlPlane, id: &str, extra: &[&str]) -> Sup {
    let mut options = Options::default()
        .runtime_id(id)
        .arg("--control-plane-url")
        .arg(&cp.url())
        .env("INTERNAL_API_KEY", CP_KEY);
    for arg in extra {
        options = options.arg(arg);
    }
    options.start()
}

async fn status(cp: &ControlPlane, session: &str) -> String {
    cp.session(session).await["status"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned()
}

fn started_on(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "session.started")
        .map(|e| e["data"]["runtimeId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The sessions of `ids` that are no longer queued, with their status.
async fn taken(cp: &ControlPlane, ids: &[String]) -> Vec<(String, String)> {
    let mut taken = Vec::new();
    for id in ids {
        let status = status(cp, id).await;
        if status != "queued" {
            taken.push((id.clone(), status));
        }
    }
    taken
}

/// Every event the runtime logged for `id` is at the control plane, as logged (seq, type, data).
async fn assert_all_delivered(cp: &ControlPlane, sup: &Sup, id: &str) {
    let local = events_on_disk(&sup.state_dir(), id);
    let stored = cp.events(id).await;
    let key = |e: &Value| (e["seq"].clone(), e["type"].clone(), e["data"].clone());
    assert_eq!(
        stored.iter().map(key).collect::<Vec<_>>(),
        local.iter().map(key).collect::<Vec<_>>(),
        "{id}: the control plane holds exactly what the runtime logged, at its exit"
    );
    assert!(local.iter().any(|e| e["type"] == "session.finished"), "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_with_max_jobs_takes_exactly_that_many_of_20_queued_and_exits_0_with_every_event_delivered()
{
    let cp = ControlPlane::start().await;
    cp.put_agent("emitter", &json!({"id": "emitter", "env": {"CMD": emitter()}}))
        .await;
    let ids: Vec<String> = (0..20).map(|i| format!("s-{i:02}")).collect();
    for id in &ids {
        cp.queue("emitter", id, "emit").await;
    }

    // Four free slots, one job: the claim asks for one.
    let mut once = puller(&cp, "rt-once", &["--max-jobs", "1", "--max-sessions", "4"]);
    let exit = once.wait_exit(Duration::from_secs(90));
    assert_eq!(exit.code(), Some(0), "{exit:?}\n{}", once.stderr());
    let first = taken(&cp, &ids).await;
    assert_eq!(first.len(), 1, "exactly one job taken: {first:?}");
    let (id, status) = &first[0];
    assert_eq!(status, "succeeded", "{id}");
    assert_eq!(started_on(&cp.events(id).await), ["rt-once"]);
    assert_all_delivered(&cp, &once, id).await;
    assert!(once.stderr().contains("--max-jobs reached"), "{}", once.stderr());

    // Three jobs on two slots: two claimed, then one more, never a fourth.
    let mut three = puller(&cp, "rt-three", &["--max-jobs", "3", "--max-sessions", "2"]);
    let exit = three.wait_exit(Duration::from_secs(90));
    assert_eq!(exit.code(), Some(0), "{exit:?}\n{}", three.stderr());
    let now = taken(&cp, &ids).await;
    assert_eq!(now.len(), 4, "one and three taken: {now:?}");
    for (id, status) in now.iter().filter(|(id, _)| id != &first[0].0) {
        assert_eq!(status, "succeeded", "{id}");
        assert_eq!(started_on(&cp.events(id).await), ["rt-three"], "{id}");
        assert_all_delivered(&cp, &three, id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_when_idle_ends_an_idle_runtime_with_0_and_waits_for_a_busy_ones_session() {
    let cp = ControlPlane::start().await;
    // Nothing queued: the runtime exits once it was idle that long from start-up.
    let mut idle = puller(&cp, "rt-idle", &["--exit-when-idle", "1s"]);
    let exit = idle.wait_exit(Duration::from_secs(30));
    assert_eq!(exit.code(), Some(0), "{exit:?}\n{}", idle.stderr());
    assert!(idle.stderr().contains("--exit-when-idle"), "{}", idle.stderr());

    // A session that runs well past the idle period keeps the runtime up; once it ends (succeeded, every
    // event delivered) the idle period runs out and the runtime exits.
    let wait = format!("while [ ! -e release ]; do sleep 0.05; done; echo '{SUCCESS}'");
    cp.put_agent("slow", &json!({"id": "slow", "env": {"CMD": wait}}))
        .await;
    cp.queue("slow", "s-slow", "wait").await;
    let mut busy = puller(&cp, "rt-busy", &["--exit-when-idle", "2s"]);
    assert!(
        crate::support::eventually(Duration::from_secs(30), async || status(&cp, "s-slow").await
            == "running")
        .await,
        "{}",
        busy.stderr()
    );
    // Three idle periods while the session runs: still serving, no final drain begun.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (code, health) = busy.get("/health").await;
    assert_eq!(
        code,
        200,
        "a busy runtime is not ended: {health}\n{}",
        busy.stderr()
    );
    assert!(!busy.stderr().contains("--exit-when-idle"), "{}", busy.stderr());
    std::fs::write(busy.workspace().join("sessions/s-slow/release"), "").unwrap();
    let exit = busy.wait_exit(Duration::from_secs(60));
    assert_eq!(exit.code(), Some(0), "{exit:?}\n{}", busy.stderr());
    assert_eq!(status(&cp, "s-slow").await, "succeeded", "{}", busy.stderr());
    assert_all_delivered(&cp, &busy, "s-slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_job_runtime_killed_during_its_job_recovers_it_claims_no_other_and_exits_0() {
    let cp = ControlPlane::start().await;
    let wait = format!("while [ ! -e release ]; do sleep 0.05; done; echo '{SUCCESS}'");
    cp.put_agent("waiter", &json!({"id": "waiter", "env": {"CMD": wait}}))
        .await;
    cp.queue("waiter", "s-first", "wait").await;
    let sup = puller(&cp, "rt-crash", &["--max-jobs", "1"]);
    assert!(
        crate::support::eventually(Duration::from_secs(30), async || status(&cp, "s-first").await
            == "running")
        .await
    );
    cp.queue("waiter", "s-second", "wait").await;
    // The container's PID 1 crashes; the pod restarts it on the same volumes (restartPolicy OnFailure).
    let mut again = sup.kill_and_restart();
    let exit = again.wait_exit(Duration::from_secs(60));
    assert_eq!(exit.code(), Some(0), "{exit:?}\n{}", again.stderr());
    assert_eq!(status(&cp, "s-first").await, "lost");
    assert_all_delivered(&cp, &again, "s-first").await;
    assert_eq!(
        status(&cp, "s-second").await,
        "queued",
        "the restarted runtime claimed no second job"
    );
}
