//! One claim (`POST /api/internal/v1/claim`, DESIGN.md §9) through the control plane's shipper transport
//! (its client, its key), and the jobs of the answer, read one by one.
//!
//! Each job is read on its own: one job that does not parse must neither lose the others of the answer
//! nor vanish itself. A job that names its session still becomes that session, ending `failed` with the
//! reason; only a job without a valid `sessionId` cannot be told about, and is logged.

use std::collections::BTreeMap;
use std::time::Duration;

use protocol::{AgentId, ClaimRequest, ExecuteRequest, SessionId};
use serde_json::{Value, json};

use crate::ship::transport::{Transport, Verdict, classify, error_chain, retry_after};

/// The HTTP timeout of a claim is its wait plus this: the control plane answers an empty list when the
/// wait is over, and the answer must be allowed to arrive.
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// One job of a claim answer.
#[derive(Debug)]
pub(super) enum Job {
    /// A job to run like a `POST /execute` with this body (whose `sessionId` is `session_id`).
    Run {
        session_id: SessionId,
        request: ExecuteRequest,
    },
    /// A job that does not parse as a request: its session ends `failed` with `error`. `stand_in` holds
    /// what could be read of it (agent, session, the `env` values to redact).
    Unreadable {
        session_id: SessionId,
        stand_in: ExecuteRequest,
        error: String,
    },
    /// A job without a valid `sessionId`: there is no session to report it in.
    Unattributable,
}

/// Why a claim brought no answer.
#[derive(Debug)]
pub(super) enum ClaimError {
    /// Transport error, 408, 429, 5xx or an unreadable answer: try again soon (after `after`, if given).
    Retry { reason: String, after: Option<Duration> },
    /// Any other refusal (404: a control plane without the route, 401: a wrong key): try again slowly.
    Misconfigured { status: u16, body: String },
}

/// Asks the control plane for at most `request.free` jobs, waiting up to `wait` for one.
pub(super) async fn claim(
    transport: &Transport,
    request: &ClaimRequest,
    wait: Duration,
) -> Result<Vec<Job>, ClaimError> {
    let response = transport
        .post("api/internal/v1/claim")
        .timeout(wait + ANSWER_MARGIN)
        .json(request)
        .send()
        .await
        .map_err(|e| ClaimError::Retry {
            reason: error_chain(&e),
            after: None,
        })?;
    let status = response.status();
    let after = retry_after(&response);
    match classify(status.as_u16()) {
        Verdict::Accepted => {
            let body = response.bytes().await.map_err(|e| ClaimError::Retry {
                reason: error_chain(&e),
                after: None,
            })?;
            read_jobs(&body).map_err(|reason| ClaimError::Retry { reason, after: None })
        }
        Verdict::Retry => Err(ClaimError::Retry {
            reason: format!("{status}: {}", response.text().await.unwrap_or_default()),
            after,
        }),
        Verdict::Misconfigured | Verdict::TooLarge | Verdict::Rejected => Err(ClaimError::Misconfigured {
            status: status.as_u16(),
            body: response.text().await.unwrap_or_default(),
        }),
    }
}

/// The jobs of a claim answer `{"jobs": [ExecuteRequest…]}`.
fn read_jobs(body: &[u8]) -> Result<Vec<Job>, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|e| format!("the claim answer is not JSON: {e}"))?;
    let jobs = answer
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or("the claim answer has no `jobs` array")?;
    Ok(jobs.iter().map(read_job).collect())
}

fn read_job(job: &Value) -> Job {
    let Some(session_id) = job
        .get("sessionId")
        .and_then(Value::as_str)
        .and_then(|id| SessionId::parse(id).ok())
    else {
        return Job::Unattributable;
    };
    match serde_path_to_error::deserialize::<_, ExecuteRequest>(job) {
        Ok(request) => Job::Run { session_id, request },
        Err(err) => {
            let path = err.path().to_string();
            let error = format!("the claimed job is invalid: {path}: {}", err.into_inner());
            Job::Unreadable {
                stand_in: stand_in(job, &session_id),
                session_id,
                error,
            }
        }
    }
}

/// What can be read of a job that does not parse: its agent (else `unknown`), its session, and the string
/// values of its `env`, so that the failed session's log redacts them like any request's.
fn stand_in(job: &Value, session_id: &SessionId) -> ExecuteRequest {
    let agent_id = job
        .get("agentId")
        .and_then(Value::as_str)
        .filter(|id| AgentId::parse(*id).is_ok())
        .unwrap_or("unknown");
    let env: BTreeMap<&str, &str> = job
        .get("env")
        .and_then(Value::as_object)
        .map(|env| {
            env.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    // Its databases' URLs too, under names that pass no check but redact as any.
    let databases: Vec<Value> = (job
        .get("databases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten())
    .filter_map(|d| d.get("url").and_then(Value::as_str))
    .enumerate()
    .map(|(i, url)| json!({"name": format!("databases[{i}]"), "url": url}))
    .collect();
    serde_json::from_value(json!({
        "agentId": agent_id, "sessionId": session_id, "prompt": "", "env": env, "databases": databases,
    }))
    .expect("a stand-in of valid ids and string values is a request")
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(body: &str, expect: Expect) {
        let actual = match read_jobs(body.as_bytes()) {
            Ok(jobs) => jobs
                .iter()
                .map(|job| match job {
                    Job::Run { session_id, request } => format!("run {session_id} of {}", request.agent_id),
                    Job::Unreadable {
                        session_id,
                        stand_in,
                        error,
                    } => format!(
                        "fail {session_id} of {} env {:?}{}: {error}",
                        stand_in.agent_id,
                        stand_in.env,
                        (stand_in.databases.iter())
                            .map(|d| format!(" {} {}", d.name, d.url))
                            .collect::<String>()
                    ),
                    Job::Unattributable => "unattributable".to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(err) => format!("error: {err}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn each_job_of_a_claim_answer_is_read_on_its_own() {
        check(r#"{"jobs": []}"#, expect![[""]]);
        check(
            r#"{"jobs": [
                {"agentId": "a", "sessionId": "s-1", "prompt": "p", "conversationId": "s-0", "agentVersion": 3},
                {"agentId": "a", "sessionId": "s-2", "prompt": "p", "env": {"TOKEN": "sekrit-value", "N": 1},
                 "options": {"maxTurns": "ten"}},
                {"agentId": "not an id!", "sessionId": "s-3", "prompt": "p"},
                {"agentId": "a", "sessionId": "not an id!", "prompt": "p"},
                {"agentId": "a", "prompt": "p"},
                {"agentId": "a", "sessionId": "s-4", "prompt": "p", "colour": "blue"},
                {"agentId": "a", "sessionId": "s-5", "prompt": "p", "databases": [{"name": "crm",
                 "url": "postgres://u:long-password@h/db", "readOnly": "yes"}, {"name": "x", "url": 1}]}
            ]}"#,
            expect![[r#"
                run s-1 of a
                fail s-2 of a env {"TOKEN": "sekrit-value"}: the claimed job is invalid: env.N: invalid type: integer `1`, expected a string
                fail s-3 of unknown env {}: the claimed job is invalid: agentId: invalid agentId: must match [A-Za-z0-9._-]{1,128}
                unattributable
                unattributable
                fail s-4 of a env {}: the claimed job is invalid: colour: unknown field `colour`, expected one of `agentId`, `sessionId`, `prompt`, `env`, `storage`, `options`, `skills`, `files`, `timeoutSeconds`, `conversationId`, `agentVersion`, `conversation`, `databases`, `packages`
                fail s-5 of a env {} databases[0] postgres://u:long-password@h/db: the claimed job is invalid: databases[0].readOnly: invalid type: string "yes", expected a boolean"#]],
        );
        check("[]", expect![[r#"error: the claim answer has no `jobs` array"#]]);
        check(
            "{",
            expect![[
                r#"error: the claim answer is not JSON: EOF while parsing an object at line 1 column 1"#
            ]],
        );
    }
}
