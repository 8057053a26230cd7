//! The agents pages through a signed-in browser (DESIGN §11, §9): the form creates what the PUT of the same
//! JSON creates, edits make versions (an unchanged form none), diffs, SKILL.md checks, write-only secrets,
//! running and deleting; on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::browser::{Browser, Page};
use crate::helpers::{TestApp, TestDb, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    an_agent_made_with_the_form_is_the_put_of_the_same_json_and_an_unchanged_form_keeps_its_version,
    an_edit_makes_the_next_version_and_the_diff_shows_the_changed_line,
    a_skill_with_a_bad_name_is_refused_naming_the_skill_and_the_field_and_the_form_keeps_what_was_typed,
    secrets_are_set_kept_replaced_and_removed_and_no_page_ever_shows_a_value,
    running_an_agent_queues_a_session_with_the_prompt_and_answers_303_to_it,
    deleting_an_agent_asks_first_and_a_post_without_its_csrf_token_changes_nothing,
);

const SKILL: &str = "---\nname: triage\ndescription: Sorts the mail\n---\nRead it, then sort it.\n";

/// The form as a person fills it in (the new agent's `id` is added by the caller).
fn fields(max_turns: &str) -> Vec<(&'static str, String)> {
    vec![
        ("description", "Answers <script>alert(1)</script> mail".into()),
        ("model", "claude-test".into()),
        ("systemPrompt", "Be brief.\r\nBe kind.".into()),
        ("maxTurns", max_turns.into()),
        ("allowedTools", "Read, Grep".into()),
        ("disallowedTools", "".into()),
        ("permissionMode", "acceptEdits".into()),
        ("maxBudgetUsd", "".into()),
        ("timeoutSeconds", "600".into()),
        ("runtimeSelector", "pool=default\n".into()),
        ("env", "# pasted\nexport TZ=\"Europe/Berlin\"\n".into()),
        ("skill_md", SKILL.into()),
        ("skill_md", "".into()),
        ("file_path", "policies/refunds.md".into()),
        ("file_content", "Refunds within 30 days.".into()),
        ("file_path", "".into()),
        ("file_content", "".into()),
        ("mcpServers", "".into()),
        ("new_secret_name", "".into()),
        ("new_secret_value", "".into()),
    ]
}

/// The JSON a person would PUT for the same agent.
fn same_json(max_turns: u32) -> Value {
    json!({
        "description": "Answers <script>alert(1)</script> mail", "model": "claude-test",
        "systemPrompt": "Be brief.\nBe kind.", "maxTurns": max_turns, "allowedTools": ["Read", "Grep"],
        "permissionMode": "acceptEdits", "timeoutSeconds": 600, "runtimeSelector": {"pool": "default"},
        "env": {"TZ": "Europe/Berlin"},
        "skills": [{"name": "triage", "files": {"SKILL.md": SKILL}}],
        "files": [{"path": "policies/refunds.md", "content": "Refunds within 30 days."}],
    })
}

async fn submit(browser: &mut Browser, path: &str, fields: &[(&str, String)]) -> Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.submit(path, &fields).await
}

async fn create(browser: &mut Browser, id: &str, mut form: Vec<(&'static str, String)>) -> Page {
    let page = browser.get("/agents/new").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"<form id="agent-form""#), "{}", page.body);
    form.push(("id", id.to_owned()));
    submit(browser, "/agents", &form).await
}

/// The API's answer for the agent, without what differs between two agents made alike.
async fn definition(app: &TestApp, id: &str) -> Value {
    let (status, mut agent) = app.get(&format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{agent}");
    for field in ["id", "createdAt", "updatedAt"] {
        agent.as_object_mut().expect("an object").remove(field);
    }
    agent
}

async fn an_agent_made_with_the_form_is_the_put_of_the_same_json_and_an_unchanged_form_keeps_its_version(
    db: TestDb,
) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    let made = create(&mut browser, "support-bot", fields("5")).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    assert_eq!(made.location(), Some("/agents/support-bot"));
    let (status, answer) = crate::agents::put(&app, "twin", &same_json(5)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(
        definition(&app, "support-bot").await,
        definition(&app, "twin").await
    );

    let list = browser.get("/agents").await;
    assert_eq!(list.status, StatusCode::OK);
    for part in [
        r#"<table id="agents">"#,
        r#"<tr data-agent="support-bot">"#,
        r#"<a id="new-agent" class="button" href="/agents/new">"#,
        r#"href="/sessions?agent=support-bot""#,
        "&#60;script&#62;alert(1)&#60;/script&#62;",
    ] {
        assert!(list.body.contains(part), "{part} in {}", list.body);
    }
    assert!(!list.body.contains("<script>alert"), "a description is text");

    // The edit form shows what is stored; posted back unchanged, it makes no version.
    let edit = browser.get("/agents/support-bot/edit").await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
    for part in [
        r#"value="claude-test""#,
        r#"<option value="acceptEdits" selected>"#,
        "Refunds within 30 days.",
        "name: triage",
        "TZ=Europe/Berlin",
    ] {
        assert!(edit.body.contains(part), "{part} in {}", edit.body);
    }
    let again = submit(&mut browser, "/agents/support-bot", &fields("5")).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(definition(&app, "support-bot").await["version"], 1);
    // A new agent's form under a taken id does not overwrite it.
    let taken = create(&mut browser, "support-bot", fields("9")).await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.body.contains("exists"), "{}", taken.body);
    assert_eq!(definition(&app, "support-bot").await["maxTurns"], 5);
    app.stop().await;
}

async fn an_edit_makes_the_next_version_and_the_diff_shows_the_changed_line(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    create(&mut browser, "support-bot", fields("5")).await;
    let edited = submit(&mut browser, "/agents/support-bot", &fields("7")).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    assert_eq!(definition(&app, "support-bot").await["version"], 2);
    let page = browser.get("/agents/support-bot").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<a class="diff" href="/agents/support-bot/diff?from=1&amp;to=2">"#),
        "{}",
        page.body
    );
    let diff = browser.get("/agents/support-bot/diff?from=1&to=2").await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
    assert!(
        diff.body
            .contains(r#"<span class="del">-   &#34;maxTurns&#34;: 5,</span>"#),
        "{}",
        diff.body
    );
    assert!(
        diff.body
            .contains(r#"<span class="add">+   &#34;maxTurns&#34;: 7,</span>"#),
        "{}",
        diff.body
    );
    let old = browser.get("/agents/support-bot/versions/1").await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(old.body.contains("&#34;maxTurns&#34;: 5"), "{}", old.body);
    assert_eq!(
        browser.get("/agents/support-bot/versions/9").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

async fn a_skill_with_a_bad_name_is_refused_naming_the_skill_and_the_field_and_the_form_keeps_what_was_typed(
    db: TestDb,
) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    let mut form = fields("5");
    form.retain(|(k, _)| *k != "skill_md");
    form.push(("skill_md", "---\nname: Bad_Skill\ndescription: x\n---\n".into()));
    form.push(("new_secret_name", "CRM_TOKEN".into()));
    form.push(("new_secret_value", "crm-secret-value-123".into()));
    let page = create(&mut browser, "support-bot", form).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<p class="error" role="alert">skill &#34;Bad_Skill&#34;: skills[0].name:"#),
        "{}",
        page.body
    );
    for kept in [
        "name: Bad_Skill",
        r#"value="claude-test""#,
        r#"value="support-bot""#,
        r#"value="CRM_TOKEN""#,
    ] {
        assert!(page.body.contains(kept), "{kept} in {}", page.body);
    }
    assert!(
        !page.body.contains("crm-secret-value-123"),
        "a secret value is not shown again"
    );
    let (status, _) = app.get("/api/v1/agents/support-bot").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing stored");
    app.stop().await;
}

async fn secrets_are_set_kept_replaced_and_removed_and_no_page_ever_shows_a_value(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    let (first, second) = ("first-secret-value-4f2a", "second-secret-value-9c1b");
    let mut bodies = Vec::new();
    let mut form = fields("5");
    form.push(("new_secret_name", "CRM_TOKEN".into()));
    form.push(("new_secret_value", first.into()));
    let made = create(&mut browser, "support-bot", form).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let set_at = definition(&app, "support-bot").await["secrets"]["CRM_TOKEN"]["updatedAt"].clone();
    assert!(set_at.is_string(), "set");

    let page = browser.get("/agents/support-bot").await;
    assert!(
        page.body
            .contains("<code>CRM_TOKEN</code> <span class=\"badge\">set</span>"),
        "{}",
        page.body
    );
    bodies.push(page.body);
    let edit = browser.get("/agents/support-bot/edit").await;
    assert!(
        edit.body.contains(r#"name="secret_value.CRM_TOKEN""#),
        "{}",
        edit.body
    );
    bodies.push(edit.body);

    // Kept: an empty value.
    let mut keep = fields("5");
    keep.push(("secret", "CRM_TOKEN".into()));
    keep.push(("secret_value.CRM_TOKEN", "".into()));
    bodies.push(submit(&mut browser, "/agents/support-bot", &keep).await.body);
    let agent = definition(&app, "support-bot").await;
    assert_eq!(
        (
            agent["version"].clone(),
            agent["secrets"]["CRM_TOKEN"]["updatedAt"].clone()
        ),
        (json!(1), set_at.clone())
    );

    // Replaced: a value.
    let mut replace = fields("5");
    replace.push(("secret", "CRM_TOKEN".into()));
    replace.push(("secret_value.CRM_TOKEN", second.into()));
    bodies.push(submit(&mut browser, "/agents/support-bot", &replace).await.body);
    let agent = definition(&app, "support-bot").await;
    assert_eq!(agent["version"], 2);
    assert_ne!(agent["secrets"]["CRM_TOKEN"]["updatedAt"], set_at);
    // The session's job carries the new value.
    let run = browser
        .submit("/agents/support-bot/run", &[("prompt", "hi")])
        .await;
    assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
    let jobs = claim(&app).await;
    assert_eq!(jobs[0]["env"]["CRM_TOKEN"], second);
    bodies.push(browser.get("/agents/support-bot/diff?from=1&to=2").await.body);
    bodies.push(browser.get("/agents/support-bot/versions/1").await.body);

    // Removed: the checkbox.
    let mut remove = fields("5");
    remove.push(("secret", "CRM_TOKEN".into()));
    remove.push(("secret_value.CRM_TOKEN", "".into()));
    remove.push(("secret_remove.CRM_TOKEN", "1".into()));
    bodies.push(submit(&mut browser, "/agents/support-bot", &remove).await.body);
    let agent = definition(&app, "support-bot").await;
    assert_eq!(
        (agent["version"].clone(), agent["secrets"].clone()),
        (json!(3), json!({}))
    );
    bodies.push(browser.get("/agents/support-bot").await.body);
    bodies.push(browser.get("/agents").await.body);
    for body in &bodies {
        assert!(
            !body.contains(first) && !body.contains(second),
            "no secret value in {body}"
        );
    }
    app.stop().await;
}

async fn claim(app: &TestApp) -> Vec<Value> {
    let (status, answer) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "rt-1", "labels": {"pool": "default"}, "free": 10, "waitSeconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["jobs"].as_array().expect("jobs").clone()
}

async fn running_an_agent_queues_a_session_with_the_prompt_and_answers_303_to_it(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    create(&mut browser, "support-bot", fields("5")).await;
    let page = browser.get("/agents/support-bot").await;
    assert!(
        page.body
            .contains(r#"<form id="run" method="post" action="/agents/support-bot/run">"#),
        "{}",
        page.body
    );
    let run = browser
        .submit(
            "/agents/support-bot/run",
            &[("prompt", "Sort <b>this</b>\r\nmail"), ("conversationId", "")],
        )
        .await;
    assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.body);
    let location = run.location().expect("a location").to_owned();
    let session = location.strip_prefix("/sessions/").expect("a session page");
    let (status, detail) = app.get(&format!("/api/v1/sessions/{session}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(
        (detail["status"].clone(), detail["agentId"].clone()),
        (json!("queued"), json!("support-bot"))
    );
    let jobs = claim(&app).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        (jobs[0]["sessionId"].as_str(), jobs[0]["prompt"].as_str()),
        (Some(session), Some("Sort <b>this</b>\nmail"))
    );
    // Continuing its conversation queues the next session in it.
    let next = browser
        .submit(
            "/agents/support-bot/run",
            &[("prompt", "And this"), ("conversationId", session)],
        )
        .await;
    assert_eq!(next.status, StatusCode::SEE_OTHER, "{}", next.body);
    let (_, conversation) = app.get(&format!("/api/v1/conversations/{session}")).await;
    assert_eq!(
        conversation["sessions"].as_array().map(Vec::len),
        Some(2),
        "{conversation}"
    );
    // An empty prompt is refused, as the API refuses it.
    let empty = browser
        .submit("/agents/support-bot/run", &[("prompt", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("prompt: must not be empty"), "{}", empty.body);
    app.stop().await;
}

async fn deleting_an_agent_asks_first_and_a_post_without_its_csrf_token_changes_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    create(&mut browser, "support-bot", fields("5")).await;
    let page = browser.get("/agents/support-bot").await;
    assert!(
        page.body
            .contains(r#"<a id="delete" href="/agents/support-bot/delete">"#),
        "{}",
        page.body
    );
    let confirm = browser.get("/agents/support-bot/delete").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm
            .body
            .contains(r#"<form id="delete-agent" method="post" action="/agents/support-bot/delete">"#),
        "{}",
        confirm.body
    );
    // Without the CSRF token: refused, before anything changed.
    for (path, form) in [
        ("/agents/support-bot/delete", vec![]),
        ("/agents/support-bot", vec![("maxTurns", "9")]),
        ("/agents", vec![("id", "other")]),
        ("/agents/support-bot/run", vec![("prompt", "hi")]),
    ] {
        assert_eq!(
            browser.post(path, &form).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let agent = definition(&app, "support-bot").await;
    assert_eq!(
        (agent["version"].clone(), agent["maxTurns"].clone()),
        (json!(1), json!(5))
    );
    assert_eq!(app.get("/api/v1/agents/other").await.0, StatusCode::NOT_FOUND);
    assert!(claim(&app).await.is_empty(), "nothing queued");
    let deleted = browser.submit("/agents/support-bot/delete", &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(deleted.location(), Some("/agents"));
    assert_eq!(
        app.get("/api/v1/agents/support-bot").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser.get("/agents/support-bot").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
