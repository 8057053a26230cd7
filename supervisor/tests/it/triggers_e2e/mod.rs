//! Triggers end to end (issue 12 "Prove it", DESIGN §10): a real `agentctl serve` (in this process), a
//! supervisor pulling from it, the real runner and `fake-anthropic`; mail and SMS posted the way Mailgun,
//! SendGrid and Twilio post them, signed by the test itself. A thread of mails becomes one conversation
//! whose sessions run one after the other, an attachment is a file the agent reads, and a burst of SMS
//! becomes one session.
//!
//! `thread`: the email thread (both backends); `sms`: the debounced SMS burst; `durability`: a mail
//! answered just before `serve` is killed. What they share is here.

mod durability;
mod sms;
mod thread;

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::fixtures::PgDb;
use crate::support::*;

pub(super) const WAIT: Duration = Duration::from_secs(60);
/// Mailgun's webhook signing key of the email trigger.
pub(super) const MAILGUN_KEY: &str = "key-mailgun-signing-0b7d4c2a";
/// Twilio's auth token of the SMS trigger.
pub(super) const AUTH_TOKEN: &str = "twilio-auth-token-5c7a9e0f";
pub(super) const NOTES: &str = "NOTES-CONTENT-8812 seats: 12";
pub(super) const SUPPORT: &str = "support@inbound.example.com";
pub(super) const CUSTOMER: &str = "Alice Example <alice@example.com>";

pub(super) fn agent() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "maxTurns": 8,
        "permissionMode": "bypassPermissions",
        "allowedTools": ["Bash"],
    })
}

/// The model's side: `mail` answers each mail of the thread in turn (the second by reading the attachment
/// first), `sms` answers once.
pub(super) fn scenarios() -> Value {
    let bash = |command: &str| json!({"name": "Bash", "input": {"command": command, "description": "read"}});
    json!({"default": "fresh", "scenarios": {
        "fresh": {"turns": [{"text": "NOT RESUMED"}]},
        "mail": {"turns": [
            {"text": "REPLY-ONE: we are looking at invoice 1042."},
            {"text": "Reading the notes.", "toolUse": bash("cat attachments/notes.txt")},
            {"text": "REPLY-TWO: the notes say {{tool_result}}"},
            {"text": "REPLY-AUTO: nobody reads this."},
            {"text": "REPLY-THREE: fixed."},
            {"text": "REPLY-FOUR: noted."}
        ]},
        "sms": {"turns": [{"text": "SMS-ANSWER: on my way"}]}
    }})
}

/// A supervisor pulling from `cp`, running the real SDK against `model`.
pub(super) fn puller(cp: &ControlPlane, model: &FakeModel) -> Sup {
    shipping_to(cp.addr)
        .runtime_id("rt-triggers")
        .real_sdk()
        .model(model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start()
}

/// Waits until session `id` is finished and answers it as the API shows it; it must have succeeded.
pub(super) async fn succeeded(cp: &ControlPlane, sup: &Sup, id: &str) -> Value {
    let mut session = Value::Null;
    let finished = eventually(WAIT, async || {
        session = cp.session(id).await;
        session["finishedAt"].is_string()
    })
    .await;
    assert!(finished, "{id} did not finish: {session}\n{}", sup.stderr());
    assert_eq!(session["status"], "succeeded", "{session}\n{}", sup.stderr());
    session
}

/// Posts a mail as a Mailgun form; it must be accepted, and its session is answered.
pub(super) async fn post_mailgun(cp: &ControlPlane, trigger: &str, mail: &Mail<'_>, token: &str) -> String {
    let (status, _, answer) = cp
        .post_hook(
            trigger,
            "application/x-www-form-urlencoded",
            &[],
            mailgun_form(mail, MAILGUN_KEY, token),
        )
        .await;
    session_of(status, &answer)
}

pub(super) fn session_of(status: u16, answer: &str) -> String {
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(answer).expect("JSON");
    assert_eq!(answer["status"], "queued", "{answer}");
    answer["sessionId"].as_str().expect("a session").to_owned()
}

/// The text of every tool result of a session's events.
pub(super) fn tool_results(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "user")
        .flat_map(|e| {
            e["data"]["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| b["type"] == "tool_result")
        .map(|b| b["content"].to_string())
        .collect()
}

/// Settings that send the replies to `stand_in` as Twilio's and Mailgun's APIs.
pub(super) fn replying_to(stand_in: &StandIn) -> Settings {
    let mut settings = Settings::default();
    settings.replies.providers.twilio = stand_in.url().parse().expect("a URL");
    settings.replies.providers.mailgun = stand_in.url().parse().expect("a URL");
    settings
}

/// A control plane on SQLite, or on a PostgreSQL database of its own (dropped after it).
pub(super) async fn control_plane(
    postgres: Option<&str>,
    mut settings: Settings,
) -> (ControlPlane, Option<PgDb>, Option<SqliteDb>) {
    match postgres {
        None => {
            let db = SqliteDb::new();
            let cp = ControlPlane::start_configured(free_addr(), &db.url(), &settings).await;
            (cp, None, Some(db))
        }
        Some(admin) => {
            let db = PgDb::create(admin);
            settings.secrets_key = Some(SECRETS_KEY.to_owned());
            let cp = ControlPlane::start_configured(free_addr(), &db.url, &settings).await;
            (cp, Some(db), None)
        }
    }
}

/// Waits until `stand_in` holds `n` requests and answers them.
pub(super) async fn received(stand_in: &StandIn, n: usize) -> Vec<Recorded> {
    let arrived = eventually(WAIT, async || stand_in.requests().len() >= n).await;
    let requests = stand_in.requests();
    assert!(
        arrived,
        "{} of {n} replies arrived: {requests:#?}",
        requests.len()
    );
    requests
}

/// The mail reply that answers the mail `id`.
pub(super) fn reply_to<'a>(replies: &'a [Recorded], id: &str) -> &'a Recorded {
    let id = format!("<{id}>");
    replies
        .iter()
        .find(|r| r.field("h:In-Reply-To").as_deref() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no reply to {id}: {replies:#?}"))
}

/// A Mailgun send-API request's threading, as one line a test can compare.
pub(super) fn threading(reply: &Recorded) -> String {
    let field = |name: &str| reply.field(name).unwrap_or_else(|| "-".to_owned());
    format!(
        "{} {} | to {} | {} | In-Reply-To {} | References {} | Auto-Submitted {} | basic auth {}",
        reply.method,
        reply.path,
        field("to"),
        field("subject"),
        field("h:In-Reply-To"),
        field("h:References"),
        field("h:Auto-Submitted"),
        reply
            .headers
            .get("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
    )
}
