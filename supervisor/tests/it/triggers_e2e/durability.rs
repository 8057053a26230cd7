//! A mail answered 200 just before `serve` is killed runs, and is answered, after the restart.

use serde_json::json;

use super::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_answered_200_survives_a_kill_9_of_serve_and_its_session_runs_and_is_answered_after_the_restart()
 {
    let model = FakeModel::scenarios(&scenarios()).await;
    let mailgun = StandIn::start(&[]).await;
    let (mut cp, _pg, sqlite) = control_plane(None, replying_to(&mailgun)).await;
    cp.put_agent("support-bot", &agent()).await;
    cp.put_trigger(
        "support-mail",
        &json!({
            "agentId": "support-bot", "kind": "email",
            "verify": {"scheme": "mailgun", "secrets": [MAILGUN_KEY]},
            "prompt": "scenario:mail Mail from {{ email.from }}:\n{{ email.text }}",
            "reply": {"kind": "mailgun", "from": SUPPORT, "credentials": {"apiKey": "key-mailgun-api-1f2e"}},
        }),
    )
    .await;
    let mail = Mail {
        from: CUSTOMER,
        to: SUPPORT,
        subject: "Invoice 1042 is wrong",
        text: "MAIL-A: posted just before the crash.",
        message_id: "crash-1042@mail.example.com",
        ..Mail::default()
    };
    // No runtime yet: the session can only be queued when serve dies.
    let id = post_mailgun(&cp, "support-mail", &mail, "token-crash-0001").await;
    cp.kill();
    let db = sqlite.expect("a SQLite database");
    let cp = ControlPlane::start_configured(cp.addr, &db.url(), &replying_to(&mailgun)).await;
    let sup = puller(&cp, &model);
    let session = succeeded(&cp, &sup, &id).await;
    assert!(
        session["resultText"].as_str().unwrap().starts_with("REPLY-ONE"),
        "{session}"
    );
    let replies = received(&mailgun, 1).await;
    assert_eq!(
        replies[0].field("h:In-Reply-To").as_deref(),
        Some("<crash-1042@mail.example.com>")
    );
    // The provider's redelivery after the crash starts nothing.
    let (status, _, again) = cp
        .post_hook(
            "support-mail",
            "application/x-www-form-urlencoded",
            &[],
            mailgun_form(&mail, MAILGUN_KEY, "token-crash-0001"),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert!(again.contains("\"duplicate\""), "{again}");
}
