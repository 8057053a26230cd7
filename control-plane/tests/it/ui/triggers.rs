//! The triggers pages through a signed-in browser (DESIGN §11, §10): a trigger made from YAML, edited with
//! its write-only values kept, its hook URL and `verify: none` warning, deliveries with their session and a
//! replay, deletion, refused forms. On both backends.

use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use crate::helpers::{TestApp, TestDb, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    a_trigger_made_from_yaml_shows_the_hook_url_to_paste_and_warns_that_it_is_unverified,
    bad_yaml_is_refused_naming_the_line_and_the_form_keeps_the_text,
    an_edit_keeps_the_write_only_secret_and_no_page_shows_it,
    a_delivery_shows_with_its_status_and_session_and_a_replay_queues_it_again,
    deleting_a_trigger_asks_first_and_forms_without_the_csrf_token_change_nothing,
);

const UNVERIFIED: &str =
    "agentId: support-bot\nkind: webhook\nverify:\n  scheme: none\nprompt: |\n  Ticket {{ body.ticket }}\n";
const SIGNING_SECRET: &str = "github-signing-secret-77aa";

pub(super) async fn with_agent(db: &TestDb) -> (TestApp, Browser) {
    let app = spawn_app(db).await;
    let (status, answer) = crate::agents::put(&app, "support-bot", &json!({"model": "claude-test"})).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let browser = Browser::signed_in(&app).await;
    (app, browser)
}

async fn create(browser: &mut Browser, id: &str, definition: &str) -> super::browser::Page {
    let form = browser.get("/triggers/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains(r#"<form id="trigger-form""#), "{}", form.body);
    browser
        .submit("/triggers", &[("id", id), ("definition", definition)])
        .await
}

async fn a_trigger_made_from_yaml_shows_the_hook_url_to_paste_and_warns_that_it_is_unverified(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    let made = create(&mut browser, "inbox", UNVERIFIED).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(made.location(), Some("/triggers/inbox"));
    let (status, stored) = app.get("/api/v1/triggers/inbox").await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["prompt"], "Ticket {{ body.ticket }}\n");
    let page = browser.get("/triggers/inbox").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let url = app.url("/hooks/inbox");
    for part in [
        format!(
            r#"<p id="hook-url"><code>{url}</code> <button type="button" class="secondary" data-copy="{url}">"#
        ),
        r#"<p id="unverified" class="warn""#.to_owned(),
    ] {
        assert!(page.body.contains(&part), "{part} in {}", page.body);
    }
    let list = browser.get("/triggers").await;
    for part in [
        r#"<table id="triggers">"#,
        r#"<tr data-trigger="inbox">"#,
        r#"<a id="new-trigger" class="button" href="/triggers/new">"#,
        "UNVERIFIED",
    ] {
        assert!(list.body.contains(part), "{part} in {}", list.body);
    }
    // A verified trigger carries no warning.
    let verified = format!(
        "agentId: support-bot\nkind: webhook\nverify:\n  scheme: github\n  secrets: [{SIGNING_SECRET}]\nprompt: x\n"
    );
    assert_eq!(
        create(&mut browser, "signed", &verified).await.status,
        StatusCode::SEE_OTHER
    );
    let page = browser.get("/triggers/signed").await;
    assert!(!page.body.contains(r#"id="unverified""#), "{}", page.body);
    app.stop().await;
}

async fn bad_yaml_is_refused_naming_the_line_and_the_form_keeps_the_text(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    let bad = "agentId: support-bot\nkind: webhook\nverify:\n  scheme: none\n  extra: [\nprompt: x\n";
    let page = create(&mut browser, "inbox", bad).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<p class="error" role="alert">definition: invalid YAML"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("line 5"), "{}", page.body);
    assert!(
        page.body.contains("  extra: [\nprompt: x\n</textarea>"),
        "{}",
        page.body
    );
    // A definition the checks refuse names the field; an unknown agent is named too.
    let page = create(&mut browser, "inbox", &UNVERIFIED.replace("webhook", "fax")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("kind: unknown variant"), "{}", page.body);
    let page = create(
        &mut browser,
        "inbox",
        &UNVERIFIED.replace("support-bot", "nobody"),
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("agentId: agent nobody not found"),
        "{}",
        page.body
    );
    assert_eq!(app.get("/api/v1/triggers/inbox").await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn an_edit_keeps_the_write_only_secret_and_no_page_shows_it(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    let definition = format!(
        "agentId: support-bot\nkind: webhook\nverify:\n  scheme: github\n  secrets: [{SIGNING_SECRET}]\nprompt: first\n"
    );
    let made = create(&mut browser, "signed", &definition).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let edit = browser.get("/triggers/signed/edit").await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("&#34;set&#34;: true"), "{}", edit.body);
    // The text as the form shows it, with the prompt changed.
    let start = edit.body.find("spellcheck=\"false\">").expect("the textarea") + 19;
    let end = start + edit.body[start..].find("</textarea>").expect("its end");
    let shown = edit.body[start..end].replace("&#34;", "\"");
    let changed = shown.replace("\"prompt\": \"first\"", "\"prompt\": \"second\"");
    assert_ne!(changed, shown, "{shown}");
    let saved = browser
        .submit("/triggers/signed", &[("definition", &changed)])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, stored) = app.get("/api/v1/triggers/signed").await;
    assert_eq!(stored["prompt"], "second");
    assert_eq!(stored["verify"]["secrets"][0]["set"], true, "{stored}");
    let mut bodies = vec![edit.body, saved.body];
    for path in ["/triggers/signed", "/triggers/signed/edit", "/triggers"] {
        bodies.push(browser.get(path).await.body);
    }
    for body in &bodies {
        assert!(!body.contains(SIGNING_SECRET), "no secret in {body}");
    }
    app.stop().await;
}

async fn a_delivery_shows_with_its_status_and_session_and_a_replay_queues_it_again(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    create(&mut browser, "inbox", UNVERIFIED).await;
    let hook = app
        .http
        .post(app.url("/hooks/inbox"))
        .json(&json!({"ticket": 42}))
        .send()
        .await
        .expect("send");
    assert!(hook.status().is_success(), "{}", hook.status());
    let (_, list) = app.get("/api/v1/triggers/inbox/deliveries").await;
    let delivery = list["deliveries"][0].clone();
    let (id, session) = (
        delivery["deliveryId"].as_str().expect("an id").to_owned(),
        delivery["sessionId"].as_str().expect("a session").to_owned(),
    );
    let page = browser.get("/triggers/inbox").await;
    for part in [
        r#"<table id="deliveries">"#.to_owned(),
        format!(r#"<tr data-delivery="{id}">"#),
        r#"<td class="status"><span class="badge state-queued">queued</span></td>"#.to_owned(),
        format!(r#"<a href="/sessions/{session}">"#),
        format!(r#"<form class="replay" method="post" action="/deliveries/{id}/replay">"#),
        r##"hx-get="/triggers/inbox" hx-trigger="every 5s" hx-select="#deliveries-wrap""##.to_owned(),
    ] {
        assert!(page.body.contains(&part), "{part} in {}", page.body);
    }
    let replayed = browser.submit(&format!("/deliveries/{id}/replay"), &[]).await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER, "{}", replayed.body);
    assert_eq!(replayed.location(), Some("/triggers/inbox"));
    let (_, sessions) = app.get("/api/v1/sessions?agent=support-bot").await;
    assert_eq!(
        sessions["sessions"].as_array().map(Vec::len),
        Some(2),
        "{sessions}"
    );
    // An unknown delivery is not found.
    let unknown = browser.submit("/deliveries/nothing/replay", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn deleting_a_trigger_asks_first_and_forms_without_the_csrf_token_change_nothing(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    create(&mut browser, "inbox", UNVERIFIED).await;
    let confirm = browser.get("/triggers/inbox/delete").await;
    assert!(
        confirm
            .body
            .contains(r#"<form id="delete-trigger" method="post" action="/triggers/inbox/delete">"#),
        "{}",
        confirm.body
    );
    for (path, form) in [
        ("/triggers/inbox/delete", vec![]),
        (
            "/triggers/inbox",
            vec![("definition", "agentId: support-bot\nkind: sms\n")],
        ),
        ("/triggers", vec![("id", "other"), ("definition", UNVERIFIED)]),
    ] {
        let page = browser.post(path, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    let (_, stored) = app.get("/api/v1/triggers/inbox").await;
    assert_eq!(stored["kind"], "webhook");
    assert_eq!(app.get("/api/v1/triggers/other").await.0, StatusCode::NOT_FOUND);
    let deleted = browser.submit("/triggers/inbox/delete", &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(app.get("/api/v1/triggers/inbox").await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}
