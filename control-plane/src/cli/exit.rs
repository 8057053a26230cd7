//! agentctl's exit codes: the contract scripts rely on, listed in `--help` from this one enum.
//!
//! Chosen after gh and docker (reference/cli-conventions.md): 2 is clap's usage error and not configurable,
//! 124 is GNU `timeout`'s, 130 is a shell's "killed by SIGINT"; sysexits (64–78) is avoided as non-portable.

use std::fmt::Write;

use protocol::SessionStatus;

/// How `agentctl` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Done; for `wait`, `run -f` and `--exit-status`: the session succeeded (or has not ended yet).
    Ok,
    /// agentctl, the network or the server failed, or the session does not exist.
    Error,
    /// Bad arguments, or a confirmation needed when stdin is not a terminal.
    Usage,
    /// No credentials, or the server refused them (401/403).
    Auth,
    /// The session failed, timed out or was lost.
    SessionFailed,
    /// The session was cancelled.
    SessionCancelled,
    /// `--timeout` elapsed first.
    Timeout,
    /// Ctrl-C.
    Interrupted,
}

impl Exit {
    const ALL: [Self; 8] = [
        Self::Ok,
        Self::Error,
        Self::Usage,
        Self::Auth,
        Self::SessionFailed,
        Self::SessionCancelled,
        Self::Timeout,
        Self::Interrupted,
    ];

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Error => 1,
            Self::Usage => 2,
            Self::Auth => 4,
            Self::SessionFailed => 5,
            Self::SessionCancelled => 6,
            Self::Timeout => 124,
            Self::Interrupted => 130,
        }
    }

    /// The line `--help` shows for this code.
    fn meaning(self) -> &'static str {
        match self {
            Self::Ok => "ok (wait, run -f, --exit-status: the session succeeded)",
            Self::Error => "error (network, server, not found)",
            Self::Usage => "usage error",
            Self::Auth => "authentication missing or rejected",
            Self::SessionFailed => "the session failed, timed out or was lost",
            Self::SessionCancelled => "the session was cancelled",
            Self::Timeout => "--timeout elapsed",
            Self::Interrupted => "interrupted",
        }
    }

    /// How a session ended, as agentctl's exit: a session still going counts as success, like gh's
    /// `--exit-status`.
    pub(crate) fn of_session(status: SessionStatus) -> Self {
        match status {
            SessionStatus::Succeeded
            | SessionStatus::Queued
            | SessionStatus::Pending
            | SessionStatus::Running => Self::Ok,
            SessionStatus::Cancelled => Self::SessionCancelled,
            SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => Self::SessionFailed,
        }
    }

    /// The `Exit codes:` section of `agentctl --help`.
    pub(crate) fn help() -> String {
        let mut text = String::from("Exit codes:");
        for exit in Self::ALL {
            let _ = write!(text, "\n  {:<5}{}", exit.code(), exit.meaning());
        }
        text
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn the_help_lists_every_exit_code_once_in_order() {
        expect![[r#"
            Exit codes:
              0    ok (wait, run -f, --exit-status: the session succeeded)
              1    error (network, server, not found)
              2    usage error
              4    authentication missing or rejected
              5    the session failed, timed out or was lost
              6    the session was cancelled
              124  --timeout elapsed
              130  interrupted"#]]
        .assert_eq(&Exit::help());
    }

    #[test]
    fn a_session_still_going_exits_like_one_that_succeeded() {
        let table: Vec<String> = [
            SessionStatus::Pending,
            SessionStatus::Running,
            SessionStatus::Succeeded,
            SessionStatus::Failed,
            SessionStatus::TimedOut,
            SessionStatus::Lost,
            SessionStatus::Cancelled,
        ]
        .into_iter()
        .map(|s| format!("{s} {}", Exit::of_session(s).code()))
        .collect();
        expect![[r#"
            pending 0
            running 0
            succeeded 0
            failed 5
            timed_out 5
            lost 5
            cancelled 6"#]]
        .assert_eq(&table.join("\n"));
    }
}
