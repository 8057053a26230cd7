//! Replies sent to local stand-ins of the providers' send APIs: what arrives, and how each answer is
//! classified for the retries.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use control_plane::triggers::reply::{
    Answer, Outgoing, Providers, ReplyConfig, SendError, Sent, compose, send, token,
};
use hmac::{Hmac, Mac};
use protocol::ReplyKind;
use serde_json::{Value, json};

use crate::stand_ins::{Provider, StandIn, Step};

const AUTH_TOKEN: &str = "twilio-auth-token-secret";
const API_KEY: &str = "key-provider-secret";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn providers(stand_in: &StandIn) -> Providers {
    Providers {
        twilio: stand_in.url.clone(),
        mailgun: stand_in.url.clone(),
        sendgrid: stand_in.url.clone(),
    }
}

fn config(kind: ReplyKind, from: Option<&str>, credentials: &[(&str, &str)]) -> ReplyConfig {
    ReplyConfig {
        kind,
        url: None,
        from: from.map(str::to_owned),
        credentials: credentials
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn twilio() -> ReplyConfig {
    config(
        ReplyKind::Twilio,
        None,
        &[("accountSid", "AC0123456789abcdef"), ("authToken", AUTH_TOKEN)],
    )
}

fn sms() -> Value {
    json!({"sms": {"from": "+15550001111", "to": "+15559990000", "body": "hi", "media": []}})
}

fn mail() -> Value {
    json!({"email": {
        "from": "Ada <ada@example.org>",
        "to": "support@mg.example.com",
        "subject": "Re: Invoice 42",
        "messageId": "<m2@example.org>",
        "references": ["<m1@example.org>"],
    }})
}

fn answer<'a>(context: &'a Value, reply_token: Option<&'a str>) -> Answer<'a> {
    Answer {
        trigger_id: "support",
        delivery_id: "d-7",
        session_id: "s-7",
        conversation_id: "c-7",
        text: "Your invoice is on its way.",
        context,
        reply_token,
    }
}

async fn compose_and_send(
    config: &ReplyConfig,
    stand_in: &StandIn,
    context: &Value,
) -> (Outgoing, Result<Sent, SendError>) {
    let outgoing = compose(
        config,
        &providers(stand_in),
        &answer(context, None),
        SystemTime::now(),
    )
    .expect("the reply is sendable");
    let result = send(&reqwest::Client::new(), &outgoing).await;
    (outgoing, result)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test]
async fn an_sms_answer_reaches_twilio_after_two_unavailable_answers() {
    let stand_in = StandIn::start(Provider::Twilio, [503.into(), 503.into(), 201.into()]).await;
    let outgoing = compose(
        &twilio(),
        &providers(&stand_in),
        &answer(&sms(), None),
        SystemTime::now(),
    )
    .expect("the reply is sendable");
    let client = reqwest::Client::new();
    for attempt in 1..=2 {
        let error = send(&client, &outgoing).await.expect_err("503 is not sent");
        assert!(error.retryable, "attempt {attempt}: {error}");
        assert!(error.message.contains("503"), "{}", error.message);
        assert!(!error.message.contains(AUTH_TOKEN), "{}", error.message);
    }
    let sent = send(&client, &outgoing).await.expect("the third attempt is sent");
    assert_eq!(sent.status, 201);
    assert_eq!(
        sent.provider_id.as_deref(),
        Some("SM00000000000000000000000000000003")
    );

    let received = stand_in.received();
    assert_eq!(received.len(), 3);
    let last = &received[2];
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json");
    assert_eq!(
        last.header("authorization"),
        Some(basic("AC0123456789abcdef", AUTH_TOKEN).as_str())
    );
    assert_eq!(
        last.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        last.form(),
        [
            ("To".to_owned(), "+15550001111".to_owned()),
            ("From".to_owned(), "+15559990000".to_owned()),
            ("Body".to_owned(), "Your invoice is on its way.".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_refused_request_is_not_retried_and_its_error_names_the_status_and_the_answer() {
    let stand_in = StandIn::start(Provider::Twilio, [400.into()]).await;
    let (_, result) = compose_and_send(&twilio(), &stand_in, &sms()).await;
    let error = result.expect_err("400 is not sent");
    assert!(!error.retryable, "{error}");
    assert_eq!(error.retry_after, None);
    assert!(error.message.contains("400 Bad Request"), "{}", error.message);
    assert!(error.message.contains(r#""code":20003"#), "{}", error.message);
    assert!(!error.message.contains(AUTH_TOKEN), "{}", error.message);
}

#[tokio::test]
async fn throttling_is_retried_after_the_providers_retry_after() {
    let throttled = Step {
        status: 429,
        retry_after: Some(7),
    };
    let stand_in = StandIn::start(Provider::Mailgun, [throttled]).await;
    let config = config(
        ReplyKind::Mailgun,
        Some("support@mg.example.com"),
        &[("apiKey", API_KEY)],
    );
    let (_, result) = compose_and_send(&config, &stand_in, &mail()).await;
    let error = result.expect_err("429 is not sent");
    assert!(error.retryable, "{error}");
    assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
    assert_eq!(
        error.delay(control_plane::triggers::reply::BACKOFF_BASE, 1, 0.0),
        Duration::from_secs(7)
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_retried() {
    // A port that was just bound and released: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let providers = Providers {
        twilio: url::Url::parse(&format!("http://{address}/")).expect("a URL"),
        ..Providers::default()
    };
    let outgoing =
        compose(&twilio(), &providers, &answer(&sms(), None), SystemTime::now()).expect("sendable");
    let error = send(&reqwest::Client::new(), &outgoing)
        .await
        .expect_err("nothing listens");
    assert!(error.retryable, "{error}");
    assert!(
        error.message.starts_with("send to 127.0.0.1: "),
        "{}",
        error.message
    );
    assert!(!error.message.contains(AUTH_TOKEN), "{}", error.message);
}

#[tokio::test]
async fn a_credential_that_cannot_be_a_header_is_refused_without_being_shown() {
    let stand_in = StandIn::start(Provider::Sendgrid, []).await;
    let config = config(
        ReplyKind::Sendgrid,
        Some("support@example.com"),
        &[("apiKey", "SG.line\nbreak-secret")],
    );
    let (_, result) = compose_and_send(&config, &stand_in, &mail()).await;
    let error = result.expect_err("not a header value");
    assert!(!error.retryable, "{error}");
    assert!(!error.message.contains("break-secret"), "{}", error.message);
    assert!(error.message.contains("Authorization"), "{}", error.message);
    assert!(stand_in.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_mailgun_answer_is_threaded_and_asks_for_replies_at_its_signed_address() {
    let stand_in = StandIn::start(Provider::Mailgun, []).await;
    let config = config(
        ReplyKind::Mailgun,
        Some("Support <support@mg.example.com>"),
        &[("apiKey", API_KEY)],
    );
    let key = [9; 32];
    let reply_token = token::mint(&key, "support", "c-7");
    let context = mail();
    let outgoing = compose(
        &config,
        &providers(&stand_in),
        &answer(&context, Some(&reply_token)),
        SystemTime::now(),
    )
    .expect("sendable");
    let sent = send(&reqwest::Client::new(), &outgoing).await.expect("sent");
    assert_eq!(sent.provider_id.as_deref(), Some("<stand-in.1@mg.example.com>"));

    let received = stand_in.received();
    let request = &received[0];
    assert_eq!(request.path, "/v3/mg.example.com/messages");
    assert_eq!(
        request.header("authorization"),
        Some(basic("api", API_KEY).as_str())
    );
    let field = |name: &str| request.field(name).unwrap_or_else(|| panic!("field {name}"));
    assert_eq!(field("to"), "ada@example.org");
    assert_eq!(field("subject"), "Re: Invoice 42", "not Re: Re:");
    assert_eq!(field("h:In-Reply-To"), "<m2@example.org>");
    assert_eq!(field("h:References"), "<m1@example.org> <m2@example.org>");
    assert_eq!(field("h:Auto-Submitted"), "auto-replied");
    assert_eq!(Some(field("h:Message-Id")), outgoing.message_id);
    let reply_to = field("h:Reply-To");
    let local = reply_to
        .strip_suffix("@mg.example.com")
        .and_then(|local| local.strip_prefix("support+"))
        .unwrap_or_else(|| panic!("a plus address: {reply_to}"));
    assert_eq!(local, token::mint(&key, "support", "c-7"));
    assert!(
        reply_to.split('@').next().map_or(0, str::len) <= 64,
        "RFC 5321's local part: {reply_to}"
    );
}

#[tokio::test]
async fn a_sendgrid_answer_is_a_v3_mail_send_request() {
    let stand_in = StandIn::start(Provider::Sendgrid, []).await;
    let config = config(
        ReplyKind::Sendgrid,
        Some("support@example.com"),
        &[("apiKey", API_KEY)],
    );
    let (outgoing, result) = compose_and_send(&config, &stand_in, &mail()).await;
    let sent = result.expect("sent");
    assert_eq!(sent.status, 202);
    assert_eq!(sent.provider_id.as_deref(), Some("sg-1"));

    let request = &stand_in.received()[0];
    assert_eq!(request.path, "/v3/mail/send");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["personalizations"][0]["to"][0]["email"], "ada@example.org");
    assert_eq!(body["from"]["email"], "support@example.com");
    assert_eq!(body["subject"], "Re: Invoice 42");
    assert_eq!(
        body["content"],
        json!([{"type": "text/plain", "value": "Your invoice is on its way."}])
    );
    assert_eq!(body["headers"]["In-Reply-To"], "<m2@example.org>");
    assert_eq!(body["headers"]["References"], "<m1@example.org> <m2@example.org>");
    assert_eq!(body["headers"]["Auto-Submitted"], "auto-replied");
    assert_eq!(
        body["headers"]["Message-ID"].as_str(),
        outgoing.message_id.as_deref()
    );
}

#[tokio::test]
async fn a_webhook_answer_carries_a_standard_webhooks_signature_the_receiver_can_check() {
    let stand_in = StandIn::start(Provider::Webhook, [500.into()]).await;
    let mut config = config(ReplyKind::Webhook, None, &[("secret", WEBHOOK_SECRET)]);
    config.url = Some(stand_in.url.join("agent-replies").expect("a URL").to_string());
    let context = json!({"body": {"ticket": 7}, "headers": {}, "query": {}});
    let client = reqwest::Client::new();
    let first = compose(
        &config,
        &Providers::default(),
        &answer(&context, None),
        SystemTime::now(),
    )
    .expect("sendable");
    assert!(send(&client, &first).await.expect_err("500").retryable);
    let later = SystemTime::now() + Duration::from_secs(5);
    let retry = compose(&config, &Providers::default(), &answer(&context, None), later).expect("sendable");
    send(&client, &retry).await.expect("sent");

    let received = stand_in.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.path, "/agent-replies");
        assert_eq!(
            request.header("webhook-id"),
            Some("reply_s-7"),
            "the same id on a retry"
        );
        let id = request.header("webhook-id").expect("webhook-id");
        let timestamp = request.header("webhook-timestamp").expect("webhook-timestamp");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let sent_at: u64 = timestamp.parse().expect("Unix seconds");
        assert!(sent_at.abs_diff(now) <= 60, "{sent_at} vs {now}");
        // The receiver's check, written here: HMAC-SHA256 under the base64 after `whsec_`.
        let key = STANDARD
            .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
            .expect("base64");
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(&request.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(request.header("webhook-signature"), Some(expected.as_str()));
        assert_eq!(
            request.json(),
            json!({"type": "trigger.reply", "triggerId": "support", "deliveryId": "d-7",
                   "sessionId": "s-7", "conversationId": "c-7", "text": "Your invoice is on its way."})
        );
    }
}
