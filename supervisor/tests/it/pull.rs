//! The pull loop (DESIGN.md §9) against a stand-in control plane (`support::Dispatcher`): a claimed job
//! runs like a `POST /execute`, claims ask only for free slots, a job that cannot start still ends as a
//! session, a job handed out twice runs once, and cancels reach pulled sessions.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Dispatcher, eventually};

const SUCCESS: &str =
    r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done"}"#;

/// A job for the shell runner that prints a successful result after `cmd`.
fn job(session: &str, cmd: &str) -> Value {
    json!({"agentId": "puller", "sessionId": session, "prompt": "run the command",
           "env": {"CMD": format!("{cmd}; echo '{SUCCESS}'")}, "agentVersion": 2, "conversationId": session})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_job_runs_like_an_execute_and_is_shipped_with_labels_and_capacity_in_every_claim() {
    let cp = Dispatcher::start().await;
    let sup = cp
        .supervisor()
        .arg("--label")
        .arg("pool=gpu")
        .arg("--label")
        .arg("zone=eu-1")
        .arg("--max-sessions")
        .arg("3")
        .start();
    cp.queue(job("s-pulled", "echo hello"));
    let finished = cp.finished("s-pulled").await;
    assert_eq!(finished["status"], "succeeded", "{finished}\n{}", sup.stderr());
    assert_eq!(
        cp.types("s-pulled"),
        ["session.started", "text", "result", "session.finished"]
    );
    let session = sup.session("s-pulled").await;
    assert_eq!(
        (&session["agentId"], &session["status"]),
        (&json!("puller"), &json!("succeeded"))
    );
    let (_, first) = &cp.claims()[0];
    assert_eq!(
        first,
        &json!({"runtimeId": "rt-test", "labels": {"pool": "gpu", "zone": "eu-1"}, "free": 3, "waitSeconds": 30})
    );
    let mut beat = Value::Null;
    assert!(
        eventually(Duration::from_secs(15), async || {
            beat = cp.heartbeats().last().cloned().unwrap_or(Value::Null);
            !beat.is_null()
        })
        .await
    );
    assert_eq!(
        (&beat["labels"], &beat["capacity"], &beat["state"]),
        (
            &json!({"pool": "gpu", "zone": "eu-1"}),
            &json!(3),
            &json!("active")
        ),
        "{beat}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_come_from_the_environment_as_a_comma_separated_list() {
    let cp = Dispatcher::start().await;
    let sup = cp
        .supervisor()
        .env("SUPERVISOR_LABELS", "pool=gpu,zone=eu-1")
        .start();
    assert!(
        eventually(Duration::from_secs(10), async || !cp.claims().is_empty()).await,
        "{}",
        sup.stderr()
    );
    assert_eq!(cp.claims()[0].1["labels"], json!({"pool": "gpu", "zone": "eu-1"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_jobs_that_cannot_start_end_failed_with_the_reason_in_their_events() {
    let cp = Dispatcher::start().await;
    let sup = cp.supervisor().start();
    let mut empty_prompt = job("s-empty", "true");
    empty_prompt["prompt"] = json!("  ");
    let mut escape = job("s-escape", "true");
    escape["files"] = json!([{"path": "../outside.txt", "content": "x"}]);
    let mut unknown = job("s-unknown", "true");
    unknown["colour"] = json!("blue");
    unknown["env"]["API_TOKEN"] = json!("sk-pulled-secret-0123456789");
    let mut preload = job("s-preload", "true");
    preload["env"]["LD_PRELOAD"] = json!("/tmp/evil.so");
    for job in [empty_prompt, escape, unknown, preload] {
        cp.queue(job);
    }
    for (session, reason) in [
        ("s-empty", "prompt"),
        ("s-escape", "files[0].path"),
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
    }
    let stored = serde_json::to_string(&cp.events("s-unknown")).unwrap();
    assert!(!stored.contains("sk-pulled-secret"), "{stored}");
    assert!(!sup.stderr().contains("sk-pulled-secret"));
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
async fn claims_ask_only_for_free_slots_and_wait_for_a_session_to_finish() {
    let cp = Dispatcher::start().await;
    let sup = cp.supervisor().arg("--max-sessions").arg("1").start();
    let waits = "while [ ! -e release ]; do sleep 0.02; done";
    cp.queue(job("s-first", waits));
    cp.queue(job("s-second", "true"));
    assert!(
        eventually(Duration::from_secs(10), async || sup
            .get("/sessions/s-first")
            .await
            .1["status"]
            == "running")
        .await
    );
    let claims_while_full = cp.claims().len();
    assert_eq!(cp.queued(), 1, "one free slot, one job claimed");
    std::fs::write(sup.workspace().join("sessions/s-first/release"), "").unwrap();
    assert_eq!(cp.finished("s-second").await["status"], "succeeded");
    let first = sup.session("s-first").await;
    let second = sup.session("s-second").await;
    assert!(
        first["finishedAt"].as_str() <= second["createdAt"].as_str(),
        "the second started only after the first finished: {first} {second}"
    );
    let claims = cp.claims();
    assert!(claims.iter().all(|(_, c)| c["free"] == 1), "{claims:?}");
    // While the only slot was held, no claim was sent (the claim that got the second job came after).
    assert_eq!(claims_while_full, 1, "{claims:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_the_control_plane_stops_a_pulled_session() {
    let cp = Dispatcher::start().await;
    let sup = cp.supervisor().start();
    cp.queue(job("s-cancel", "sleep 60"));
    assert!(
        eventually(Duration::from_secs(10), async || sup
            .get("/sessions/s-cancel")
            .await
            .1["status"]
            == "running")
        .await
    );
    cp.command(json!({"type": "cancel", "sessionId": "s-cancel"}));
    let finished = cp.finished("s-cancel").await;
    assert_eq!(finished["status"], "cancelled", "{finished}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_labels_and_pull_without_a_control_plane_are_refused_at_start() {
    for (args, message) in [
        (vec!["--label", "pool"], "expected KEY=VALUE"),
        (vec!["--label", "pool=a b"], "the value may hold only"),
        (vec!["--label", "pool=a", "--label", "pool=b"], "given twice"),
        (vec!["--pull"], "no control plane to claim work from"),
        (vec!["--claim-wait", "60s"], "must be from 1s to 30s"),
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
