use expect_test::{Expect, expect};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

/// Serialises `value`, compares with the snapshot, and checks that the JSON reads back to the same JSON.
#[track_caller]
fn check<T: Serialize + DeserializeOwned>(value: &T, expected: Expect) {
    let json = serde_json::to_string_pretty(value).unwrap();
    expected.assert_eq(&json);
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&back).unwrap(),
        json,
        "round trip changed the JSON"
    );
}

fn sid(s: &str) -> SessionId {
    SessionId::parse(s).unwrap()
}

#[test]
fn event_shape() {
    let event = Event {
        session_id: sid("s-42"),
        seq: 7,
        ts: "2026-11-25T12:00:00.123Z".into(),
        source: EventSource::Agent,
        kind: "assistant".into(),
        data: serde_json::value::RawValue::from_string(r#"{"type":"assistant","message":{}}"#.into())
            .unwrap(),
    };
    check(
        &event,
        expect![[r#"
            {
              "sessionId": "s-42",
              "seq": 7,
              "ts": "2026-11-25T12:00:00.123Z",
              "source": "agent",
              "type": "assistant",
              "data": {"type":"assistant","message":{}}
            }"#]],
    );
}

#[test]
fn lifecycle_event_data_shapes() {
    check(
        &SessionStarted {
            agent_id: "reviewer".into(),
            pid: 12,
            runtime_id: "rt-1".into(),
            runner: "node run.mjs".into(),
        },
        expect![[r#"
            {
              "agentId": "reviewer",
              "pid": 12,
              "runtimeId": "rt-1",
              "runner": "node run.mjs"
            }"#]],
    );
    check(
        &SessionFinished {
            status: SessionStatus::TimedOut,
            exit_code: None,
            signal: Some("SIGKILL".into()),
            duration_ms: 1500,
            num_turns: Some(3),
            total_cost_usd: Some(0.25),
            error: Some("session timed out after 1s".into()),
            stderr_tail: None,
        },
        expect![[r#"
            {
              "status": "timed_out",
              "exitCode": null,
              "signal": "SIGKILL",
              "durationMs": 1500,
              "numTurns": 3,
              "totalCostUsd": 0.25,
              "error": "session timed out after 1s",
              "stderrTail": null
            }"#]],
    );
    check(
        &OutputTruncated {
            stream: OutputStream::Stdout,
            dropped_bytes: 4096,
        },
        expect![[r#"
            {
              "stream": "stdout",
              "droppedBytes": 4096
            }"#]],
    );
}

fn session() -> Session {
    Session {
        session_id: sid("s-42"),
        agent_id: AgentId::parse("reviewer").unwrap(),
        status: SessionStatus::Running,
        pid: Some(321),
        created_at: "2026-11-25T12:00:00.000Z".into(),
        started_at: Some("2026-11-25T12:00:00.010Z".into()),
        finished_at: None,
        exit_code: None,
        signal: None,
        last_seq: Some(4),
        num_turns: None,
        total_cost_usd: None,
        error: None,
        conversation_id: None,
        agent_version: None,
    }
}

#[test]
fn session_shape_has_every_field_with_nulls() {
    check(
        &session(),
        expect![[r#"
            {
              "sessionId": "s-42",
              "agentId": "reviewer",
              "status": "running",
              "pid": 321,
              "createdAt": "2026-11-25T12:00:00.000Z",
              "startedAt": "2026-11-25T12:00:00.010Z",
              "finishedAt": null,
              "exitCode": null,
              "signal": null,
              "lastSeq": 4,
              "numTurns": null,
              "totalCostUsd": null,
              "error": null,
              "conversationId": null,
              "agentVersion": null
            }"#]],
    );
}

#[test]
fn session_detail_flattens_session() {
    check(
        &SessionDetail {
            session: session(),
            runtime_id: Some("rt-1".into()),
            model: Some("claude-sonnet-4-5".into()),
            result_text: None,
        },
        expect![[r#"
            {
              "sessionId": "s-42",
              "agentId": "reviewer",
              "status": "running",
              "pid": 321,
              "createdAt": "2026-11-25T12:00:00.000Z",
              "startedAt": "2026-11-25T12:00:00.010Z",
              "finishedAt": null,
              "exitCode": null,
              "signal": null,
              "lastSeq": 4,
              "numTurns": null,
              "totalCostUsd": null,
              "error": null,
              "conversationId": null,
              "agentVersion": null,
              "runtimeId": "rt-1",
              "model": "claude-sonnet-4-5",
              "resultText": null
            }"#]],
    );
}

#[test]
fn execute_request_reads_the_design_example() {
    let body = r#"{"agentId": "reviewer", "sessionId": "s-42", "prompt": "review",
     "env": {"ANTHROPIC_API_KEY": "sk-test-123456"},
     "storage": {"type": "postgresql", "apiUrl": "http://cp:3000", "apiKey": "k"},
     "options": {"model": "m", "maxTurns": 50, "allowedTools": ["Bash"], "disallowedTools": [], "systemPrompt": "s",
                 "permissionMode": "bypassPermissions", "maxBudgetUsd": 2.5, "mcpServers": {}},
     "skills": [{"name": "pdf-report", "files": {"SKILL.md": "x", "scripts/make.py": "y"}}],
     "files": [{"path": "input/data.csv", "content": "a,b", "encoding": "utf8"}],
     "timeoutSeconds": 3600}"#;
    let request: ExecuteRequest = serde_json::from_str(body).unwrap();
    check(
        &request,
        expect![[r#"
            {
              "agentId": "reviewer",
              "sessionId": "s-42",
              "prompt": "review",
              "env": {
                "ANTHROPIC_API_KEY": "sk-test-123456"
              },
              "storage": {
                "type": "postgresql",
                "apiUrl": "http://cp:3000",
                "apiKey": "k"
              },
              "options": {
                "model": "m",
                "maxTurns": 50,
                "allowedTools": [
                  "Bash"
                ],
                "disallowedTools": [],
                "systemPrompt": "s",
                "permissionMode": "bypassPermissions",
                "maxBudgetUsd": 2.5,
                "mcpServers": {}
              },
              "skills": [
                {
                  "name": "pdf-report",
                  "files": {
                    "SKILL.md": "x",
                    "scripts/make.py": "y"
                  }
                }
              ],
              "files": [
                {
                  "path": "input/data.csv",
                  "content": "a,b",
                  "encoding": "utf8"
                }
              ],
              "timeoutSeconds": 3600,
              "conversationId": null,
              "agentVersion": null,
              "conversation": null
            }"#]],
    );
}

#[test]
fn execute_request_needs_only_agent_and_prompt() {
    let request: ExecuteRequest = serde_json::from_str(r#"{"agentId":"a","prompt":"p"}"#).unwrap();
    assert_eq!(request.session_id, None);
    assert_eq!(request.options, AgentOptions::default());
}

#[track_caller]
fn check_refused(body: &str, expected: Expect) {
    let err = serde_json::from_str::<ExecuteRequest>(body).unwrap_err();
    expected.assert_eq(&err.to_string());
}

#[test]
fn execute_request_refuses_bad_ids_unknown_fields_and_wrong_types() {
    check_refused(
        r#"{"agentId":"a b","prompt":"p"}"#,
        expect![[r#"invalid agentId: must match [A-Za-z0-9._-]{1,128} at line 1 column 16"#]],
    );
    check_refused(
        r#"{"agentId":"a","sessionId":"../x","prompt":"p"}"#,
        expect![[r#"invalid sessionId: must match [A-Za-z0-9][A-Za-z0-9_-]{0,63} at line 1 column 33"#]],
    );
    check_refused(
        r#"{"agentId":"a","prompt":"p","options":{"maxturns":3}}"#,
        expect![
            "unknown field `maxturns`, expected one of `model`, `maxTurns`, `allowedTools`, `disallowedTools`, `systemPrompt`, `permissionMode`, `maxBudgetUsd`, `mcpServers` at line 1 column 49"
        ],
    );
    check_refused(
        r#"{"agentId":"a","prompt":"p","timeoutSeconds":"10"}"#,
        expect![[r#"invalid type: string "10", expected u64 at line 1 column 49"#]],
    );
}

#[test]
fn ids_follow_their_rules() {
    assert!(SessionId::parse("a").is_ok());
    assert!(SessionId::parse("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").is_ok());
    assert!(SessionId::parse("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0").is_err());
    assert!(SessionId::parse("-a").is_err());
    assert!(SessionId::parse("a.b").is_err());
    assert!(SessionId::parse("").is_err());
    assert!(AgentId::parse(".hidden-agent_1").is_ok());
    assert!(AgentId::parse("a/b").is_err());
    assert!(AgentId::parse("x".repeat(129)).is_err());
}

#[test]
fn error_and_ingest_shapes() {
    check(
        &ErrorBody::new("invalid_request", "agentId: must not be empty"),
        expect![[r#"
            {
              "error": {
                "code": "invalid_request",
                "message": "agentId: must not be empty"
              }
            }"#]],
    );
    check(
        &IngestResponse {
            acked: [(sid("s-1"), 41)].into_iter().collect(),
            rejected: Default::default(),
            commands: vec![Command::Cancel {
                session_id: sid("s-2"),
            }],
        },
        expect![[r#"
            {
              "acked": {
                "s-1": 41
              },
              "commands": [
                {
                  "type": "cancel",
                  "sessionId": "s-2"
                }
              ]
            }"#]],
    );
    // A refused session is named with the error's code and message.
    check(
        &IngestResponse {
            acked: [(sid("s-1"), 41)].into_iter().collect(),
            rejected: [(
                sid("s-3"),
                ErrorDetail {
                    code: "runtime_conflict".into(),
                    message: "session s-3 belongs to runtime \"rt-a\"".into(),
                },
            )]
            .into_iter()
            .collect(),
            commands: vec![],
        },
        expect![[r#"
            {
              "acked": {
                "s-1": 41
              },
              "rejected": {
                "s-3": {
                  "code": "runtime_conflict",
                  "message": "session s-3 belongs to runtime \"rt-a\""
                }
              },
              "commands": []
            }"#]],
    );
    check(
        &Health {
            status: "ok".into(),
            version: "0.1.0".into(),
            runtime_id: "rt-1".into(),
            uptime_seconds: 3,
            sessions: HealthSessions { running: 1, max: 16 },
        },
        expect![[r#"
            {
              "status": "ok",
              "version": "0.1.0",
              "runtimeId": "rt-1",
              "uptimeSeconds": 3,
              "sessions": {
                "running": 1,
                "max": 16
              }
            }"#]],
    );
}

#[track_caller]
fn check_type(kinds: &[&str], expected: Expect) {
    let verdicts: Vec<String> = kinds
        .iter()
        .map(|kind| format!("{kind:?}: {}", event_type_problem(kind).unwrap_or("valid")))
        .collect();
    expected.assert_eq(&verdicts.join("\n"));
}

#[test]
fn an_event_type_is_one_to_128_bytes_without_control_characters() {
    let longest = "a".repeat(128);
    let too_long = "a".repeat(129);
    // 43 three-byte characters: 129 bytes.
    let wide = "€".repeat(43);
    check_type(
        &[
            "assistant",
            "session.finished",
            "",
            &longest,
            &too_long,
            &wide,
            "a\u{1}b",
            "a\nb",
            "tab\t",
            "\u{7f}",
            "\u{9b}",
            "ünïcode",
            " ",
        ],
        expect![[r#"
            "assistant": valid
            "session.finished": valid
            "": must not be empty
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": valid
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": must be at most 128 bytes
            "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€": must be at most 128 bytes
            "a\u{1}b": must not contain control characters
            "a\nb": must not contain control characters
            "tab\t": must not contain control characters
            "\u{7f}": must not contain control characters
            "\u{9b}": must not contain control characters
            "ünïcode": valid
            " ": valid"#]],
    );
}

#[test]
fn a_claimed_job_carries_the_conversation_state_into_the_runner_job() {
    let body = r#"{"agentId": "a", "prompt": "p", "conversation": {"sdkSessionId": "46a3fd50-0000-4000-8000-000000000000",
     "configDir": "/w/homes/s-1/.claude", "files": [{"path": "projects/d/46a3fd50-0000-4000-8000-000000000000.jsonl",
     "content": "{}\n"}, {"path": "projects/d/46a3fd50-0000-4000-8000-000000000000/tool-results/x.txt",
     "content": "/wA=", "encoding": "base64"}]}}"#;
    let request: ExecuteRequest = serde_json::from_str(body).unwrap();
    let job = RunnerJob {
        session_id: "s-2".parse().unwrap(),
        agent_id: request.agent_id.clone(),
        prompt: request.prompt.clone(),
        cwd: "/w/sessions/s-2".into(),
        options: request.options.clone(),
        conversation: request.conversation.clone(),
        databases: request.databases.clone(),
    };
    check(
        &job,
        expect![[r#"
            {
              "sessionId": "s-2",
              "agentId": "a",
              "prompt": "p",
              "cwd": "/w/sessions/s-2",
              "options": {
                "model": null,
                "maxTurns": null,
                "allowedTools": null,
                "disallowedTools": null,
                "systemPrompt": null,
                "permissionMode": null,
                "maxBudgetUsd": null,
                "mcpServers": null
              },
              "conversation": {
                "sdkSessionId": "46a3fd50-0000-4000-8000-000000000000",
                "configDir": "/w/homes/s-1/.claude",
                "files": [
                  {
                    "path": "projects/d/46a3fd50-0000-4000-8000-000000000000.jsonl",
                    "content": "{}\n",
                    "encoding": "utf8"
                  },
                  {
                    "path": "projects/d/46a3fd50-0000-4000-8000-000000000000/tool-results/x.txt",
                    "content": "/wA=",
                    "encoding": "base64"
                  }
                ]
              }
            }"#]],
    );
    let first = serde_json::from_str::<ExecuteRequest>(r#"{"agentId":"a","prompt":"p"}"#).unwrap();
    assert_eq!(first.conversation, None);
    check_refused(
        r#"{"agentId":"a","prompt":"p","conversation":{"sdkSessionId":"x","configDir":"/c","files":[],"extra":1}}"#,
        expect![
            "unknown field `extra`, expected one of `sdkSessionId`, `configDir`, `files` at line 1 column 98"
        ],
    );
}

#[test]
fn a_trigger_reads_as_design_writes_it_and_answers_its_secrets_as_states() {
    let trigger: Trigger = serde_json::from_str(
        r#"{"id": "support-mail", "agentId": "support-bot", "kind": "email",
            "verify": {"scheme": "mailgun", "secrets": ["key-1", {"set": true}], "toleranceSeconds": 300},
            "prompt": "New mail from {{ email.from }}", "conversation": null,
            "reply": {"kind": "mailgun", "from": "support@example.com", "credentials": {"apiKey": "k"}},
            "debounceSeconds": 0}"#,
    )
    .expect("the DESIGN example parses");
    assert!(trigger.enabled, "a trigger is enabled unless it says otherwise");
    assert_eq!(trigger.verify.scheme, VerifyScheme::Mailgun);
    assert_eq!(
        trigger.verify.secrets.as_deref().map(<[_]>::len),
        Some(2),
        "a value and a kept secret"
    );
    let scheme: VerifyScheme = serde_json::from_str(r#""hmac-sha256""#).expect("kebab-case scheme");
    assert_eq!(scheme, VerifyScheme::HmacSha256);
    let unknown = serde_json::from_str::<Trigger>(
        r#"{"agentId": "a", "kind": "fax", "verify": {"scheme": "none"}, "prompt": "p"}"#,
    )
    .expect_err("an unknown kind is refused");
    assert!(unknown.to_string().contains("fax"), "{unknown}");
    for status in ["refused", "invalid", "disabled", "duplicate", "waiting", "queued"] {
        let parsed: DeliveryStatus = status.parse().expect("a known status");
        assert_eq!(parsed.to_string(), status);
    }
}
