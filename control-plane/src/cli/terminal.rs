//! Where output goes and how it looks: terminal detection, colour, and stdout's closed-pipe rule.
//!
//! Tables and colour only on a terminal (each stream checked on its own, per clig.dev); colour never with
//! `NO_COLOR` (no-color.org) or `TERM=dumb`. A reader that closes stdout early (`agentctl ps | head -1`) ends
//! the command quietly with 0.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use crate::cli::error::CliError;
use crate::cli::render::Style;

/// How stdout is shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Term {
    /// Human layout (tables, short values) rather than the scripts' tab-separated one.
    pub(crate) tty: bool,
    pub(crate) style: Style,
}

impl Term {
    /// stdout's look; `AGENTCTL_FORCE_TTY` forces the human layout when piped (like `GH_FORCE_TTY`).
    pub(crate) fn detect() -> Self {
        let forced = std::env::var_os("AGENTCTL_FORCE_TTY").is_some_and(|v| !v.is_empty() && v != "0");
        let tty = forced || std::io::stdout().is_terminal();
        Self {
            tty,
            style: Style {
                color: colour(tty, &Env::read()),
            },
        }
    }
}

/// The environment variables that turn colour off.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    pub(crate) no_color: Option<OsString>,
    pub(crate) term: Option<OsString>,
}

impl Env {
    fn read() -> Self {
        Self {
            no_color: std::env::var_os("NO_COLOR"),
            term: std::env::var_os("TERM"),
        }
    }
}

/// Whether a stream gets ANSI colour: only a terminal, and neither a non-empty `NO_COLOR` nor `TERM=dumb`.
pub(crate) fn colour(terminal: bool, env: &Env) -> bool {
    let no_color = env.no_color.as_ref().is_some_and(|v| !v.is_empty());
    let dumb = env.term.as_ref().is_some_and(|t| t == "dumb");
    terminal && !no_color && !dumb
}

/// Whether log lines on stderr get colour.
pub(crate) fn stderr_colour() -> bool {
    colour(std::io::stderr().is_terminal(), &Env::read())
}

/// Writes to stdout; a closed pipe becomes [`CliError::BrokenPipe`].
pub(crate) fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                CliError::BrokenPipe
            } else {
                CliError::Other(anyhow::anyhow!("write to stdout: {e}"))
            }
        })
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(terminal: bool, no_color: Option<&str>, term: Option<&str>, expect: Expect) {
        let env = Env {
            no_color: no_color.map(OsString::from),
            term: term.map(OsString::from),
        };
        expect.assert_eq(&colour(terminal, &env).to_string());
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_a_dumb_term() {
        check(true, None, None, expect!["true"]);
        check(true, None, Some("xterm-256color"), expect!["true"]);
        check(false, None, None, expect!["false"]);
        check(true, Some("1"), None, expect!["false"]);
        // no-color.org: an empty NO_COLOR does not count.
        check(true, Some(""), None, expect!["true"]);
        check(true, None, Some("dumb"), expect!["false"]);
        check(false, Some("1"), Some("dumb"), expect!["false"]);
    }
}
