//! Triggers end to end (issue 12 "Prove it", DESIGN §10): a real `agentctl serve` (in this process), a
//! supervisor pulling from it, the real runner and `fake-anthropic`; mail and SMS posted the way Mailgun,
//! SendGrid and Twilio post them, signed by the test itself. A thread of mails becomes one conversation
//! whose sessions run one after the other, an attachment is a file the agent reads, and a burst of SMS
//! becomes one session.

use std::time::Duration;

use serde_json::{Value, json};

use crate::faults::fixtures::{PgDb, admin_url};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);
/// Mailgun's webhook signing key of the email trigger.
const MAILGUN_KEY: &str = "key-mailgun-signing-0b7d4c2a";
/// Twilio's auth token of the SMS trigger.
const AUTH_TOKEN: &str = "twilio-auth-token-5c7a9e0f";
const NOTES: &str = "NOTES-CONTENT-8812 seats: 12";
const SUPPORT: &str = "support@inbound.example.com";
const CUSTOMER: &str = "Alice Example <alice@example.com>";

fn agent() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "maxTurns": 8,
        "permissionMode": "bypassPermissions",
        "allowedTools": ["Bash"],
    })
}

/// The model's side: `mail` answers each mail of the thread in turn (the second by reading the attachment
/// first), `sms` answers once.
fn scenarios() -> Value {
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
fn puller(cp: &ControlPlane, model: &FakeModel) -> Sup {
    shipping_to(cp.addr)
        .runtime_id("rt-triggers")
        .real_sdk()
        .model(model)
        .agent_env("ANTHROPIC_API_KEY=sk-fake-key-for-tests")
        .start()
}

/// Waits until session `id` is finished and answers it as the API shows it; it must have succeeded.
async fn succeeded(cp: &ControlPlane, sup: &Sup, id: &str) -> Value {
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
async fn post_mailgun(cp: &ControlPlane, trigger: &str, mail: &Mail<'_>, token: &str) -> String {
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

fn session_of(status: u16, answer: &str) -> String {
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(answer).expect("JSON");
    assert_eq!(answer["status"], "queued", "{answer}");
    answer["sessionId"].as_str().expect("a session").to_owned()
}

/// The text of every tool result of a session's events.
fn tool_results(events: &[Value]) -> String {
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

/// A control plane on SQLite, or on a PostgreSQL database of its own (dropped after it), sending its
/// replies to `stand_in` as Twilio's and Mailgun's APIs.
async fn control_plane(
    postgres: Option<&str>,
    stand_in: &StandIn,
) -> (ControlPlane, Option<PgDb>, Option<SqliteDb>) {
    let mut settings = Settings::default();
    settings.replies.providers.twilio = stand_in.url().parse().expect("a URL");
    settings.replies.providers.mailgun = stand_in.url().parse().expect("a URL");
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
async fn received(stand_in: &StandIn, n: usize) -> Vec<Recorded> {
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
fn reply_to<'a>(replies: &'a [Recorded], id: &str) -> &'a Recorded {
    let id = format!("<{id}>");
    replies
        .iter()
        .find(|r| r.field("h:In-Reply-To").as_deref() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no reply to {id}: {replies:#?}"))
}

/// A Mailgun send-API request's threading, as one line a test can compare.
fn threading(reply: &Recorded) -> String {
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

#[tokio::test(flavor = "multi_thread")]
async fn an_email_thread_of_mailgun_and_sendgrid_mails_is_one_conversation_run_in_order_with_its_attachment()
{
    email_thread(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgresql_too_an_email_thread_is_one_conversation_run_in_order() {
    let Some(admin) = admin_url() else { return };
    email_thread(Some(&admin)).await;
}

async fn email_thread(postgres: Option<&str>) {
    let model = FakeModel::scenarios(&scenarios()).await;
    let mailgun = StandIn::start(&[]).await;
    let (cp, _pg, _sqlite) = control_plane(postgres, &mailgun).await;
    cp.put_agent("support-bot", &agent()).await;
    // One trigger takes both providers' encodings (the fields tell them apart); its scheme is Mailgun's,
    // so the SendGrid-format post carries Mailgun's signature fields as Mailgun's own multipart does.
    cp.put_trigger(
        "support-mail",
        &json!({
            "agentId": "support-bot", "kind": "email",
            "verify": {"scheme": "mailgun", "secrets": [MAILGUN_KEY]},
            "prompt": "scenario:mail Mail from {{ email.from }} about {{ email.subject }}:\n{{ email.text }}",
            "reply": {"kind": "mailgun", "from": SUPPORT, "credentials": {"apiKey": "key-mailgun-api-1f2e"}},
        }),
    )
    .await;
    let sup = puller(&cp, &model);

    let first = Mail {
        from: CUSTOMER,
        to: SUPPORT,
        subject: "Invoice 1042 is wrong",
        text: "MAIL-A: the total counts the seats twice.",
        message_id: "a-1042@mail.example.com",
        ..Mail::default()
    };
    let a = post_mailgun(&cp, "support-mail", &first, "token-a-5f3c9a1e").await;
    let second = Mail {
        subject: "Re: Invoice 1042 is wrong",
        text: "MAIL-B: my notes are attached.",
        message_id: "b-1042@mail.example.com",
        in_reply_to: Some(first.message_id),
        ..first.clone()
    };
    let (status, _, answer) = cp
        .post_hook(
            "support-mail",
            &format!("multipart/form-data; boundary={SENDGRID_BOUNDARY}"),
            &[],
            sendgrid_multipart(
                &second,
                ("notes.txt", NOTES),
                &mailgun_signature(MAILGUN_KEY, "token-b-0b7d4c2a"),
            ),
        )
        .await;
    let b = session_of(status, &answer);
    let one = succeeded(&cp, &sup, &a).await;
    let two = succeeded(&cp, &sup, &b).await;
    assert!(
        one["resultText"].as_str().unwrap().starts_with("REPLY-ONE"),
        "{one}"
    );
    assert!(two["resultText"].as_str().unwrap().contains(NOTES), "{two}");
    assert!(
        tool_results(&cp.events(&b).await).contains(NOTES),
        "the attachment was a file of the workspace"
    );

    // Both answers reach Mailgun's send API, threaded.
    let replies = received(&mailgun, 2).await;
    expect_test::expect![[r#"
        POST /v3/inbound.example.com/messages | to alice@example.com | Re: Invoice 1042 is wrong | In-Reply-To <a-1042@mail.example.com> | References <a-1042@mail.example.com> | Auto-Submitted auto-replied | basic auth true
        POST /v3/inbound.example.com/messages | to alice@example.com | Re: Invoice 1042 is wrong | In-Reply-To <b-1042@mail.example.com> | References <a-1042@mail.example.com> <b-1042@mail.example.com> | Auto-Submitted auto-replied | basic auth true"#]]
    .assert_eq(&format!(
        "{}\n{}",
        threading(reply_to(&replies, first.message_id)),
        threading(reply_to(&replies, second.message_id))
    ));
    let ours = reply_to(&replies, second.message_id)
        .field("h:Message-Id")
        .expect("our reply's Message-ID");
    let ours = ours.trim_start_matches('<').trim_end_matches('>').to_owned();

    // A machine's answer (RFC 3834) is a session of the thread, answered by nobody.
    let automatic = Mail {
        from: "Out of Office <alice@example.com>",
        subject: "Automatic reply: Invoice 1042 is wrong",
        text: "MAIL-AUTO: I am out of the office.",
        message_id: "ooo-1042@mail.example.com",
        in_reply_to: Some(second.message_id),
        headers: vec![("Auto-Submitted", "auto-replied")],
        ..first.clone()
    };
    let d = post_mailgun(&cp, "support-mail", &automatic, "token-d-9e0f2b4d").await;
    // The customer answers our reply: it is found by our Message-ID.
    let third = Mail {
        subject: "Re: Invoice 1042 is wrong",
        text: "MAIL-C: thanks, is it fixed?",
        message_id: "c-1042@mail.example.com",
        in_reply_to: Some(&ours),
        ..first.clone()
    };
    let c = post_mailgun(&cp, "support-mail", &third, "token-c-1b3d5c7a").await;
    let auto = succeeded(&cp, &sup, &d).await;
    let three = succeeded(&cp, &sup, &c).await;
    assert!(
        three["resultText"].as_str().unwrap().starts_with("REPLY-THREE"),
        "{three}"
    );
    // The third answer arrives; the automatic mail, whose session ran before it, got none.
    let replies = received(&mailgun, 3).await;
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let last = reply_to(&replies, third.message_id);
    assert!(
        last.field("text").unwrap_or_default().starts_with("REPLY-THREE"),
        "{last:#?}"
    );
    assert!(
        last.field("h:References")
            .unwrap_or_default()
            .contains(&format!("<{ours}>")),
        "{last:#?}"
    );
    // A mail to the reply address our answer gave (support+<token>@…), without any threading header,
    // continues the conversation too.
    let plus = last.field("h:Reply-To").expect("a reply address");
    let fresh = Mail {
        to: &plus,
        subject: "One more thing",
        text: "MAIL-E: sent to the reply address.",
        message_id: "e-1042@mail.example.com",
        ..first.clone()
    };
    let e = post_mailgun(&cp, "support-mail", &fresh, "token-e-7a9e0f2b").await;
    let four = succeeded(&cp, &sup, &e).await;
    received(&mailgun, 4).await;
    // Every outcome is recorded on its delivery (after the request reached the stand-in).
    let mut deliveries = Value::Null;
    let mut outcomes: Vec<String> = Vec::new();
    let recorded = eventually(WAIT, async || {
        deliveries = cp.get("/api/v1/triggers/support-mail/deliveries").await;
        outcomes = deliveries["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .rev()
            .map(|d| format!("{} reply {}", d["status"], d["reply"]["status"]))
            .collect();
        outcomes.iter().filter(|o| o.ends_with(r#""sent""#)).count() == 4
    })
    .await;
    assert!(recorded, "{deliveries}");
    assert_eq!(
        outcomes,
        [
            r#""queued" reply "sent""#,
            r#""queued" reply "sent""#,
            r#""queued" reply null"#,
            r#""queued" reply "sent""#,
            r#""queued" reply "sent""#
        ],
        "{deliveries}"
    );
    assert_eq!(mailgun.requests().len(), 4, "nothing answered the automatic mail");

    // One conversation of five sessions, each started after the one before finished.
    let conversation = cp.get(&format!("/api/v1/conversations/{a}")).await;
    let ids: Vec<&str> = conversation["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, [&a, &b, &d, &c, &e], "{conversation}");
    for (before, after) in [(&one, &two), (&two, &auto), (&auto, &three), (&three, &four)] {
        assert!(
            before["finishedAt"].as_str() <= after["startedAt"].as_str(),
            "one after the other: {before} {after}"
        );
    }
    // The model saw every mail's text in the one conversation.
    let requests = model.requests();
    let last = requests
        .iter()
        .rev()
        .find(|r| r["fake"]["auxiliary"] == false)
        .expect("a request");
    let messages = last["body"]["messages"].to_string();
    for text in [
        "MAIL-A",
        "MAIL-B",
        "MAIL-AUTO",
        "MAIL-C",
        "MAIL-E",
        "alice@example.com",
        NOTES,
    ] {
        assert!(
            messages.contains(text),
            "the last request lacks {text}: {messages}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sms_from_one_number_within_the_debounce_are_one_session_holding_both() {
    let model = FakeModel::scenarios(&scenarios()).await;
    let twilio = StandIn::start(&[]).await;
    let (cp, _pg, _sqlite) = control_plane(None, &twilio).await;
    cp.put_agent("support-bot", &agent()).await;
    cp.put_trigger(
        "sms-line",
        &json!({
            "agentId": "support-bot", "kind": "sms",
            "verify": {"scheme": "twilio", "secrets": [AUTH_TOKEN]},
            "prompt": "scenario:sms SMS from {{ sms.from }}: {{ sms.body }}",
            "debounceSeconds": 2,
            "reply": {"kind": "twilio", "from": "+14155550100",
                      "credentials": {"accountSid": "AC0123456789abcdef", "authToken": "send-token-77"}},
        }),
    )
    .await;
    let sup = puller(&cp, &model);
    // The URL Twilio signs is the one it called: with no --public-url, serve takes it from the Host.
    let url = format!("{}/hooks/sms-line", cp.url());
    for (sid, body) in [
        ("SM-one-0001", "SMS-ONE: the door is stuck"),
        ("SM-two-0002", "SMS-TWO: room 12"),
    ] {
        let params = [
            ("MessageSid", sid),
            ("AccountSid", "AC-test"),
            ("From", "+14155550123"),
            ("To", "+14155550100"),
            ("Body", body),
            ("NumMedia", "0"),
        ];
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let signature = twilio_signature(AUTH_TOKEN, &url, &params);
        let (status, content_type, answer) = cp
            .post_hook(
                "sms-line",
                "application/x-www-form-urlencoded",
                &[("x-twilio-signature", &signature)],
                form,
            )
            .await;
        assert_eq!((status, content_type.as_str()), (200, "text/xml"), "{answer}");
        assert!(answer.ends_with("<Response/>"), "{answer}");
        tokio::time::sleep(Duration::from_millis(200)).await; // The burst's spacing, not a wait.
    }

    let mut deliveries = Value::Null;
    let flushed = eventually(WAIT, async || {
        deliveries = cp.get("/api/v1/triggers/sms-line/deliveries").await;
        let list = deliveries["deliveries"].as_array().cloned().unwrap_or_default();
        list.len() == 2 && list.iter().all(|d| d["sessionId"].is_string())
    })
    .await;
    assert!(flushed, "the burst became no session: {deliveries}");
    let list = deliveries["deliveries"].as_array().unwrap();
    assert_eq!(
        list[0]["sessionId"], list[1]["sessionId"],
        "one session: {deliveries}"
    );
    let id = list[0]["sessionId"].as_str().unwrap().to_owned();
    let session = succeeded(&cp, &sup, &id).await;
    assert_eq!(session["resultText"], "SMS-ANSWER: on my way", "{session}");
    let prompt = model
        .requests()
        .iter()
        .find(|r| r["fake"]["auxiliary"] == false)
        .map(|r| r["body"]["messages"].to_string())
        .expect("a request");
    for text in ["SMS-ONE: the door is stuck", "SMS-TWO: room 12", "+14155550123"] {
        assert!(prompt.contains(text), "the prompt lacks {text}: {prompt}");
    }

    // The answer reaches Twilio's Messages API, once, to the sender.
    let sent = received(&twilio, 1).await;
    let answer = &sent[0];
    assert_eq!(
        (answer.method.as_str(), answer.path.as_str()),
        ("POST", "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"),
        "{answer:#?}"
    );
    assert_eq!(
        (answer.field("To"), answer.field("From"), answer.field("Body")),
        (
            Some("+14155550123".to_owned()),
            Some("+14155550100".to_owned()),
            Some("SMS-ANSWER: on my way".to_owned())
        ),
    );
    let mut shown = Value::Null;
    let recorded = eventually(WAIT, async || {
        shown = cp.get("/api/v1/triggers/sms-line/deliveries").await;
        shown["deliveries"][0]["reply"]["status"] == "sent"
    })
    .await;
    assert!(recorded, "{shown}");
    assert_eq!(twilio.requests().len(), 1, "one answer for the burst");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_answered_200_survives_a_kill_9_of_serve_and_its_session_runs_and_is_answered_after_the_restart()
 {
    let model = FakeModel::scenarios(&scenarios()).await;
    let mailgun = StandIn::start(&[]).await;
    let (mut cp, _pg, sqlite) = control_plane(None, &mailgun).await;
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
    let mut settings = Settings::default();
    settings.replies.providers.mailgun = mailgun.url().parse().expect("a URL");
    let cp = ControlPlane::start_configured(cp.addr, &db.url(), &settings).await;
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
