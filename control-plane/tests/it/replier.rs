//! The reply worker of a real `agentctl serve` (DESIGN §10 "Replies"): a signed hook starts a session, the
//! session is driven to its end through the internal API as a runtime would, and the answer reaches a local
//! stand-in of the provider's send API (`--twilio-api-url`, `--mailgun-api-url`, `--sendgrid-api-url`, or
//! `reply.url`) exactly once, with retries on a small backoff (`--reply-backoff-base 50ms`), the outcome on
//! the delivery.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{KEY, Kind, TOKEN, TestDb, ev, eventually, sup};
use crate::hooks::{AUTH_TOKEN, WHSEC, post_signed_to, twilio_signature};
use crate::logged_serve::LoggedServe;
use crate::on_both_backends;
use crate::stand_ins::{Provider, StandIn, Step};

/// The key the worker signs webhook replies with (another than the hook's).
const REPLY_SECRET: &str = "whsec_C2FtcGxlLXJlcGx5LXNpZ25pbmcta2V5LTAx";
const MAIL_API_KEY: &str = "key-mailgun-reply-secret";
const TWILIO_REPLY_TOKEN: &str = "twilio-reply-auth-token";

/// A real `agentctl serve` process on `db`, its providers' API URLs at `providers`.
pub struct Serve {
    _process: LoggedServe,
    pub base: String,
    pub http: reqwest::Client,
}

impl Serve {
    /// Starts it and waits (30 s at most) until it logs the address it listens on.
    pub async fn start(db: &TestDb, providers: &url::Url) -> Self {
        let url = providers.as_str();
        let args = [
            "--twilio-api-url",
            url,
            "--mailgun-api-url",
            url,
            "--sendgrid-api-url",
            url,
            "--reply-backoff-base",
            "50ms",
        ];
        let process = LoggedServe::spawn_with(db, &args, "info").await;
        Self {
            base: process.base(),
            _process: process,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.http.put(format!("{}{path}", self.base));
        self.send(request.bearer_auth(TOKEN).json(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request.bearer_auth(TOKEN)).await
    }

    async fn internal(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.http.post(format!("{}{path}", self.base));
        self.send(request.bearer_auth(KEY).json(body)).await
    }

    /// The agent `support-bot` and the trigger `id`.
    pub async fn with_trigger(&self, id: &str, definition: Value) {
        let (status, body) = self
            .put("/api/v1/agents/support-bot", &crate::agents::definition())
            .await;
        assert!(status.is_success(), "{body}");
        let (status, body) = self.put(&format!("/api/v1/triggers/{id}"), &definition).await;
        assert!(status.is_success(), "{body}");
    }

    /// Claims every queued session as runtime `rt-1`, and answers their ids.
    async fn claim_all(&self) -> Vec<String> {
        let (status, answer) = self
            .internal(
                "/api/internal/v1/claim",
                &json!({"runtimeId": "rt-1", "labels": {"pool": "default"}, "free": 50, "waitSeconds": 0}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|job| job["sessionId"].as_str().expect("an id").to_owned())
            .collect()
    }

    /// Runs claimed session `sid` to `status` with `result` as its result text, as its runtime would.
    async fn finish(&self, sid: &str, status: &str, result: &str) {
        let events = [
            sup(
                sid,
                0,
                "session.started",
                json!({"agentId": "support-bot", "pid": 7, "runtimeId": "rt-1", "runner": "x"}),
            ),
            ev(
                sid,
                1,
                "result",
                json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 1, "result": result}),
            ),
            sup(
                sid,
                2,
                "session.finished",
                json!({"status": status, "exitCode": 0}),
            ),
        ];
        let (code, answer) = self
            .internal(
                "/api/internal/v1/events",
                &json!({"runtimeId": "rt-1", "events": events}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{answer}");
        assert!(answer.get("rejected").is_none(), "{answer}");
    }

    /// The trigger's deliveries, newest first.
    pub async fn deliveries(&self, trigger: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/v1/triggers/{trigger}/deliveries")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["deliveries"].as_array().expect("deliveries").clone()
    }

    /// Waits (20 s at most) until the reply of the newest delivery is no longer pending; answers it.
    async fn settled_reply(&self, trigger: &str) -> Value {
        eventually(Duration::from_secs(20), || async {
            let newest = self.deliveries(trigger).await.into_iter().next()?;
            (newest["reply"]["status"] != "pending").then(|| newest["reply"].clone())
        })
        .await
    }

    /// The conversation of the session a hook's answer names.
    async fn conversation_of(&self, answer: &Value) -> String {
        let sid = answer["sessionId"].as_str().expect("a session");
        let (status, session) = self.get(&format!("/api/v1/sessions/{sid}")).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["conversationId"]
            .as_str()
            .expect("a conversation")
            .to_owned()
    }

    /// Posts a Mailgun form unsigned (the trigger's scheme is `none`).
    async fn post_mail(&self, trigger: &str, form: String) -> Value {
        let request = self
            .http
            .post(format!("{}/hooks/{trigger}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        let (status, answer) = self.send(request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        answer
    }
}

on_both_backends!(
    an_sms_answer_reaches_the_twilio_stand_in_once_and_the_delivery_shows_it_sent,
    a_webhook_answer_refused_twice_with_503_is_sent_on_the_third_attempt,
    a_reply_refused_with_400_is_failed_with_the_status_in_its_error,
    a_failed_session_is_skipped_and_nothing_is_sent,
    an_auto_submitted_mail_owes_no_reply_and_gets_none,
    a_mail_answer_threads_and_a_reply_to_it_by_in_reply_to_or_by_its_token_continues_the_conversation,
    a_claimed_reply_is_leased_and_claimable_again_only_once_its_lease_ran_out,
    a_sendgrid_answer_is_a_threaded_v3_mail_send_request,
);

fn sms_trigger() -> Value {
    json!({
        "agentId": "support-bot", "kind": "sms",
        "verify": {"scheme": "twilio", "secrets": [AUTH_TOKEN]},
        "prompt": "SMS from {{ sms.from }}: {{ sms.body }}",
        "reply": {"kind": "twilio", "credentials": {"accountSid": "AC0123", "authToken": TWILIO_REPLY_TOKEN}},
    })
}

fn webhook_trigger(reply_url: &url::Url) -> Value {
    json!({
        "agentId": "support-bot", "kind": "webhook",
        "verify": {"scheme": "standard-webhooks", "secrets": [WHSEC]},
        "prompt": "order {{ body.n }}",
        "reply": {"kind": "webhook", "url": reply_url.join("answers").expect("a URL").as_str(),
                  "credentials": {"secret": REPLY_SECRET}},
    })
}

fn mail_trigger() -> Value {
    json!({
        "agentId": "support-bot", "kind": "email", "verify": {"scheme": "none"},
        "prompt": "{{ email.subject }}: {{ email.text }}",
        "reply": {"kind": "mailgun", "from": "Support <support@inbound.example.com>",
                  "credentials": {"apiKey": MAIL_API_KEY}},
    })
}

/// A Mailgun form (parsed-fields variant) to `recipient`; `headers` go in `message-headers`.
fn mail_form(recipient: &str, message_id: &str, headers: &[(&str, &str)], text: &str) -> String {
    let mut all = vec![("Message-Id".to_owned(), format!("<{message_id}>"))];
    all.extend(headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    form_urlencoded::Serializer::new(String::new())
        .append_pair("recipient", recipient)
        .append_pair("sender", "alice@example.com")
        .append_pair("from", "Alice <alice@example.com>")
        .append_pair("subject", "Invoice 1042")
        .append_pair("body-plain", text)
        .append_pair("message-headers", &serde_json::to_string(&all).expect("JSON"))
        .finish()
}

async fn post_sms(serve: &Serve, trigger: &str, params: &[(&str, &str)]) {
    let url = format!("{}/hooks/{trigger}", serve.base);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let response = serve
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", twilio_signature(&url, params))
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn an_sms_answer_reaches_the_twilio_stand_in_once_and_the_delivery_shows_it_sent(db: TestDb) {
    let stand_in = StandIn::start(Provider::Twilio, []).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("sms", sms_trigger()).await;
    let params = [
        ("MessageSid", "SM0001"),
        ("AccountSid", "AC0123"),
        ("From", "+15550001111"),
        ("To", "+15559990000"),
        ("Body", "Is my order shipped?"),
        ("NumMedia", "0"),
    ];
    post_sms(&serve, "sms", &params).await;
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "Yes, it left today.").await;

    let reply = serve.settled_reply("sms").await;
    assert_eq!(reply["status"], "sent", "{reply}");
    assert_eq!(reply["attempts"], 1, "{reply}");
    assert!(reply["sentAt"].is_string(), "{reply}");
    let received = stand_in.received();
    assert_eq!(received.len(), 1, "exactly one request");
    assert_eq!(received[0].path, "/2010-04-01/Accounts/AC0123/Messages.json");
    assert_eq!(
        received[0].form(),
        [
            ("To".to_owned(), "+15550001111".to_owned()),
            ("From".to_owned(), "+15559990000".to_owned()),
            ("Body".to_owned(), "Yes, it left today.".to_owned()),
        ]
    );
    // Nothing more is sent later.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(stand_in.received().len(), 1);
}

async fn a_webhook_answer_refused_twice_with_503_is_sent_on_the_third_attempt(db: TestDb) {
    let stand_in = StandIn::start(Provider::Webhook, [Step::from(503), Step::from(503)]).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("orders", webhook_trigger(&stand_in.url)).await;
    let (status, answer) =
        post_signed_to(&serve.http, &serve.base, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "Order 1 is confirmed.").await;

    let reply = serve.settled_reply("orders").await;
    assert_eq!(reply["status"], "sent", "{reply}");
    assert_eq!(reply["attempts"], 3, "{reply}");
    let received = stand_in.received();
    assert_eq!(received.len(), 3);
    let ids: Vec<_> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(
        ids,
        [Some(format!("reply_{sid}").as_str()); 3],
        "one id on every attempt"
    );
    let body = received[2].json();
    assert_eq!(body["text"], "Order 1 is confirmed.");
    assert_eq!(body["sessionId"], sid.as_str());
    assert_eq!(received[2].path, "/answers");
}

async fn a_reply_refused_with_400_is_failed_with_the_status_in_its_error(db: TestDb) {
    let stand_in = StandIn::start(Provider::Webhook, [Step::from(400)]).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("orders", webhook_trigger(&stand_in.url)).await;
    post_signed_to(&serve.http, &serve.base, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "Order 1 is confirmed.").await;

    let reply = serve.settled_reply("orders").await;
    assert_eq!(reply["status"], "failed", "{reply}");
    assert_eq!(reply["attempts"], 1, "{reply}");
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(error.contains("400"), "{reply}");
    assert!(!error.contains(REPLY_SECRET), "{reply}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(stand_in.received().len(), 1, "not retried");
}

async fn a_failed_session_is_skipped_and_nothing_is_sent(db: TestDb) {
    let stand_in = StandIn::start(Provider::Webhook, []).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("orders", webhook_trigger(&stand_in.url)).await;
    post_signed_to(&serve.http, &serve.base, "orders", "msg_1", r#"{"n": 1}"#, WHSEC).await;
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "failed", "half an answer").await;

    let reply = serve.settled_reply("orders").await;
    assert_eq!(reply["status"], "skipped", "{reply}");
    assert_eq!(reply["error"], "the session ended failed", "{reply}");
    assert!(stand_in.received().is_empty());
}

async fn an_auto_submitted_mail_owes_no_reply_and_gets_none(db: TestDb) {
    let stand_in = StandIn::start(Provider::Mailgun, []).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("mail", mail_trigger()).await;
    let form = mail_form(
        "support@inbound.example.com",
        "ooo-1@example.com",
        &[("Auto-Submitted", "auto-replied")],
        "I am out of office.",
    );
    serve.post_mail("mail", form).await;
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "Noted.").await;
    let (status, session) = serve.get(&format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(
        (status, session["status"].as_str()),
        (StatusCode::OK, Some("succeeded"))
    );

    let newest = serve.deliveries("mail").await.remove(0);
    assert!(newest["reply"].is_null(), "{newest}");
    // The worker ran (its tick is 500 ms) and sent nothing.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(stand_in.received().is_empty());
}

async fn a_mail_answer_threads_and_a_reply_to_it_by_in_reply_to_or_by_its_token_continues_the_conversation(
    db: TestDb,
) {
    let stand_in = StandIn::start(Provider::Mailgun, []).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    serve.with_trigger("mail", mail_trigger()).await;
    let first = serve
        .post_mail(
            "mail",
            mail_form(
                "support@inbound.example.com",
                "m1@example.com",
                &[],
                "Where is it?",
            ),
        )
        .await;
    let conversation = first["sessionId"].as_str().expect("a session").to_owned();
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "On its way.").await;
    assert_eq!(serve.settled_reply("mail").await["status"], "sent");

    let received = stand_in.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.path, "/v3/inbound.example.com/messages");
    let field = |name: &str| sent.field(name).unwrap_or_else(|| panic!("field {name}"));
    assert_eq!(field("to"), "alice@example.com");
    assert_eq!(field("subject"), "Re: Invoice 1042");
    assert_eq!(field("h:In-Reply-To"), "<m1@example.com>");
    assert_eq!(field("h:References"), "<m1@example.com>");
    assert_eq!(field("h:Auto-Submitted"), "auto-replied");
    let message_id = field("h:Message-Id");
    let reply_to = field("h:Reply-To");
    let token = reply_to
        .strip_prefix("support+")
        .and_then(|rest| rest.strip_suffix("@inbound.example.com"))
        .unwrap_or_else(|| panic!("a plus address: {reply_to}"));
    assert_eq!(token.len(), 24, "{reply_to}");

    // Alice answers our reply: In-Reply-To names our Message-ID, to the plain address.
    let second = serve
        .post_mail(
            "mail",
            mail_form(
                "support@inbound.example.com",
                "m2@example.com",
                &[("In-Reply-To", &message_id)],
                "Thanks!",
            ),
        )
        .await;
    assert_eq!(serve.conversation_of(&second).await, conversation);
    // A mail client that keeps no threading headers, to the token's address.
    let third = serve
        .post_mail(
            "mail",
            mail_form(&reply_to, "m3@example.com", &[], "One more thing."),
        )
        .await;
    assert_eq!(serve.conversation_of(&third).await, conversation);
}

/// Replicas share PostgreSQL only (one server per SQLite file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_send_each_reply_exactly_once() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let stand_in = StandIn::start(Provider::Webhook, []).await;
    let one = Serve::start(&db, &stand_in.url).await;
    let two = Serve::start(&db, &stand_in.url).await;
    one.with_trigger("orders", webhook_trigger(&stand_in.url)).await;
    for n in 0..8 {
        let body = format!(r#"{{"n": {n}}}"#);
        let (status, answer) =
            post_signed_to(&one.http, &one.base, "orders", &format!("msg_{n}"), &body, WHSEC).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
    let sessions = one.claim_all().await;
    assert_eq!(sessions.len(), 8);
    for sid in &sessions {
        one.finish(sid, "succeeded", "Confirmed.").await;
    }
    eventually(Duration::from_secs(20), || async {
        let deliveries = two.deliveries("orders").await;
        deliveries
            .iter()
            .all(|d| d["reply"]["status"] == "sent")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut ids: Vec<String> = stand_in
        .received()
        .iter()
        .map(|r| r.header("webhook-id").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "each reply once: {ids:?}");
}

/// The claim itself, past the worker: four claimers at once over 200 due replies on PostgreSQL take each
/// exactly once (the worker's rounds are too short apart in time to race reliably).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_on_postgres_take_each_due_reply_once() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let store = control_plane::store::Store::connect(&db.url)
        .await
        .expect("connect");
    db.execute(
        "INSERT INTO sessions (session_id, status, created_at) SELECT 's-' || g, 'succeeded', \
         '2026-01-01T00:00:00.000Z' FROM generate_series(1, 200) g",
    )
    .await;
    db.execute(
        "INSERT INTO trigger_replies (session_id, trigger_id, delivery_id, status) \
         SELECT 's-' || g, 'orders', 'd-' || g, 'pending' FROM generate_series(1, 200) g",
    )
    .await;
    let claimers = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_millis() as i64;
                let batch = store.claim_replies(now, 60_000, 16).await.expect("claim");
                if batch.is_empty() {
                    return claimed;
                }
                claimed.extend(batch.into_iter().map(|due| due.session_id));
            }
        })
    });
    let mut all: Vec<String> = Vec::new();
    for claimer in claimers.collect::<Vec<_>>() {
        all.extend(claimer.await.expect("claimer"));
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!((total, all.len()), (200, 200), "each claimed once");
    store.close().await;
}

/// What a crash mid-send leaves: the claim leased the reply, so no one takes it during the send, and once
/// the lease ran out it is due again (not lost); one whose session is not final is never claimed.
async fn a_claimed_reply_is_leased_and_claimable_again_only_once_its_lease_ran_out(db: TestDb) {
    let store = control_plane::store::Store::connect(&db.url)
        .await
        .expect("connect");
    for (sid, status) in [("s-done", "succeeded"), ("s-running", "running")] {
        db.execute(&format!(
            "INSERT INTO sessions (session_id, status, created_at) VALUES ('{sid}', '{status}', \
             '2026-01-01T00:00:00.000Z')"
        ))
        .await;
        db.execute(&format!(
            "INSERT INTO trigger_replies (session_id, trigger_id, delivery_id, status) \
             VALUES ('{sid}', 'orders', 'd-{sid}', 'pending')"
        ))
        .await;
    }
    let ids =
        |due: Vec<control_plane::store::DueReply>| due.into_iter().map(|d| d.session_id).collect::<Vec<_>>();
    let now = 1_000_000;
    let claimed = ids(store.claim_replies(now, 60_000, 16).await.expect("claim"));
    assert_eq!(claimed, ["s-done"], "a running session's reply is not due");
    let again = ids(store
        .claim_replies(now + 59_999, 60_000, 16)
        .await
        .expect("claim"));
    assert!(again.is_empty(), "leased: {again:?}");
    let after = ids(store
        .claim_replies(now + 60_000, 60_000, 16)
        .await
        .expect("claim"));
    assert_eq!(after, ["s-done"], "due again once the lease ran out");
    store.close().await;
}

async fn a_sendgrid_answer_is_a_threaded_v3_mail_send_request(db: TestDb) {
    let stand_in = StandIn::start(Provider::Sendgrid, []).await;
    let serve = Serve::start(&db, &stand_in.url).await;
    let mut trigger = mail_trigger();
    trigger["reply"] = json!({"kind": "sendgrid", "from": "support@inbound.example.com",
                              "credentials": {"apiKey": MAIL_API_KEY}});
    serve.with_trigger("mail", trigger).await;
    let form = mail_form("support@inbound.example.com", "m1@example.com", &[], "Hello?");
    serve.post_mail("mail", form).await;
    let [sid] = <[String; 1]>::try_from(serve.claim_all().await).expect("one session");
    serve.finish(&sid, "succeeded", "Hello back.").await;
    let reply = serve.settled_reply("mail").await;
    assert_eq!(reply["status"], "sent", "{reply}");

    let received = stand_in.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v3/mail/send");
    let auth = format!("Bearer {MAIL_API_KEY}");
    assert_eq!(received[0].header("authorization"), Some(auth.as_str()));
    let body = received[0].json();
    assert_eq!(
        body["personalizations"][0]["to"][0]["email"], "alice@example.com",
        "{body}"
    );
    assert_eq!(body["subject"], "Re: Invoice 1042");
    assert_eq!(body["content"][0]["value"], "Hello back.");
    assert_eq!(body["headers"]["In-Reply-To"], "<m1@example.com>");
    assert_eq!(body["headers"]["Auto-Submitted"], "auto-replied");
    let reply_to = body["reply_to"]["email"].as_str().unwrap_or_default();
    assert!(reply_to.starts_with("support+"), "{body}");
}
