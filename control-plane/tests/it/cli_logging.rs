//! `agentctl`'s log lines on stderr: colour on a terminal only, and never with `NO_COLOR`.
//!
//! The command is `serve --no-auth` on a database that cannot be opened: it logs a warning and exits at once.
//! A terminal is a pseudo-terminal from util-linux `script`.

use std::process::{Command, Stdio};

use expect_test::{Expect, expect};

const BIN: &str = env!("CARGO_BIN_EXE_agentctl");
const ARGS: &str = "serve --no-auth --listen 127.0.0.1:0 --database-url sqlite:///nonexistent/agentctl/x.db";

#[derive(Debug, Clone, Copy)]
enum Stderr {
    Pipe,
    Terminal,
}

/// Runs the command with stderr on `stderr`, and says whether the warning came and whether any ESC did.
fn colour(stderr: Stderr, no_color: Option<&str>) -> String {
    let mut cmd = match stderr {
        Stderr::Pipe => {
            let mut cmd = Command::new(BIN);
            cmd.args(ARGS.split(' '));
            cmd
        }
        Stderr::Terminal => {
            let mut cmd = Command::new("script");
            cmd.args(["-qec", &format!("{BIN} {ARGS}"), "/dev/null"]);
            cmd
        }
    };
    cmd.env_remove("NO_COLOR")
        .env_remove("DATABASE_URL")
        .env_remove("LOG_FORMAT")
        .env("RUST_LOG", "info")
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let output = cmd.output().expect("run agentctl");
    // `script` copies the terminal to its stdout; the plain run's log is on stderr.
    let log = [output.stdout, output.stderr].concat();
    let log = String::from_utf8_lossy(&log);
    assert!(
        log.contains("--no-auth: every request is accepted"),
        "no warning logged: {log}"
    );
    format!("colour={}", log.contains('\x1b'))
}

#[track_caller]
fn check(stderr: Stderr, no_color: Option<&str>, expect: Expect) {
    expect.assert_eq(&colour(stderr, no_color));
}

#[test]
fn log_lines_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    check(Stderr::Pipe, None, expect!["colour=false"]);
    check(Stderr::Pipe, Some("1"), expect!["colour=false"]);
    check(Stderr::Terminal, None, expect!["colour=true"]);
    check(Stderr::Terminal, Some("1"), expect!["colour=false"]);
    // no-color.org: an empty NO_COLOR does not count.
    check(Stderr::Terminal, Some(""), expect!["colour=true"]);
}
