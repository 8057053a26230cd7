//! The status decision (DESIGN.md §2): how a session's end becomes its final status and error.
//!
//! A pure function of what happened, so every rule is one row of a table test; `supervise` and recovery
//! only gather the facts.

use std::time::Duration;

use protocol::SessionStatus;

use super::log::ResultInfo;
use crate::process::{ExitStatus, signal_name};

/// Why the supervisor stopped an agent that had not exited by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancelled,
    TimedOut,
    AfterResult,
    Shutdown,
}

/// How the agent's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It ended by itself (`None`: the status could not be collected).
    Exited(Option<ExitStatus>),
    /// The supervisor stopped it.
    Stopped(StopReason, Option<ExitStatus>),
    /// It died with an earlier incarnation of the supervisor; nothing is known of its end.
    Lost,
}

/// What is known when a session ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub(crate) ending: Ending,
    /// The agent's last `result` message.
    pub(crate) result: Option<&'a ResultInfo>,
    /// Agent lines that were SDK messages (JSON objects).
    pub(crate) sdk_messages: u64,
    /// The last line the agent wrote to stderr.
    pub(crate) last_stderr_line: Option<&'a str>,
    pub(crate) timeout: Duration,
    pub(crate) after_result_grace: Duration,
}

/// A session's final status and, unless it succeeded, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) status: SessionStatus,
    pub(crate) error: Option<String>,
}

pub(crate) fn decide(facts: &Facts<'_>) -> Decision {
    let failed = |error: String| Decision {
        status: SessionStatus::Failed,
        error: Some(error),
    };
    let exit = match facts.ending {
        Ending::Lost => {
            return Decision {
                status: SessionStatus::Lost,
                error: Some("the supervisor restarted while the session was running".to_owned()),
            };
        }
        Ending::Stopped(reason, _) => {
            let (status, error) = match reason {
                StopReason::Cancelled => (SessionStatus::Cancelled, "cancelled by request".to_owned()),
                StopReason::Shutdown => (
                    SessionStatus::Cancelled,
                    "stopped because the supervisor shut down".to_owned(),
                ),
                StopReason::TimedOut => (
                    SessionStatus::TimedOut,
                    format!(
                        "session timed out after {}",
                        humantime::format_duration(facts.timeout)
                    ),
                ),
                // The work was done and its result is the session's: a successful result stays a
                // success (the hang is a note in `error`), a failed one says why it failed.
                StopReason::AfterResult => match facts.result {
                    Some(r) if r.is_success() => (
                        SessionStatus::Succeeded,
                        format!(
                            "agent was still running {} after its successful result; stopped",
                            humantime::format_duration(facts.after_result_grace)
                        ),
                    ),
                    Some(r) => (SessionStatus::Failed, r.error_text()),
                    None => (
                        SessionStatus::Failed,
                        format!(
                            "agent was still running {} after its result; stopped",
                            humantime::format_duration(facts.after_result_grace)
                        ),
                    ),
                },
            };
            return Decision {
                status,
                error: Some(error),
            };
        }
        Ending::Exited(exit) => exit,
    };
    let how = match exit {
        Some(ExitStatus::Exited(code)) => format!("exited with code {code}"),
        Some(ExitStatus::Signaled { signal, .. }) => format!("was killed by {}", signal_name(signal)),
        None => "ended with an unknown status".to_owned(),
    };
    match (facts.result, exit) {
        (Some(r), Some(ExitStatus::Exited(0))) if r.is_success() => Decision {
            status: SessionStatus::Succeeded,
            error: None,
        },
        (Some(r), _) if !r.is_success() => failed(r.error_text()),
        (Some(_), _) => failed(format!("agent {how} after a successful result")),
        (None, _) if facts.sdk_messages == 0 => failed(format!(
            "runner {how} before printing any SDK message: {}",
            facts.last_stderr_line.unwrap_or("no output")
        )),
        (None, _) => failed(format!("agent {how} without a result message")),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn success() -> ResultInfo {
        ResultInfo {
            subtype: "success".into(),
            ..ResultInfo::default()
        }
    }

    fn error_max_turns() -> ResultInfo {
        ResultInfo {
            subtype: "error_max_turns".into(),
            is_error: true,
            ..ResultInfo::default()
        }
    }

    #[track_caller]
    fn check(ending: Ending, result: Option<ResultInfo>, sdk_messages: u64, expect: Expect) {
        let facts = Facts {
            ending,
            result: result.as_ref(),
            sdk_messages,
            last_stderr_line: Some("Error: Cannot find module 'x'"),
            timeout: Duration::from_secs(90),
            after_result_grace: Duration::from_secs(30),
        };
        let Decision { status, error } = decide(&facts);
        expect.assert_eq(&format!("{status}: {}", error.as_deref().unwrap_or("-")));
    }

    const EXIT_0: Option<ExitStatus> = Some(ExitStatus::Exited(0));
    const EXIT_1: Option<ExitStatus> = Some(ExitStatus::Exited(1));
    const KILLED: Option<ExitStatus> = Some(ExitStatus::Signaled {
        signal: libc::SIGKILL,
        core_dumped: false,
    });

    #[test]
    fn a_successful_result_and_exit_0_succeed_and_everything_else_says_why_not() {
        check(
            Ending::Exited(EXIT_0),
            Some(success()),
            3,
            expect!["succeeded: -"],
        );
        check(
            Ending::Exited(EXIT_1),
            Some(success()),
            3,
            expect!["failed: agent exited with code 1 after a successful result"],
        );
        check(
            Ending::Exited(KILLED),
            Some(success()),
            3,
            expect!["failed: agent was killed by SIGKILL after a successful result"],
        );
        check(
            Ending::Exited(EXIT_0),
            Some(error_max_turns()),
            3,
            expect!["failed: result error_max_turns"],
        );
        check(
            Ending::Exited(EXIT_1),
            None,
            0,
            expect![
                "failed: runner exited with code 1 before printing any SDK message: Error: Cannot find module 'x'"
            ],
        );
        check(
            Ending::Exited(EXIT_0),
            None,
            2,
            expect!["failed: agent exited with code 0 without a result message"],
        );
        check(
            Ending::Exited(KILLED),
            None,
            2,
            expect!["failed: agent was killed by SIGKILL without a result message"],
        );
        check(
            Ending::Exited(None),
            None,
            2,
            expect!["failed: agent ended with an unknown status without a result message"],
        );
    }

    #[test]
    fn a_stop_by_the_supervisor_decides_whatever_the_exit_and_result() {
        check(
            Ending::Stopped(StopReason::Cancelled, KILLED),
            Some(success()),
            3,
            expect!["cancelled: cancelled by request"],
        );
        check(
            Ending::Stopped(StopReason::Shutdown, EXIT_0),
            None,
            0,
            expect!["cancelled: stopped because the supervisor shut down"],
        );
        check(
            Ending::Stopped(StopReason::TimedOut, KILLED),
            None,
            1,
            expect!["timed_out: session timed out after 1m 30s"],
        );
        check(
            Ending::Stopped(StopReason::AfterResult, Some(ExitStatus::Exited(143))),
            Some(success()),
            3,
            expect!["succeeded: agent was still running 30s after its successful result; stopped"],
        );
        check(
            Ending::Stopped(StopReason::AfterResult, Some(ExitStatus::Exited(143))),
            Some(error_max_turns()),
            3,
            expect!["failed: result error_max_turns"],
        );
    }

    #[test]
    fn a_session_of_an_earlier_incarnation_without_an_end_is_lost() {
        check(
            Ending::Lost,
            None,
            5,
            expect!["lost: the supervisor restarted while the session was running"],
        );
    }
}
