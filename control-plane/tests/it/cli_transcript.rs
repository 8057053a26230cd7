//! The transcript renderer, a pure function of the events: fed the sessions recorded through the real Agent
//! SDK (`fixtures/recorded-*.jsonl`), plus the event kinds those sessions do not contain.

use control_plane::cli::render::Style;
use control_plane::cli::render::transcript::render;
use expect_test::{Expect, expect};
use protocol::Event;
use serde_json::{Value, json};

use crate::helpers::recorded;

const PLAIN: Style = Style { color: false };

#[track_caller]
fn check(events: &[Event], expect: Expect) {
    expect.assert_eq(&render(events, PLAIN, false));
}

/// The recorded session `name` as the CLI receives it.
fn recorded_events(name: &str) -> Vec<Event> {
    recorded(name)
        .lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("a recorded line is an event"))
        .collect()
}

/// One event of session `s-1`; `data` goes through text because the event keeps it as raw JSON.
fn event(seq: u64, source: &str, kind: &str, data: Value) -> Event {
    let event = json!({"sessionId": "s-1", "seq": seq, "ts": format!("2026-11-25T12:00:{seq:02}.000Z"),
                       "source": source, "type": kind, "data": data});
    serde_json::from_str(&event.to_string()).expect("a valid event")
}

fn assistant(seq: u64, content: Value) -> Event {
    event(
        seq,
        "agent",
        "assistant",
        json!({"type": "assistant", "message": {"role": "assistant", "content": content}, "parent_tool_use_id": null}),
    )
}

fn tool_result(seq: u64, content: Value, is_error: bool) -> Event {
    event(
        seq,
        "agent",
        "user",
        json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": content, "is_error": is_error}]}}),
    )
}

#[test]
fn a_recorded_success_shows_the_text_the_tool_call_its_output_and_a_succeeded_footer() {
    check(
        &recorded_events("success"),
        expect![[r#"
            session fixture-success · agent fixture-agent · runner node /work/main/agent-runner/run.mjs · pid 16887
            model claude-sonnet-4-5 · 26 tools · cwd /tmp/record-fixtures.aQLazk/workspace/sessions/fixture-success
            ⏺ I'll run a command to see where I am.
            ⏺ Bash(echo hello from bash && uname -s)
              ⎿  hello from bash
                 Linux
            ⏺ The command printed:
              hello from bash
              Linux

              <system-reminder>
              <total_tokens>14985268 tokens left</total_tokens>
              </system-reminder>
            ✓ succeeded · 2 turns · 5s · $0.0896
        "#]],
    );
}

#[test]
fn a_recorded_failure_shows_stderr_and_the_result_subtype_with_the_error_in_the_footer() {
    check(
        &recorded_events("failed"),
        expect![[r#"
            session fixture-failed · agent fixture-agent · runner node /work/main/agent-runner/run.mjs · pid 16894
            model claude-sonnet-4-5 · 26 tools · cwd /tmp/record-fixtures.aQLazk/workspace/sessions/fixture-failed
            ⏺ I'll run a command to see where I am.
            ⏺ Bash(echo hello from bash && uname -s)
              ⎿  hello from bash
                 Linux
            stderr: agent-runner: query failed: Claude Code returned an error result: Reached maximum number of turns (1)
            stderr: agent-runner: the query ended unsuccessfully (subtype error_max_turns, is_error true)
            ✗ failed (error_max_turns: Reached maximum number of turns (1)) · 2 turns · 5s · $0.0446
        "#]],
    );
}

#[test]
fn a_recorded_cancellation_shows_the_request_the_failed_tool_result_and_a_cancelled_footer() {
    check(
        &recorded_events("cancelled"),
        expect![[r#"
            session fixture-cancelled · agent fixture-agent · runner node /work/main/agent-runner/run.mjs · pid 16896
            model claude-sonnet-4-5 · 26 tools · cwd /tmp/record-fixtures.aQLazk/workspace/sessions/fixture-cancelled
            ⏺ Sleeping for a while.
            ⏺ Bash(echo sleeping && sleep 300 && echo awake)
            ⊘ cancel requested
            stderr: agent-runner: SIGTERM received, stopping the agent
              ⎿  ✗ Exit code 137
                 sleeping
            ⊘ cancelled (cancelled by request) · 6s
        "#]],
    );
}

#[test]
fn seed_log_events_show_their_key_and_value() {
    check(
        &[
            event(
                0,
                "agent",
                "log",
                json!({"key": "progress", "value": "cloned the repository"}),
            ),
            event(
                1,
                "agent",
                "log",
                json!({"key": "metrics", "value": {"files": 3}}),
            ),
            event(
                2,
                "agent",
                "text",
                json!({"text": "plain line one\nplain line two"}),
            ),
        ],
        expect![[r#"
            progress: cloned the repository
            metrics: {"files":3}
            plain line one
            plain line two
        "#]],
    );
}

#[test]
fn long_tool_output_arguments_and_lines_are_cut_and_say_so() {
    let long_command = format!("echo {}", "x".repeat(120));
    check(
        &[
            assistant(
                0,
                json!([{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": long_command}}]),
            ),
            tool_result(1, json!("one\ntwo\nthree\nfour\nfive"), false),
            tool_result(
                2,
                json!([{"type": "text", "text": "first part"}, {"type": "text", "text": "second part"}]),
                false,
            ),
            tool_result(3, json!(""), false),
            event(
                4,
                "supervisor",
                "output.truncated",
                json!({"stream": "stdout", "droppedBytes": 1048576}),
            ),
        ],
        expect![[r#"
            ⏺ Bash(echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…)
              ⎿  one
                 two
                 three
                 … +2 lines
              ⎿  first part
                 second part
              ⎿  (no output)
            … stdout output truncated (1048576 bytes dropped)
        "#]],
    );
}

#[test]
fn a_tool_error_is_marked_and_a_sub_agent_is_indented() {
    check(
        &[
            event(
                0,
                "agent",
                "user",
                json!({"type": "user", "message": {"role": "user", "content": "Fix the test\nplease"}}),
            ),
            tool_result(1, json!("old_string not found in file\nsecond line"), true),
            event(
                2,
                "agent",
                "assistant",
                json!({"type": "assistant", "parent_tool_use_id": "toolu_1", "message": {"content": [
                    {"type": "text", "text": "Looking into it.\nStill looking."},
                    {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "src/lib.rs"}}]}}),
            ),
        ],
        expect![[r#"
            > Fix the test
            > please
              ⎿  ✗ old_string not found in file
                 second line
              ⏺ Looking into it.
                Still looking.
              ⏺ Read(src/lib.rs)
        "#]],
    );
}

#[test]
fn a_session_that_ends_without_a_result_message_takes_the_footer_from_session_finished() {
    check(
        &[
            event(0, "stderr", "stderr", json!({"text": "boom\nsecond"})),
            event(
                1,
                "supervisor",
                "session.finished",
                json!({"status": "lost", "durationMs": 3_725_000, "numTurns": 1, "totalCostUsd": 0.5,
                       "error": "runtime silent for 30s"}),
            ),
        ],
        expect![[r#"
            stderr: boom
            stderr: second
            ✗ lost (runtime silent for 30s) · 1 turn · 1h 2m · $0.5000
        "#]],
    );
}

/// OSC 52 (write the clipboard), a window title, a screen clear, a carriage return and a C1 CSI.
const HOSTILE: &str = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]0;title\x07\x1b[2Jwiped\rforged\u{9b}31mred";

#[test]
fn terminal_escapes_an_agent_prints_are_shown_escaped_wherever_they_appear() {
    let events = [
        event(
            0,
            "supervisor",
            "session.started",
            json!({"agentId": HOSTILE, "pid": 7, "runtimeId": "rt-1", "runner": HOSTILE}),
        ),
        event(
            1,
            "agent",
            "system",
            json!({"type": "system", "subtype": "init", "model": HOSTILE, "cwd": HOSTILE, "tools": []}),
        ),
        event(
            2,
            "agent",
            "text",
            json!({"text": format!("{HOSTILE}\n\tindented")}),
        ),
        assistant(
            3,
            json!([{"type": "text", "text": HOSTILE},
                   {"type": "tool_use", "id": "toolu_1", "name": HOSTILE, "input": {"command": HOSTILE}}]),
        ),
        tool_result(4, json!(HOSTILE), true),
        tool_result(5, json!([{"type": "text", "text": HOSTILE}]), false),
        event(6, "stderr", "stderr", json!({"text": HOSTILE})),
        event(7, "agent", "log", json!({"key": HOSTILE, "value": HOSTILE})),
        event(
            8,
            "agent",
            "user",
            json!({"type": "user", "message": {"role": "user", "content": HOSTILE}}),
        ),
        event(
            9,
            "supervisor",
            "output.truncated",
            json!({"stream": HOSTILE, "droppedBytes": 1}),
        ),
        event(
            10,
            "supervisor",
            "session.finished",
            json!({"status": "failed", "durationMs": 1000, "error": HOSTILE}),
        ),
    ];
    let shown = render(&events, PLAIN, false);
    assert!(!shown.contains(['\x1b', '\x07', '\r', '\u{9b}']), "{shown}");
    expect![[r#"
        session s-1 · agent \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred · runner \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred · pid 7
        model \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred · 0 tools · cwd \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        	indented
        ⏺ \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        ⏺ \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred(\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred)
          ⎿  ✗ \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
          ⎿  \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        stderr: \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred: \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        > \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
        … \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred output truncated (1 bytes dropped)
        ✗ failed (\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred) · 1s
    "#]]
    .assert_eq(&shown);
}

#[test]
fn timestamps_prefix_every_line_with_the_events_clock_time() {
    let events = [
        event(7, "agent", "text", json!({"text": "a\nb"})),
        event(8, "supervisor", "session.cancel_requested", json!({})),
    ];
    expect![[r#"
        12:00:07 a
        12:00:07 b
        12:00:08 ⊘ cancel requested
    "#]]
    .assert_eq(&render(&events, PLAIN, true));
}

#[test]
fn colour_marks_tool_names_bold_and_errors_red_and_is_absent_without_it() {
    let events = [
        assistant(
            0,
            json!([{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "rm -r /"}}]),
        ),
        tool_result(1, json!("denied"), true),
    ];
    let coloured = render(&events, Style { color: true }, false);
    expect![[r#"
        ⏺ ␛[1mBash␛[0m(rm -r /)
          ⎿  ␛[31m✗ denied␛[0m
    "#]]
    .assert_eq(&coloured.replace('\x1b', "␛"));
    assert!(!render(&events, PLAIN, false).contains('\x1b'));
}
