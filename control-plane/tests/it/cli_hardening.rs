//! `agentctl` against a hostile agent and a careless caller (issue 10): terminal escapes, URLs without a scheme,
//! a server that is not a control plane, the API's spelling of a status, seed logs, a follow started before the
//! session exists, and id prefixes. Each runs the real binary against a real server.

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use expect_test::expect;
use serde_json::json;

use crate::cli::{agentctl, agentctl_with, check, command, finish};
use crate::helpers::{Ending, Kind, TestApp, TestDb, ev, spawn_app, sup, transcript};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_without_a_scheme_is_a_usage_error_with_a_hint() {
    for (url, hint) in [
        ("localhost:3000", "did you mean http://localhost:3000?"),
        ("127.0.0.1:3000", "did you mean http://127.0.0.1:3000?"),
    ] {
        let run = agentctl_with(command(url, &["sessions"])).await;
        check(&run, 2, expect![""]);
        assert!(run.stderr.contains(hint), "{url}: {}", run.stderr);
    }
    let ftp = agentctl_with(command("ftp://example.com", &["sessions"])).await;
    check(&ftp, 2, expect![""]);
    expect![[r#"
        agentctl: --url ftp://example.com: the scheme must be http or https
    "#]]
    .assert_eq(&ftp.stderr);
    let runtime = agentctl_with(command(
        "http://127.0.0.1:1",
        &[
            "run",
            "--runtime",
            "localhost:8080",
            "--agent",
            "a",
            "--prompt",
            "x",
        ],
    ))
    .await;
    check(&runtime, 2, expect![""]);
    expect![[r#"
        agentctl: --runtime localhost:8080 has no scheme: did you mean http://localhost:8080?
    "#]]
    .assert_eq(&runtime.stderr);
}

/// An HTTP server that is not a control plane: every route answers 404 with `body`.
async fn foreign_server(body: &'static str) -> String {
    let router =
        axum::Router::new().fallback(move || async move { (axum::http::StatusCode::NOT_FOUND, body) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_not_a_control_plane_is_named_as_such() {
    for body in [
        "<html><body>Not Found</body></html>",
        r#"{"message":"Not Found"}"#,
        // What a supervisor (or any agent-studio server without the route) answers.
        r#"{"error":{"code":"not_found","message":"no such route"}}"#,
    ] {
        let url = foreign_server(body).await;
        for args in [&["show", "s-1"][..], &["sessions"][..]] {
            let run = agentctl_with(command(&url, args)).await;
            assert_eq!(run.code, 1, "{body}: {}", run.stderr);
            assert!(
                run.stderr
                    .starts_with(&format!("agentctl: {url} is not an Agent Studio control plane")),
                "{body}: {}",
                run.stderr
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_spelling_of_timed_out_filters_the_list_and_the_old_one_still_does() {
    let (_db, app) = app().await;
    app.ingest(
        "rt-1",
        &[
            ev("s-slow", 0, "text", json!({"text": "working"})),
            sup(
                "s-slow",
                1,
                "session.finished",
                finished("timed_out", Some("timed out")),
            ),
            ev("s-other", 0, "text", json!({"text": "working"})),
        ],
    )
    .await;
    for spelling in ["timed_out", "timed-out"] {
        check(
            &agentctl(&app, &["ps", "--status", spelling, "-o", "name"]).await,
            0,
            expect![[r#"
                s-slow
            "#]],
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_jsonl_prints_seed_log_entries_as_stored() {
    let (_db, app) = app().await;
    for (key, value) in [
        ("progress", json!("cloned the repository")),
        ("metrics", json!({"files": 3})),
    ] {
        let (status, answer) = app
            .post_internal(
                "/api/internal/logs",
                &json!({"agentId": "seed-agent", "sessionId": "s-seed", "key": key, "value": value,
                        "timestamp": "2026-11-25T12:00:00.000Z"}),
            )
            .await;
        assert!(status.is_success(), "{answer}");
    }
    check(
        &agentctl(&app, &["logs", "s-seed", "-o", "jsonl"]).await,
        0,
        expect![[r#"
            {"key":"progress","value":"cloned the repository"}
            {"key":"metrics","value":{"files":3}}
        "#]],
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_started_before_the_first_batch_waits_for_the_session_then_follows_it() {
    let (_db, app) = app().await;
    let mut cmd = command(&app.url(""), &["logs", "-f", "s-late"]);
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (waiting_tx, waiting_rx) = tokio::sync::oneshot::channel::<()>();
    // Reads stderr to its end (so agentctl never blocks on it), saying when the wait note appears.
    let reader = std::thread::spawn(move || {
        let mut waiting_tx = Some(waiting_tx);
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.expect("a line");
            if line.contains("waiting for session s-late")
                && let Some(tx) = waiting_tx.take()
            {
                let _ = tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let waiting = tokio::time::timeout(Duration::from_secs(20), waiting_rx).await;
    if !matches!(waiting, Ok(Ok(()))) {
        let run = finish(child).await;
        let stderr = reader.join().expect("join");
        panic!(
            "agentctl did not wait for the session (exit {}): {stderr}",
            run.code
        );
    }
    app.ingest("rt-1", &transcript("s-late", "rt-1", "failed", Ending::Failed))
        .await;
    let run = tokio::time::timeout(Duration::from_secs(20), finish(child))
        .await
        .expect("logs -f ends with the session");
    let stderr = reader.join().expect("join");
    assert_eq!(run.code, 0, "{stderr}");
    expect![[r#"
        session s-late · agent reviewer · runner node /opt/agent-runner/run.mjs · pid 4242
        model claude-haiku-4-5 · 2 tools · cwd /workspace/sessions/s-fail
        ⏺ Bash(make)
          ⎿  ✗ make: *** No targets specified and no makefile found.  Stop.
        ✗ failed (error_max_turns: Reached maximum number of turns (2)) · 2 turns · 4s · $0.0123
    "#]]
    .assert_eq(&run.stdout);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_id_prefix_names_its_session_and_an_ambiguous_one_lists_the_candidates() {
    let (_db, app) = app().await;
    for sid in ["p-alpha-1", "p-alpha-12", "p-beta"] {
        app.ingest("rt-1", &transcript(sid, "rt-1", "success", Ending::Succeeded))
            .await;
    }
    app.ingest(
        "rt-1",
        &transcript("p-gamma", "rt-1", "cancelled", Ending::Running),
    )
    .await;
    let show = agentctl(&app, &["show", "p-b"]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.starts_with("Session:   p-beta\n"), "{}", show.stdout);
    let logs = agentctl(&app, &["logs", "p-b", "--tail", "1"]).await;
    check(
        &logs,
        0,
        expect![[r#"
            ✓ succeeded · 6 turns · 1m 42s · $0.0831
        "#]],
    );
    check(
        &agentctl(&app, &["wait", "p-b"]).await,
        0,
        expect![[r#"
            p-beta succeeded
        "#]],
    );
    check(
        &agentctl(&app, &["cancel", "-y", "p-g"]).await,
        0,
        expect![[r#"
            p-gamma: cancelling
        "#]],
    );
    // An id that is also a prefix of another names itself.
    let exact = agentctl(&app, &["show", "p-alpha-1"]).await;
    assert!(
        exact.stdout.starts_with("Session:   p-alpha-1\n"),
        "{}",
        exact.stdout
    );
    let ambiguous = agentctl(&app, &["show", "p-alpha"]).await;
    check(&ambiguous, 1, expect![""]);
    expect![[r#"
        agentctl: p-alpha is ambiguous: 2 sessions start with it: p-alpha-12, p-alpha-1
    "#]]
    .assert_eq(&ambiguous.stderr);
    let missing = agentctl(&app, &["wait", "p-zzz"]).await;
    check(&missing, 1, expect![""]);
    expect![[r#"
        agentctl: session p-zzz not found
    "#]]
    .assert_eq(&missing.stderr);
    let invalid = agentctl(&app, &["show", "p/../x"]).await;
    check(&invalid, 2, expect![""]);
    app.stop().await;
}
