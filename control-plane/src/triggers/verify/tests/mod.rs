//! The schemes against the providers' published vectors, and against signatures the tests compute
//! themselves (with the `hmac` crate directly, never with the code under test).

mod github;
mod mailgun;
mod plain_hmac;
mod sendgrid;
mod standard_webhooks;
mod stripe;
mod twilio;

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

/// A form body (Twilio, Mailgun).
fn form(params: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
        .into_bytes()
}
