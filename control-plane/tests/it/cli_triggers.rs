//! `agentctl triggers list|show|apply|delete` as child processes against a real server, on both backends,
//! with the example triggers of `examples/triggers/` (placeholders filled in as their comments say): what
//! each prints, the server's refusals, and secrets that never reach stdout or stderr.

use std::path::{Path, PathBuf};

use expect_test::expect;
use serde_json::{Value, json};

use crate::cli::{Run, agentctl};
use crate::helpers::{TestApp, TestDb, spawn_app};
use crate::on_both_backends;
use crate::triggers::put_agent;

/// Every placeholder of the examples and the value a test fills in.
const FILLS: [(&str, &str); 5] = [
    ("__GITHUB_WEBHOOK_SECRET__", "gh-secret-7e6d5c4b3a"),
    ("__MAILGUN_SIGNING_KEY__", "mg-signing-2b3c4d5e6f"),
    ("__MAILGUN_API_KEY__", "mg-api-8a9b0c1d2e"),
    ("__TWILIO_AUTH_TOKEN__", "tw-token-3f4e5d6c7b"),
    ("__TWILIO_ACCOUNT_SID__", "AC0123456789abcdef"),
];

async fn ctl(app: &TestApp, args: &[&str]) -> Run {
    let run = agentctl(app, args).await;
    for (_, value) in FILLS {
        assert!(
            !run.stdout.contains(value) && !run.stderr.contains(value),
            "a secret was printed: {run:?}"
        );
    }
    run
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/triggers")
}

/// An example with its placeholders filled in, written to `dir`.
fn filled(dir: &Path, name: &str) -> String {
    let mut text = std::fs::read_to_string(examples().join(name)).expect("read example");
    for (placeholder, value) in FILLS {
        text = text.replace(placeholder, value);
    }
    assert!(!text.contains("__"), "{name}: every placeholder is one of FILLS");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8 path").to_owned()
}

async fn apply_list_show_and_delete_the_example_triggers(db: TestDb) {
    let app = spawn_app(&db).await;
    put_agent(&app).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, id) in [
        ("github-webhook.yaml", "github-issues"),
        ("mailgun-email.yaml", "support-mail"),
        ("twilio-sms.yaml", "support-sms"),
    ] {
        let file = filled(dir.path(), name);
        let run = ctl(&app, &["triggers", "apply", "-f", &file]).await;
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, format!("trigger/{id} created\n").as_str()),
            "{run:?}"
        );
        let run = ctl(&app, &["triggers", "apply", "-f", &file]).await;
        assert_eq!(run.stdout, format!("trigger/{id} unchanged\n"), "{run:?}");
    }
    // A changed file: configured; the secret it no longer names is kept by `{set: true}`.
    let file = filled(dir.path(), "twilio-sms.yaml");
    let text = std::fs::read_to_string(&file)
        .expect("read")
        .replace("debounceSeconds: 10", "debounceSeconds: 20")
        .replace("- tw-token-3f4e5d6c7b", "- {set: true}");
    std::fs::write(&file, text).expect("write");
    let run = ctl(&app, &["triggers", "apply", "-f", &file]).await;
    expect!["trigger/support-sms configured\n"].assert_eq(&run.stdout);

    // Piped: tab-separated lines without a header.
    let run = ctl(&app, &["triggers", "list"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    expect![[r#"
        github-issues	support-bot	webhook	github	yes	/hooks/github-issues
        support-mail	support-bot	email	mailgun	yes	/hooks/support-mail
        support-sms	support-bot	sms	twilio	yes	/hooks/support-sms
    "#]]
    .assert_eq(&run.stdout);
    let run = ctl(&app, &["triggers", "show", "support-sms"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Debounce:    20s\n"), "{}", run.stdout);
    let secrets = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Secrets:"))
        .expect("a Secrets line");
    assert!(secrets.starts_with("Secrets:     #0 (set "), "{}", run.stdout);
    let run = ctl(&app, &["triggers", "show", "support-mail", "-o", "json"]).await;
    let shown: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(shown["reply"]["credentials"]["apiKey"]["set"], true, "{shown}");
    assert_eq!(shown["hookPath"], "/hooks/support-mail");

    let run = ctl(&app, &["triggers", "delete", "support-sms"]).await;
    expect!["trigger/support-sms deleted\n"].assert_eq(&run.stdout);
    let run = ctl(&app, &["triggers", "show", "support-sms"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("trigger support-sms not found"),
        "{}",
        run.stderr
    );
    let run = ctl(&app, &["triggers", "list", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(list["triggers"].as_array().map(Vec::len), Some(2), "{list}");
    app.stop().await;
}

async fn bad_files_are_usage_errors_and_refusals_name_the_field(db: TestDb) {
    let app = spawn_app(&db).await;
    put_agent(&app).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let no_id = dir.path().join("no-id.json");
    std::fs::write(&no_id, json!({"agentId": "support-bot"}).to_string()).expect("write");
    let run = ctl(&app, &["triggers", "apply", "-f", no_id.to_str().expect("utf-8")]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("id: missing"), "{}", run.stderr);

    let file = filled(dir.path(), "mailgun-email.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("{{ email.subject }}", "{{ email.subject }")).expect("write");
    let run = ctl(&app, &["triggers", "apply", "-f", &file]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("400") && run.stderr.contains("prompt: line 1"),
        "{}",
        run.stderr
    );
    let run = ctl(&app, &["triggers", "list"]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, ""),
        "nothing was created: {run:?}"
    );
    app.stop().await;
}

on_both_backends!(
    apply_list_show_and_delete_the_example_triggers,
    bad_files_are_usage_errors_and_refusals_name_the_field,
);

/// The examples' prompts render over events of their kind (what the hook will render them over).
#[test]
fn the_example_prompts_render_over_a_sample_event() {
    use control_plane::triggers::template::render;
    let prompt = |name: &str| -> String {
        let text = std::fs::read_to_string(examples().join(name)).expect("read example");
        let value: Value = serde_saphyr::from_str(&text).expect("yaml");
        value["prompt"].as_str().expect("a prompt").to_owned()
    };
    let github = json!({
        "body": {"action": "opened", "issue": {"number": 7, "title": "Crash on start", "body": "It crashes."},
                 "repository": {"full_name": "acme/app"}},
        "headers": {"x-github-event": "issues"}, "query": {},
    });
    let email = json!({"email": {
        "from": "ada@example.com", "to": ["support@mail.example.com"], "subject": "Refund", "text": "Hi,\n> quoted",
        "strippedText": "Hi,", "html": null, "messageId": "<m1@example.com>", "inReplyTo": null, "references": [],
        "attachments": [{"path": "attachments/invoice.pdf"}],
    }});
    let sms = json!({"sms": {"from": "+15550002222", "to": "+15550001111", "body": "hello", "media": []}});
    expect![[r#"
        GitHub event: issues (opened).

        Issue #7 in acme/app: Crash on start
        It crashes.

        Triage it: label it, and answer the reporter if something is missing."#]]
    .assert_eq(&render(&prompt("github-webhook.yaml"), &github).expect("renders"));
    expect![[r#"
        New mail from ada@example.com about "Refund":

        Hi,

        Attached (in the workspace): attachments/invoice.pdf

        Answer it as the support team would."#]]
    .assert_eq(&render(&prompt("mailgun-email.yaml"), &email).expect("renders"));
    expect![[r#"
        A text from +15550002222:
        hello

        Answer in at most two short sentences."#]]
    .assert_eq(&render(&prompt("twilio-sms.yaml"), &sms).expect("renders"));
}
