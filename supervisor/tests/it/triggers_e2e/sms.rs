//! Two SMS within `debounceSeconds`: one session, one answer at Twilio's Messages API.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::support::*;

/// The address the provider is told to call (a proxy in front of serve would forward it).
const PUBLIC_URL: &str = "https://hooks.example.test";

#[tokio::test(flavor = "multi_thread")]
async fn two_sms_from_one_number_within_the_debounce_are_one_session_holding_both() {
    let model = FakeModel::scenarios(&scenarios()).await;
    let twilio = StandIn::start(&[]).await;
    // Behind a proxy: providers are given --public-url, and Twilio signs the URL it was given.
    let mut settings = replying_to(&twilio);
    settings.hooks.public_url = Some(PUBLIC_URL.to_owned());
    let (cp, _pg, _sqlite) = control_plane(None, settings).await;
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
    let url = format!("{PUBLIC_URL}/hooks/sms-line");
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
