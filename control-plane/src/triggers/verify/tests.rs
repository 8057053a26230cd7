//! The schemes against the providers' published vectors, and against signatures this file computes
//! itself (with the `hmac` crate directly, never with the code under test).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use expect_test::{Expect, expect};
use hmac::{Hmac, Mac};

use super::{
    DEFAULT_TOLERANCE, Encoding, Inbound, MailgunFields, SigningSecret, Verify, verify, verify_mailgun_fields,
};

/// A request as a test writes it: header names in any case.
struct Request {
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    url: &'static str,
}

impl Request {
    fn new(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            headers: Vec::new(),
            url: "https://hooks.example.com/hooks/t-1",
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn url(mut self, url: &'static str) -> Self {
        self.url = url;
        self
    }
}

#[track_caller]
fn check(scheme: &Verify, request: &Request, now: u64, expect: Expect) {
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("test header names are valid"),
            HeaderValue::from_str(value).expect("test header values are valid"),
        );
    }
    let inbound = Inbound {
        body: &request.body,
        headers: &headers,
        url: request.url,
    };
    let got = match verify(scheme, &inbound, at(now)) {
        Ok(verified) => format!("ok, provider id {:?}", verified.provider_id),
        Err(refusal) => format!("refused: {refusal}"),
    };
    expect.assert_eq(&got);
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn secrets(values: &[&str]) -> Vec<SigningSecret> {
    values.iter().map(|value| SigningSecret::new(*value)).collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn none_accepts_anything_but_only_when_chosen() {
    check(
        &Verify::None,
        &Request::new("{}"),
        0,
        expect![[r#"ok, provider id None"#]],
    );
}

#[test]
fn a_scheme_never_prints_its_secrets() {
    let scheme = Verify::Github {
        secrets: secrets(&["hunter2-secret"]),
    };
    assert_eq!(
        format!("{scheme:?}"),
        "Github { secrets: [SigningSecret([redacted])] }"
    );
}

// Standard Webhooks: the example of Svix's "verifying payloads manually" page, the scheme Standard
// Webhooks took over.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TIME: u64 = 1_614_265_330;
const SW_BODY: &str = r#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard_webhooks(values: &[&str]) -> Verify {
    Verify::StandardWebhooks {
        secrets: secrets(values),
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn sw_request(body: &str, timestamp: u64, signature: &str) -> Request {
    Request::new(body)
        .header("Webhook-Id", SW_ID)
        .header("webhook-timestamp", timestamp.to_string())
        .header("WEBHOOK-SIGNATURE", signature)
}

/// A signature this file computes: `secret` is the `whsec_` form.
fn sw_sign(secret: &str, timestamp: u64, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("test secrets are base64");
    format!(
        "v1,{}",
        b64(&hmac_sha256(
            &key,
            format!("{SW_ID}.{timestamp}.{body}").as_bytes()
        ))
    )
}

#[test]
fn standard_webhooks_accepts_the_published_example_and_refuses_what_is_wrong() {
    let scheme = standard_webhooks(&[SW_SECRET]);
    let other = "whsec_dGhlIG90aGVyIHNlY3JldCBvZiAyNCBieXRlcw==";
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"ok, provider id Some("msg_p5jXN8AQM9LWM0D4loKWxJek")"#]],
    );
    // Rotation: the provider sends one signature per secret, and the receiver may hold either.
    let both = format!("{} {SW_SIGNATURE}", sw_sign(other, SW_TIME, SW_BODY));
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, &both),
        SW_TIME,
        expect![[r#"ok, provider id Some("msg_p5jXN8AQM9LWM0D4loKWxJek")"#]],
    );
    check(
        &standard_webhooks(&[other, SW_SECRET]),
        &sw_request(SW_BODY, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"ok, provider id Some("msg_p5jXN8AQM9LWM0D4loKWxJek")"#]],
    );
    check(
        &standard_webhooks(&[other]),
        &sw_request(SW_BODY, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"refused: no secret of the trigger matched the signature"#]],
    );
    check(
        &scheme,
        &sw_request(r#"{"test": 2432232315}"#, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"refused: no secret of the trigger matched the signature"#]],
    );
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, "v1,"),
        SW_TIME,
        expect![[r#"refused: no secret of the trigger matched the signature"#]],
    );
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE"),
        SW_TIME,
        expect![[r#"refused: no secret of the trigger matched the signature"#]],
    );
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, "v1,not base64!"),
        SW_TIME,
        expect!["refused: header webhook-signature is not base64"],
    );
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, "v1,%%%%"),
        SW_TIME,
        expect![[r#"refused: header webhook-signature is not base64"#]],
    );
    check(
        &scheme,
        &sw_request(SW_BODY, SW_TIME, "v1a,g0hM9SsE"),
        SW_TIME,
        expect![[r#"refused: header webhook-signature is not a list of v1,<base64>"#]],
    );
    check(
        &scheme,
        &Request::new(SW_BODY).header("webhook-id", SW_ID),
        SW_TIME,
        expect![[r#"refused: missing header webhook-timestamp"#]],
    );
    check(
        &standard_webhooks(&["whsec_%%%"]),
        &sw_request(SW_BODY, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"refused: secret 0 of the trigger cannot be used: not whsec_ followed by base64"#]],
    );
    check(
        &standard_webhooks(&[]),
        &sw_request(SW_BODY, SW_TIME, SW_SIGNATURE),
        SW_TIME,
        expect![[r#"refused: no secret is configured for this trigger"#]],
    );
}

#[test]
fn standard_webhooks_refuses_a_timestamp_outside_the_tolerance_either_way() {
    let scheme = standard_webhooks(&[SW_SECRET]);
    let signed = |timestamp| sw_request(SW_BODY, timestamp, &sw_sign(SW_SECRET, timestamp, SW_BODY));
    check(
        &scheme,
        &signed(SW_TIME - 300),
        SW_TIME,
        expect![[r#"ok, provider id Some("msg_p5jXN8AQM9LWM0D4loKWxJek")"#]],
    );
    check(
        &scheme,
        &signed(SW_TIME + 300),
        SW_TIME,
        expect![[r#"ok, provider id Some("msg_p5jXN8AQM9LWM0D4loKWxJek")"#]],
    );
    check(
        &scheme,
        &signed(SW_TIME - 301),
        SW_TIME,
        expect![[r#"refused: timestamp 1614265029 is more than 300 s away from the server's clock"#]],
    );
    check(
        &scheme,
        &signed(SW_TIME + 301),
        SW_TIME,
        expect![[r#"refused: timestamp 1614265631 is more than 300 s away from the server's clock"#]],
    );
    let garbage = Request::new(SW_BODY)
        .header("webhook-id", SW_ID)
        .header("webhook-timestamp", "1614265330.5")
        .header("webhook-signature", SW_SIGNATURE);
    check(
        &scheme,
        &garbage,
        SW_TIME,
        expect!["refused: header webhook-timestamp is not a Unix time in seconds"],
    );
}

// GitHub: the example of "Validating webhook deliveries" (docs.github.com).
const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &str = "Hello, World!";
const GH_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn gh_request(body: &str, signature: &str) -> Request {
    Request::new(body)
        .header("X-Hub-Signature-256", signature)
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
}

#[test]
fn github_accepts_the_published_example_and_refuses_what_is_wrong() {
    let scheme = Verify::Github {
        secrets: secrets(&[GH_SECRET]),
    };
    check(
        &scheme,
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    check(
        &Verify::Github {
            secrets: secrets(&["old", GH_SECRET]),
        },
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    let computed = format!(
        "sha256={}",
        ::hex::encode(hmac_sha256(b"old", GH_BODY.as_bytes()))
    );
    check(
        &Verify::Github {
            secrets: secrets(&[GH_SECRET, "old"]),
        },
        &gh_request(GH_BODY, &computed),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    check(
        &Verify::Github {
            secrets: secrets(&["wrong"]),
        },
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request("Hello, World?", GH_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, &GH_SIGNATURE[..GH_SIGNATURE.len() - 2]),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, "sha256="),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, "sha256=zz"),
        0,
        expect!["refused: header x-hub-signature-256 is not hex"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, &GH_SIGNATURE[7..]),
        0,
        expect!["refused: header x-hub-signature-256 is not sha256=<hex>"],
    );
    check(
        &scheme,
        &Request::new(GH_BODY),
        0,
        expect!["refused: missing header x-hub-signature-256"],
    );
    check(
        &scheme,
        &Request::new(GH_BODY).header("x-hub-signature-256", GH_SIGNATURE),
        0,
        expect!["ok, provider id None"],
    );
}

// Stripe publishes no vector; these are computed here. The secret is used as it is, `whsec_` included.
const ST_SECRET: &str = "whsec_test_secret";
const ST_TIME: u64 = 1_700_000_000;
const ST_BODY: &str = r#"{"id":"evt_1","object":"event"}"#;

fn st_sign(secret: &str, timestamp: u64, body: &str) -> String {
    ::hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp}.{body}").as_bytes(),
    ))
}

fn st_request(body: &str, header: &str) -> Request {
    Request::new(body).header("Stripe-Signature", header)
}

#[test]
fn stripe_accepts_any_v1_under_any_secret_within_the_tolerance() {
    let scheme = Verify::Stripe {
        secrets: secrets(&[ST_SECRET]),
        tolerance: DEFAULT_TOLERANCE,
    };
    let good = st_sign(ST_SECRET, ST_TIME, ST_BODY);
    let old = st_sign("whsec_old", ST_TIME, ST_BODY);
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={old},v1={good},v0=abc")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &Verify::Stripe {
            secrets: secrets(&["whsec_old", ST_SECRET]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={old}")),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(
            r#"{"id":"evt_2","object":"event"}"#,
            &format!("t={ST_TIME},v1={good}"),
        ),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    // A `v0` alone is the fake signature of a test event: not a signature at all.
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v0={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={}", &good[..62])),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1=")),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1=xyz")),
        ST_TIME,
        expect!["refused: header stripe-signature is not hex"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("v1={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &Request::new(ST_BODY),
        ST_TIME,
        expect!["refused: missing header stripe-signature"],
    );
    let signed_at = |timestamp: u64| {
        st_request(
            ST_BODY,
            &format!("t={timestamp},v1={}", st_sign(ST_SECRET, timestamp, ST_BODY)),
        )
    };
    check(
        &scheme,
        &signed_at(ST_TIME - 300),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &signed_at(ST_TIME - 301),
        ST_TIME,
        expect!["refused: timestamp 1699999699 is more than 300 s away from the server's clock"],
    );
    check(
        &scheme,
        &signed_at(ST_TIME + 301),
        ST_TIME,
        expect!["refused: timestamp 1700000301 is more than 300 s away from the server's clock"],
    );
    let short = Verify::Stripe {
        secrets: secrets(&[ST_SECRET]),
        tolerance: Duration::from_secs(10),
    };
    check(
        &short,
        &signed_at(ST_TIME - 11),
        ST_TIME,
        expect!["refused: timestamp 1699999989 is more than 10 s away from the server's clock"],
    );
}

// Twilio: the SMS example of twilio-ruby's request validator spec.
const TW_TOKEN: &str = "2bd9e9638872de601313dc77410d3b23";
const TW_URL: &str = "http://twiliotests.heroku.com/validate/sms";
const TW_SIGNATURE: &str = "mxeiv65lEe0b8L6LdVw2jgJi8yw=";
const TW_PARAMS: &[(&str, &str)] = &[
    ("ToState", "CA"),
    ("FromState", "CA"),
    ("AccountSid", "ACba8bc05eacf94afdae398e642c9cc32d"),
    ("SmsMessageSid", "SM2003cbd5e6a3701999aa3e5f20ff2787"),
    ("Body", "Orly"),
    ("From", "+14159354345"),
    ("FromCity", "SAN FRANCISCO"),
    ("SmsStatus", "received"),
    ("FromZip", "94107"),
    ("FromCountry", "US"),
    ("To", "+14158141819"),
    ("ToCity", "SAN FRANCISCO"),
    ("ToZip", "94105"),
    ("ToCountry", "US"),
    ("ApiVersion", "2010-04-01"),
    ("SmsSid", "SM2003cbd5e6a3701999aa3e5f20ff2787"),
];

fn form(params: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
        .into_bytes()
}

fn tw_request(params: &[(&str, &str)], signature: &str) -> Request {
    Request::new(form(params))
        .url(TW_URL)
        .header("X-Twilio-Signature", signature)
}

#[test]
fn twilio_accepts_the_published_example_and_refuses_what_is_wrong() {
    let scheme = Verify::Twilio {
        secrets: secrets(&[TW_TOKEN]),
    };
    check(
        &scheme,
        &tw_request(TW_PARAMS, TW_SIGNATURE),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &Verify::Twilio {
            secrets: secrets(&["old", TW_TOKEN]),
        },
        &tw_request(TW_PARAMS, TW_SIGNATURE),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &Verify::Twilio {
            secrets: secrets(&["wrong"]),
        },
        &tw_request(TW_PARAMS, TW_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    let mut tampered = TW_PARAMS.to_vec();
    tampered[4] = ("Body", "Orly?");
    check(
        &scheme,
        &tw_request(&tampered, TW_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    // The URL is signed too: the same form posted to another path is refused.
    check(
        &scheme,
        &tw_request(TW_PARAMS, TW_SIGNATURE).url("http://twiliotests.heroku.com/validate/voice"),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &tw_request(TW_PARAMS, &TW_SIGNATURE[..20]),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &tw_request(TW_PARAMS, "***"),
        0,
        expect!["refused: header x-twilio-signature is not base64"],
    );
    check(
        &scheme,
        &Request::new(form(TW_PARAMS)).url(TW_URL),
        0,
        expect!["refused: missing header x-twilio-signature"],
    );
    // An SMS of the Messaging API carries `MessageSid`, the delivery's id; the signature is computed
    // here over the URL and the parameters sorted by name.
    let message = [
        ("To", "+15005550006"),
        ("MessageSid", "SM123"),
        ("Body", "hi there"),
    ];
    let signed = format!("{TW_URL}Bodyhi thereMessageSidSM123To+15005550006");
    check(
        &scheme,
        &tw_request(&message, &b64(&hmac_sha1(TW_TOKEN.as_bytes(), signed.as_bytes()))),
        0,
        expect![[r#"ok, provider id Some("SM123")"#]],
    );
}

#[test]
fn twilio_accepts_the_url_signed_with_or_without_its_port() {
    let scheme = Verify::Twilio {
        secrets: secrets(&[TW_TOKEN]),
    };
    let params = [("MessageSid", "SM1"), ("Body", "hi")];
    let signed_over = |url: &str| {
        b64(&hmac_sha1(
            TW_TOKEN.as_bytes(),
            format!("{url}BodyhiMessageSidSM1").as_bytes(),
        ))
    };
    let request = |called: &'static str, signed: &str| {
        Request::new(form(&params))
            .url(called)
            .header("X-Twilio-Signature", signed_over(signed))
    };
    check(
        &scheme,
        &request(
            "https://h.example.com/hooks/t-1?a=1",
            "https://h.example.com:443/hooks/t-1?a=1",
        ),
        0,
        expect![[r#"ok, provider id Some("SM1")"#]],
    );
    check(
        &scheme,
        &request(
            "https://h.example.com:443/hooks/t-1",
            "https://h.example.com/hooks/t-1",
        ),
        0,
        expect![[r#"ok, provider id Some("SM1")"#]],
    );
    check(
        &scheme,
        &request("http://h.example.com", "http://h.example.com:80"),
        0,
        expect![[r#"ok, provider id Some("SM1")"#]],
    );
    check(
        &scheme,
        &request("https://u@[::1]:8443/t", "https://u@[::1]/t"),
        0,
        expect![[r#"ok, provider id Some("SM1")"#]],
    );
    check(
        &scheme,
        &request("https://[::1]/t", "https://[::1]:443/t"),
        0,
        expect![[r#"ok, provider id Some("SM1")"#]],
    );
    // Only the port is forgiven: another port, host or path is another URL.
    check(
        &scheme,
        &request(
            "https://h.example.com/hooks/t-1",
            "https://h.example.com:8443/hooks/t-1",
        ),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &request(
            "https://h.example.com/hooks/t-1",
            "https://h.example.com/hooks/t-2",
        ),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
}

#[test]
fn twilio_signs_only_the_url_of_a_json_body_and_checks_the_body_by_its_digest() {
    use sha2::Digest as _;
    let scheme = Verify::Twilio {
        secrets: secrets(&[TW_TOKEN]),
    };
    let body = r#"{"event":"x"}"#;
    let url: &'static str = format!(
        "https://hooks.example.com/hooks/t-1?bodySHA256={}",
        ::hex::encode(sha2::Sha256::digest(body))
    )
    .leak();
    let signature = b64(&hmac_sha1(TW_TOKEN.as_bytes(), url.as_bytes()));
    let request = |body: &str| {
        Request::new(body)
            .url(url)
            .header("x-twilio-signature", signature.clone())
    };
    check(&scheme, &request(body), 0, expect!["ok, provider id None"]);
    check(
        &scheme,
        &request(r#"{"event":"y"}"#),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
}

// Mailgun publishes no vector; these are computed here.
const MG_KEY: &str = "key-mailgun-signing";
const MG_TIME: u64 = 1_700_000_000;
const MG_TOKEN: &str = "c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d";

fn mg_sign(key: &str, timestamp: &str, token: &str) -> String {
    ::hex::encode(hmac_sha256(
        key.as_bytes(),
        format!("{timestamp}{token}").as_bytes(),
    ))
}

#[test]
fn mailgun_accepts_its_fields_signed_by_any_key_within_the_tolerance() {
    let time = MG_TIME.to_string();
    let good = mg_sign(MG_KEY, &time, MG_TOKEN);
    let scheme = Verify::Mailgun {
        secrets: secrets(&[MG_KEY]),
        tolerance: DEFAULT_TOLERANCE,
    };
    let body = |timestamp: &str, signature: &str| {
        Request::new(form(&[
            ("sender", "bob@example.com"),
            ("timestamp", timestamp),
            ("token", MG_TOKEN),
            ("signature", signature),
        ]))
    };
    check(
        &scheme,
        &body(&time, &good),
        MG_TIME,
        expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]],
    );
    check(
        &Verify::Mailgun {
            secrets: secrets(&["old", MG_KEY]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &body(&time, &good),
        MG_TIME,
        expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]],
    );
    check(
        &Verify::Mailgun {
            secrets: secrets(&["old"]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &body(&time, &good),
        MG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &body(&time, &good[..62]),
        MG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &body(
            &(MG_TIME + 301).to_string(),
            &mg_sign(MG_KEY, &(MG_TIME + 301).to_string(), MG_TOKEN),
        ),
        MG_TIME,
        expect!["refused: timestamp 1700000301 is more than 300 s away from the server's clock"],
    );
    check(
        &scheme,
        &body(&time, "not hex"),
        MG_TIME,
        expect!["refused: field signature is not hex"],
    );
    check(
        &scheme,
        &Request::new(form(&[("timestamp", &time), ("token", MG_TOKEN)])),
        MG_TIME,
        expect!["refused: missing form field signature"],
    );
    let fields = |timestamp: u64, signature: &str| {
        let timestamp = timestamp.to_string();
        let fields = MailgunFields {
            timestamp: &timestamp,
            token: MG_TOKEN,
            signature,
        };
        match verify_mailgun_fields(&secrets(&[MG_KEY]), fields, at(MG_TIME), DEFAULT_TOLERANCE) {
            Ok(verified) => format!("ok, provider id {:?}", verified.provider_id),
            Err(refusal) => format!("refused: {refusal}"),
        }
    };
    let inside = MG_TIME - 300;
    expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]]
        .assert_eq(&fields(inside, &mg_sign(MG_KEY, &inside.to_string(), MG_TOKEN)));
    let outside = MG_TIME - 301;
    expect!["refused: timestamp 1699999699 is more than 300 s away from the server's clock"]
        .assert_eq(&fields(outside, &mg_sign(MG_KEY, &outside.to_string(), MG_TOKEN)));
    // The token is signed: another token under the same timestamp's signature is refused.
    let other = MailgunFields {
        timestamp: &time,
        token: "another-token",
        signature: &good,
    };
    let refused = verify_mailgun_fields(&secrets(&[MG_KEY]), other, at(MG_TIME), DEFAULT_TOLERANCE);
    expect!["Err(NoMatch)"].assert_eq(&format!("{refused:?}"));
}

fn plain(encoding: Encoding, prefix: Option<&str>) -> Verify {
    Verify::HmacSha256 {
        secrets: secrets(&["old", "plain-secret"]),
        header: HeaderName::from_static("x-signature"),
        encoding,
        prefix: prefix.map(str::to_owned),
    }
}

#[test]
fn plain_hmac_reads_its_header_in_the_configured_encoding_and_prefix() {
    let body = r#"{"order":42}"#;
    let tag = hmac_sha256(b"plain-secret", body.as_bytes());
    let request = |signature: String| Request::new(body).header("X-Signature", signature);
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode_upper(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Base64, None),
        &request(b64(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, Some("sha256=")),
        &request(format!("sha256={}", ::hex::encode(&tag))),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, Some("sha256=")),
        &request(::hex::encode(&tag)),
        0,
        expect!["refused: header x-signature is not the configured prefix followed by the signature"],
    );
    check(
        &plain(Encoding::Base64, None),
        &request(::hex::encode(&tag)),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(&tag[..31])),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(hmac_sha256(b"wrong", body.as_bytes()))),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &Request::new("{}").header("x-signature", ::hex::encode(&tag)),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &Request::new(body),
        0,
        expect!["refused: missing header x-signature"],
    );
}

// SendGrid: the example of sendgrid-nodejs' event webhook spec (`eventwebhook.spec.js`).
const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
const SG_OTHER_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
const SG_SIGNATURE: &str =
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=";
const SG_TIME: u64 = 1_588_788_367;
const SG_BODY: &str = r#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;

fn sendgrid(keys: &[&str]) -> Verify {
    Verify::Sendgrid {
        public_keys: keys.iter().map(|key| (*key).to_owned()).collect(),
        tolerance: DEFAULT_TOLERANCE,
    }
}

fn sg_request(body: &str, timestamp: &str, signature: &str) -> Request {
    Request::new(body)
        .header("X-Twilio-Email-Event-Webhook-Signature", signature)
        .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
}

/// A key pair of this file's own: the public key as SendGrid shows one (base64 SubjectPublicKeyInfo,
/// the fixed P-256 header written out here), and a signer.
fn sg_key_pair(seed: u8) -> (String, impl Fn(&str, &str) -> String) {
    use p256::ecdsa::signature::Signer as _;
    let signing = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("a valid scalar");
    let point = signing.verifying_key().to_encoded_point(false);
    let mut der =
        ::hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("the header is hex");
    der.extend_from_slice(point.as_bytes());
    let sign = move |timestamp: &str, body: &str| {
        let signature: p256::ecdsa::Signature = signing.sign(format!("{timestamp}{body}").as_bytes());
        b64(signature.to_der().as_bytes())
    };
    (b64(&der), sign)
}

#[test]
fn sendgrid_accepts_the_published_example_and_refuses_what_is_wrong() {
    let time = SG_TIME.to_string();
    let scheme = sendgrid(&[SG_KEY]);
    check(
        &scheme,
        &sg_request(SG_BODY, &time, SG_SIGNATURE),
        SG_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &sendgrid(&[SG_OTHER_KEY, SG_KEY]),
        &sg_request(SG_BODY, &time, SG_SIGNATURE),
        SG_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &sendgrid(&[SG_OTHER_KEY]),
        &sg_request(SG_BODY, &time, SG_SIGNATURE),
        SG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &sg_request("payload", &time, SG_SIGNATURE),
        SG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    let flipped = SG_SIGNATURE.replace("NH2j", "NH3j");
    check(
        &scheme,
        &sg_request(SG_BODY, &time, &flipped),
        SG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &sg_request(SG_BODY, "timestamp", SG_SIGNATURE),
        SG_TIME,
        expect!["refused: header x-twilio-email-event-webhook-timestamp is not a Unix time in seconds"],
    );
    check(
        &scheme,
        &sg_request(SG_BODY, &(SG_TIME + 1).to_string(), SG_SIGNATURE),
        SG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &sg_request(SG_BODY, &time, &SG_SIGNATURE[..40]),
        SG_TIME,
        expect!["refused: header x-twilio-email-event-webhook-signature is not a base64 DER ECDSA signature"],
    );
    check(
        &scheme,
        &sg_request(SG_BODY, &time, ""),
        SG_TIME,
        expect!["refused: header x-twilio-email-event-webhook-signature is not a base64 DER ECDSA signature"],
    );
    check(
        &scheme,
        &sg_request(SG_BODY, &time, "***"),
        SG_TIME,
        expect!["refused: header x-twilio-email-event-webhook-signature is not base64"],
    );
    check(
        &scheme,
        &Request::new(SG_BODY).header("X-Twilio-Email-Event-Webhook-Timestamp", time.clone()),
        SG_TIME,
        expect!["refused: missing header x-twilio-email-event-webhook-signature"],
    );
    check(
        &sendgrid(&["bm90IGEga2V5"]),
        &sg_request(SG_BODY, &time, SG_SIGNATURE),
        SG_TIME,
        expect!["refused: secret 0 of the trigger cannot be used: not a base64 DER P-256 public key"],
    );
    check(
        &sendgrid(&[]),
        &sg_request(SG_BODY, &time, SG_SIGNATURE),
        SG_TIME,
        expect!["refused: no secret is configured for this trigger"],
    );
}

#[test]
fn sendgrid_accepts_either_key_of_a_rotation_within_the_tolerance() {
    let (old_key, sign_old) = sg_key_pair(7);
    let (new_key, sign_new) = sg_key_pair(9);
    let scheme = sendgrid(&[&old_key, &new_key]);
    let at_time = |offset: i64, sign: &dyn Fn(&str, &str) -> String| {
        let timestamp = SG_TIME.checked_add_signed(offset).expect("in range").to_string();
        sg_request(SG_BODY, &timestamp, &sign(&timestamp, SG_BODY))
    };
    check(
        &scheme,
        &at_time(0, &sign_old),
        SG_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &at_time(0, &sign_new),
        SG_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &sendgrid(&[&old_key]),
        &at_time(0, &sign_new),
        SG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &at_time(-300, &sign_new),
        SG_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &at_time(-301, &sign_new),
        SG_TIME,
        expect!["refused: timestamp 1588788066 is more than 300 s away from the server's clock"],
    );
    check(
        &scheme,
        &at_time(301, &sign_new),
        SG_TIME,
        expect!["refused: timestamp 1588788668 is more than 300 s away from the server's clock"],
    );
}
