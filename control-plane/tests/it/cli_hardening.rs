//! `agentctl` against a hostile agent and a careless caller (issue 10): terminal escapes, URLs without a scheme,
//! a server that is not a control plane, the API's spelling of a status, seed logs, a follow started before the
//! session exists, and id prefixes. Each runs the real binary against a real server.

use expect_test::expect;
use serde_json::json;

use crate::cli::{agentctl, check};
use crate::helpers::{Kind, TestApp, TestDb, ev, spawn_app, sup};

/// OSC 52 (write the clipboard), a window title, a screen clear, a carriage return and a C1 CSI.
const HOSTILE: &str = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]0;title\x07\x1b[2Jwiped\rforged\u{9b}31mred";

async fn app() -> (TestDb, TestApp) {
    let db = TestDb::new(Kind::Sqlite).await.expect("sqlite");
    let app = spawn_app(&db).await;
    (db, app)
}

fn finished(status: &str, error: Option<&str>) -> serde_json::Value {
    json!({"status": status, "exitCode": 1, "signal": null, "durationMs": 1000, "numTurns": 1,
           "totalCostUsd": null, "error": error, "stderrTail": null})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_show_print_an_agents_terminal_escapes_escaped_and_jsonl_keeps_them_as_stored() {
    let (_db, app) = app().await;
    let assistant = json!({"type": "assistant", "message": {"content": [{"type": "text", "text": HOSTILE}]}});
    app.ingest(
        "rt-1",
        &[
            ev("s-esc", 0, "text", json!({"text": HOSTILE})),
            ev("s-esc", 1, "assistant", assistant.clone()),
            sup("s-esc", 2, "session.finished", finished("failed", Some(HOSTILE))),
        ],
    )
    .await;
    let logs = agentctl(&app, &["logs", "s-esc"]).await;
    check(
        &logs,
        0,
        expect![[r#"
            \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
            ⏺ \u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred
            ✗ failed (\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}\u{1b}]0;title\u{7}\u{1b}[2Jwiped\u{d}forged\u{9b}31mred) · 1 turn · 1s
        "#]],
    );
    let show = agentctl(&app, &["show", "s-esc"]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout
            .contains("Error:     \\u{1b}]52;c;ZWNobyBwd25lZA==\\u{7}\\u{1b}]0;title"),
        "{}",
        show.stdout
    );
    for run in [&logs, &show] {
        assert!(
            !run.stdout.contains(['\x1b', '\x07', '\r', '\u{9b}']),
            "{}",
            run.stdout
        );
    }
    // jsonl is the SDK message as stored: JSON, whose strings carry the escapes as `\u001b`.
    let jsonl = agentctl(&app, &["logs", "s-esc", "-o", "jsonl"]).await;
    assert_eq!(jsonl.code, 0, "{}", jsonl.stderr);
    let parsed: serde_json::Value = serde_json::from_str(jsonl.stdout.trim_end()).expect("one JSON line");
    assert_eq!(parsed, assistant);
    app.stop().await;
}
