//! A conversation's page through a signed-in browser (DESIGN §11, §9): its sessions in order, each linked.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::triggers::with_agent;
use crate::helpers::TestDb;
use crate::on_both_backends;

on_both_backends!(a_conversation_page_lists_its_sessions_in_order);

async fn a_conversation_page_lists_its_sessions_in_order(db: TestDb) {
    let (app, mut browser) = with_agent(&db).await;
    let mut ids = Vec::new();
    for (n, prompt) in ["first", "second", "third"].iter().enumerate() {
        let mut body = json!({"prompt": prompt, "sessionId": format!("conv-{n}")});
        if n > 0 {
            body["conversationId"] = Value::from("conv-0");
        }
        let (status, answer) = app
            .post_public("/api/v1/agents/support-bot/sessions", &body)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        ids.push(format!("conv-{n}"));
    }
    let page = browser.get("/conversations/conv-0").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let at: Vec<usize> = ids
        .iter()
        .map(|id| {
            page.body
                .find(&format!(r#"<a href="/sessions/{id}">"#))
                .unwrap_or_else(|| panic!("{id} in {}", page.body))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "in order: {at:?}");
    assert!(
        page.body.contains(r#"<a href="/agents/support-bot">"#),
        "{}",
        page.body
    );
    assert_eq!(
        browser.get("/conversations/none").await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}
