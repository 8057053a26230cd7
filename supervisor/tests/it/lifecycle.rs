//! A session's life: how its status, exit and error are decided, cancel, timeouts, limits, idempotency,
//! its files and environment, and secret redaction.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(20);
const SUCCESS: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.0123,"result":"all done"}"#;

fn finished_event(events: &[Value]) -> &Value {
    let last = events.last().expect("events");
    assert_eq!(
        last["type"], "session.finished",
        "the last event is session.finished: {last}"
    );
    &last["data"]
}

#[tokio::test]
async fn a_success_result_and_exit_zero_is_succeeded_with_turns_and_cost() {
    let sup = Options::default().start();
    sup.run_cmd(
        "s-ok",
        &format!("echo '{{\"type\":\"system\",\"subtype\":\"init\"}}'; echo '{SUCCESS}'"),
    )
    .await;
    let session = sup.wait_finished("s-ok", WAIT).await;
    assert_eq!(session["status"], "succeeded", "{session}");
    assert_eq!(
        (session["exitCode"].clone(), session["numTurns"].clone()),
        (json!(0), json!(2))
    );
    assert_eq!(session["totalCostUsd"], 0.0123);
    let events = sup.events("s-ok").await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["session.started", "system", "result", "session.finished"]);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert_eq!(session["lastSeq"], 3);
    assert_eq!(events[0]["data"]["runtimeId"], "rt-test");
    assert_eq!(events[0]["data"]["pid"], session["pid"]);
    // SDK messages are stored unchanged.
    assert_eq!(events[2]["data"], serde_json::from_str::<Value>(SUCCESS).unwrap());
    let finished = finished_event(&events);
    assert_eq!(
        (finished["status"].clone(), finished["numTurns"].clone()),
        (json!("succeeded"), json!(2))
    );
}

#[tokio::test]
async fn failures_are_told_apart() {
    let sup = Options::default().start();
    let cases = [
        // (session, command, exit code, error contains)
        (
            "s-err-result",
            r#"echo '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":3,"errors":["reached max turns"]}'; exit 1"#,
            1,
            "error_max_turns: reached max turns",
        ),
        (
            "s-is-error",
            r#"echo '{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401 invalid x-api-key"}'; exit 0"#,
            0,
            "API Error: 401",
        ),
        (
            "s-no-result",
            r#"echo '{"type":"system"}'; exit 0"#,
            0,
            "without a result message",
        ),
        (
            "s-bad-exit",
            &format!("echo '{SUCCESS}'; exit 2"),
            2,
            "exited with code 2 after a successful result",
        ),
        (
            "s-early-death",
            "echo 'Error: Invalid API key' >&2; exit 3",
            3,
            "before printing any SDK message: Error: Invalid API key",
        ),
    ];
    for (id, cmd, _, _) in &cases {
        sup.run_cmd(id, cmd).await;
    }
    for (id, _, code, error) in cases {
        let session = sup.wait_finished(id, WAIT).await;
        assert_eq!(session["status"], "failed", "{id}: {session}");
        assert_eq!(session["exitCode"], code, "{id}");
        let message = session["error"].as_str().unwrap();
        assert!(
            message.contains(error),
            "{id}: error {message:?} should contain {error:?}"
        );
    }
    let events = sup.events("s-early-death").await;
    assert_eq!(finished_event(&events)["stderrTail"], "Error: Invalid API key");
    let events = sup.events("s-err-result").await;
    assert_eq!(finished_event(&events)["numTurns"], 3);
}

#[tokio::test]
async fn cancel_stops_a_running_agent() {
    let sup = Options::default().arg("--grace").arg("5s").start();
    sup.run_cmd("s-cancel", r#"echo '{"type":"system"}'; exec sleep 100"#)
        .await;
    let started = async || log_contains(&sup.state_dir(), "s-cancel", r#""system""#);
    assert!(
        eventually(WAIT, started).await,
        "the agent printed its first message"
    );
    let (status, body) = sup.post("/sessions/s-cancel/cancel", &json!({})).await;
    assert_eq!(
        (status, body["status"].clone()),
        (202, json!("cancelling")),
        "{body}"
    );
    let session = sup.wait_finished("s-cancel", WAIT).await;
    assert_eq!(session["status"], "cancelled");
    assert_eq!(session["signal"], "SIGTERM");
    let kinds: Vec<String> = sup
        .events("s-cancel")
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"session.cancel_requested".to_owned()),
        "{kinds:?}"
    );
    // Cancelling a finished session answers with its final status.
    let (status, body) = sup.post("/sessions/s-cancel/cancel", &json!({})).await;
    assert_eq!((status, body["status"].clone()), (200, json!("cancelled")));
}

#[tokio::test]
async fn a_session_past_its_timeout_is_timed_out() {
    let sup = Options::default().arg("--grace").arg("1s").start();
    sup.run_cmd_with(
        "s-slow",
        "trap '' TERM; while :; do sleep 0.1; done",
        json!({"timeoutSeconds": 1}),
    )
    .await;
    let session = sup.wait_finished("s-slow", WAIT).await;
    assert_eq!(session["status"], "timed_out", "{session}");
    // It ignored SIGTERM, so SIGKILL after --grace ended it.
    assert_eq!(session["signal"], "SIGKILL");
    assert_eq!(session["error"], "session timed out after 1s");
}

#[tokio::test]
async fn an_agent_alive_long_after_its_result_is_stopped() {
    let sup = Options::default().arg("--after-result-grace").arg("1s").start();
    sup.run_cmd("s-lingers", &format!("echo '{SUCCESS}'; exec sleep 100"))
        .await;
    let session = sup.wait_finished("s-lingers", WAIT).await;
    // Its work was done and reported as a success: the hang after it is a note, not a failure.
    assert_eq!(session["status"], "succeeded", "{session}");
    assert_eq!(session["signal"], "SIGTERM");
    assert!(
        session["error"]
            .as_str()
            .unwrap()
            .contains("still running 1s after its successful result")
    );
}

#[tokio::test]
async fn leftover_processes_of_a_finished_session_are_killed() {
    let sup = Options::default().start();
    // The agent exits at once but leaves a background process holding its stdout.
    sup.run_cmd("s-bg", &format!("sleep 60 & echo '{SUCCESS}'")).await;
    let session = sup.wait_finished("s-bg", WAIT).await;
    assert_eq!(session["status"], "succeeded", "{session}");
    let pid = session["pid"].as_u64().unwrap() as u32;
    let gone = eventually(WAIT, async || {
        processes().iter().all(|(p, _, _)| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| {
                    s.rsplit(')').next().unwrap_or("").split_whitespace().nth(2) != Some(&pid.to_string())
                })
                .unwrap_or(true)
        })
    })
    .await;
    assert!(gone, "no process of the session's group is left");
}

#[tokio::test]
async fn max_sessions_answers_429_with_retry_after() {
    let sup = Options::default().arg("--max-sessions").arg("1").start();
    sup.run_cmd("s-busy", "exec sleep 100").await;
    let body = json!({"agentId": "a", "sessionId": "s-next", "prompt": "p", "env": {"CMD": "true"}});
    let response = sup
        .client
        .post(sup.url("/execute"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "5");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_sessions");
    sup.post("/sessions/s-busy/cancel", &json!({})).await;
    sup.wait_finished("s-busy", WAIT).await;
    assert_eq!(sup.post("/execute", &body).await.0, 202, "a slot is free again");
}

#[tokio::test]
async fn retrying_execute_is_idempotent_and_a_different_body_conflicts() {
    let sup = Options::default().start();
    let body = json!({"agentId": "a", "sessionId": "s-idem", "prompt": "p", "env": {"CMD": "echo once >> \"$HOME/count\"; exec sleep 100"}});
    assert_eq!(sup.post("/execute", &body).await.0, 202);
    let (status, again) = sup.post("/execute", &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["sessionId"], "s-idem");
    assert!(
        matches!(again["status"].as_str(), Some("running" | "pending")),
        "{again}"
    );
    let mut different = body.clone();
    different["prompt"] = json!("something else");
    let (status, conflict) = sup.post("/execute", &different).await;
    assert_eq!(
        (status, conflict["error"]["code"].clone()),
        (409, json!("conflict"))
    );
    let (_, sessions) = sup.get("/sessions").await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    let count = sup.workspace().join("homes/s-idem/count");
    let counted = async || std::fs::read_to_string(&count).is_ok_and(|c| c.ends_with('\n'));
    assert!(eventually(WAIT, counted).await, "the agent wrote its count");
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "once\n", "started once");
}

#[tokio::test]
async fn sessions_are_listed_newest_first() {
    let sup = Options::default().start();
    for id in ["s-1", "s-2", "s-3"] {
        sup.run_cmd(id, "true").await;
    }
    let (_, body) = sup.get("/sessions").await;
    let ids: Vec<&str> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s-3", "s-2", "s-1"]);
}

#[tokio::test]
async fn files_skills_and_environment_reach_the_agent() {
    require_root();
    let sup = Options::default()
        .arg("--agent-env")
        .arg("FROM_DEFAULTS=d")
        .arg("--agent-env")
        .arg("OVERRIDDEN=default")
        .start();
    let cmd = r#"cat input/data.csv; cat input/bin.dat; cat .claude/skills/report/SKILL.md; [ -x .claude/skills/report/run.sh ] && echo exec-ok; stat -c '%u %a' . input/data.csv "$HOME"; echo "pwd=$PWD home=$HOME"; echo "env=$FROM_DEFAULTS,$OVERRIDDEN,$FROM_REQUEST"; env | cut -d= -f1 | sort | tr '\n' ' '"#;
    let extra = json!({
        "env": {"OVERRIDDEN": "request", "FROM_REQUEST": "r"},
        "files": [{"path": "input/data.csv", "content": "a,b\n1,2\n"},
                  {"path": "input/bin.dat", "content": "aGVsbG8gYmFzZTY0Cg==", "encoding": "base64"}],
        "skills": [{"name": "report", "files": {"SKILL.md": "---\nname: report\n---\nWrite reports.\n", "run.sh": "#!/bin/sh\necho hi\n"}}]
    });
    sup.run_cmd_with("s-files", cmd, extra).await;
    let session = sup.wait_finished("s-files", WAIT).await;
    assert_eq!(session["exitCode"], 0, "{session}");
    let texts = agent_texts(&sup.events("s-files").await);
    let ws = sup.workspace();
    let expected = [
        "a,b".to_owned(),
        "1,2".to_owned(),
        "hello base64".to_owned(),
        "---".to_owned(),
        "name: report".to_owned(),
        "---".to_owned(),
        "Write reports.".to_owned(),
        "exec-ok".to_owned(),
        format!("{} 700", sup.first_uid()),
        format!("{} 644", sup.first_uid()),
        format!("{} 700", sup.first_uid()),
        format!(
            "pwd={} home={}",
            ws.join("sessions/s-files").display(),
            ws.join("homes/s-files").display()
        ),
        "env=d,request,r".to_owned(),
    ];
    assert_eq!(&texts[..expected.len()], &expected, "{texts:#?}");
    // Nothing of the supervisor's own environment reached the agent.
    let names = texts.last().unwrap();
    assert_eq!(
        names.trim(),
        "CMD FROM_DEFAULTS FROM_REQUEST HOME LANG OVERRIDDEN PATH PWD",
        "{names}"
    );
}

#[tokio::test]
async fn secrets_are_redacted_before_anything_is_written() {
    let sup = Options::default().with_auth().start();
    let secret = "sk-ant-very-secret-value-42";
    let cmd = r#"echo "plain $API_KEY"; printf '{"type":"assistant","text":"%s"}\n' "$API_KEY"; echo "err $API_KEY" >&2; echo "short $SHORT"; exit 1"#;
    sup.run_cmd_with(
        "s-secret",
        cmd,
        json!({"env": {"API_KEY": secret, "SHORT": "abc"}}),
    )
    .await;
    sup.wait_finished("s-secret", WAIT).await;
    let log = std::fs::read_to_string(sup.state_dir().join("sessions/s-secret.log")).unwrap();
    assert!(!log.contains(secret), "the secret reached the local log");
    let events = sup.events("s-secret").await;
    let texts = agent_texts(&events);
    assert_eq!(texts, ["plain [redacted:API_KEY]", "short abc"]);
    let assistant = events.iter().find(|e| e["type"] == "assistant").unwrap();
    assert_eq!(assistant["data"]["text"], "[redacted:API_KEY]");
    let stderr = events.iter().find(|e| e["type"] == "stderr").unwrap();
    assert_eq!(stderr["data"]["text"], "err [redacted:API_KEY]");
    assert!(
        !sup.stderr().contains(secret),
        "the secret reached the supervisor's own log"
    );
}

#[tokio::test]
async fn events_can_be_followed_and_resumed_after_a_seq() {
    let sup = Options::default().start();
    sup.run_cmd("s-follow", "for i in 1 2 3; do echo line-$i; sleep 0.2; done")
        .await;
    // Follow from the start: the response ends when the session ends, with every event.
    let response = sup
        .client
        .get(sup.url("/sessions/s-follow/events?follow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let events = parse_ndjson(&response.text().await.unwrap());
    assert_eq!(agent_texts(&events), ["line-1", "line-2", "line-3"]);
    assert_eq!(events.last().unwrap()["type"], "session.finished");
    let (_, text) = sup.get("/sessions/s-follow/events?after=2").await;
    let after = parse_ndjson(text.as_str().unwrap_or_default());
    let seqs: Vec<u64> = after.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (3..events.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn metrics_count_sessions_by_status() {
    let sup = Options::default().start();
    sup.run_cmd("s-m1", &format!("echo '{SUCCESS}'")).await;
    sup.run_cmd("s-m2", "exit 1").await;
    sup.wait_finished("s-m1", WAIT).await;
    sup.wait_finished("s-m2", WAIT).await;
    let (status, body) = sup.get("/metrics").await;
    assert_eq!(status, 200);
    let text = body.as_str().unwrap();
    for line in [
        "supervisor_sessions_started_total 2",
        "supervisor_sessions_finished_total{status=\"succeeded\"} 1",
        "supervisor_sessions_finished_total{status=\"failed\"} 1",
        "supervisor_sessions_running 0",
    ] {
        assert!(text.lines().any(|l| l == line), "metrics lack {line:?}:\n{text}");
    }
}
