//! Every signer against the verifier of its scheme (`triggers::verify`, which is checked against the
//! providers' published vectors): what is signed here verifies there, and not under another secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use expect_test::{Expect, expect};

use super::{Encoding, Sample, Scheme, sign};
use crate::triggers::verify::{self, DEFAULT_TOLERANCE, Inbound, SigningSecret, Verify};

const NOW: u64 = 1_700_000_000;
const URL: &str = "https://hooks.example.com/hooks/t-1?x=1";

/// A P-256 key pair made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` (PKCS#8
/// PEM) and `openssl pkey -pubout -outform DER | base64`: test-only, made outside the code under test.
const SG_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfo1mkn0Fbn5BxOis
9po0NuKbn4zw/iEbR34g3vob6umhRANCAARcTNO/gV5OdLIZJVnNC4YFOBgcC0Cm
abd2Rny0WW1XibfJht22D0pJ30Ik/Tz5ibwnqpIFULpThQgEYWhWYY5Q
-----END PRIVATE KEY-----
";
/// The same key as `openssl pkey -outform DER | base64` writes it (SEC1).
const SG_PRIVATE_SEC1: &str = "MHcCAQEEIH6NZpJ9BW5+QcTorPaaNDbim5+M8P4hG0d+IN76G+rpoAoGCCqGSM49AwEHoUQDQgAEXEzTv4FeTnSyGSVZzQuGBTgYHAtApmm3dkZ8tFltV4m3yYbdtg9KSd9CJP08+Ym8J6qSBVC6U4UIBGFoVmGOUA==";
const SG_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXEzTv4FeTnSyGSVZzQuGBTgYHAtApmm3dkZ8tFltV4m3yYbdtg9KSd9CJP08+Ym8J6qSBVC6U4UIBGFoVmGOUA==";
/// Another key's public half, made with openssl the same way.
const SG_OTHER_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+hqh0d58pNuPA7dHiRrq2f7SDABRtHOSxBk88xYV1Pxt4fMXParWazwQwJUabIhnxFsO/A3V4O7koHvq1sYwwQ==";

/// Signs `body` with `secret` under `scheme`, then verifies the request at the same instant with
/// `verifier`: the verifier's answer, and the names of what was added.
#[track_caller]
fn check(scheme: Scheme<'_>, secret: &str, verifier: &Verify, body: &str, expect: Expect) {
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let sample = Sample {
        body: body.as_bytes(),
        url: URL,
        now,
        id: "msg_2Ks9",
    };
    let got = match sign(&scheme, secret, &sample) {
        Err(error) => format!("not signed: {error}"),
        Ok(signed) => {
            let body = signed.form_body(body.as_bytes());
            let mut headers = HeaderMap::new();
            for (name, value) in &signed.headers {
                headers.append(
                    HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                    HeaderValue::from_str(value).expect("a header value"),
                );
            }
            let inbound = Inbound {
                body: &body,
                headers: &headers,
                url: URL,
            };
            let outcome = match verify::verify(verifier, &inbound, now) {
                Ok(verified) => format!("verified, provider id {:?}", verified.provider_id),
                Err(refusal) => format!("refused: {refusal}"),
            };
            let added: Vec<&str> = signed
                .headers
                .iter()
                .chain(&signed.fields)
                .map(|(name, _)| name.as_str())
                .collect();
            format!("{outcome}; added {}", added.join(", "))
        }
    };
    expect.assert_eq(&got);
}

fn secrets(value: &str) -> Vec<SigningSecret> {
    vec![SigningSecret::new(value)]
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn standard_webhooks_samples_verify() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let verifier = |secret: &str| Verify::StandardWebhooks {
        secrets: secrets(secret),
        tolerance: DEFAULT_TOLERANCE,
    };
    check(
        Scheme::StandardWebhooks,
        secret,
        &verifier(secret),
        r#"{"test": 1}"#,
        expect![[
            r#"verified, provider id Some("msg_2Ks9"); added webhook-id, webhook-timestamp, webhook-signature"#
        ]],
    );
    check(
        Scheme::StandardWebhooks,
        secret,
        &verifier("whsec_dGhlIG90aGVyIHNlY3JldCBvZiAyNCBieXRlcw=="),
        r#"{"test": 1}"#,
        expect![
            "refused: no secret of the trigger matched the signature; added webhook-id, webhook-timestamp, webhook-signature"
        ],
    );
    check(
        Scheme::StandardWebhooks,
        "whsec_not base64",
        &verifier(secret),
        "{}",
        expect!["not signed: the signing secret is not whsec_ followed by base64"],
    );
}

#[test]
fn github_and_stripe_samples_verify() {
    let github = |secret: &str| Verify::Github {
        secrets: secrets(secret),
    };
    check(
        Scheme::Github,
        "It's a Secret to Everybody",
        &github("It's a Secret to Everybody"),
        "Hello, World!",
        expect![[
            r#"verified, provider id Some("msg_2Ks9"); added X-Hub-Signature-256, X-GitHub-Delivery, X-GitHub-Event"#
        ]],
    );
    check(
        Scheme::Github,
        "It's a Secret to Everybody",
        &github("another"),
        "Hello, World!",
        expect![
            "refused: no secret of the trigger matched the signature; added X-Hub-Signature-256, X-GitHub-Delivery, X-GitHub-Event"
        ],
    );
    let stripe = |secret: &str| Verify::Stripe {
        secrets: secrets(secret),
        tolerance: DEFAULT_TOLERANCE,
    };
    check(
        Scheme::Stripe,
        "whsec_test",
        &stripe("whsec_test"),
        r#"{"id":"evt_1"}"#,
        expect!["verified, provider id None; added Stripe-Signature"],
    );
    check(
        Scheme::Stripe,
        "whsec_test",
        &stripe("whsec_other"),
        r#"{"id":"evt_1"}"#,
        expect!["refused: no secret of the trigger matched the signature; added Stripe-Signature"],
    );
}

#[test]
fn twilio_and_mailgun_samples_verify() {
    let twilio = |secret: &str| Verify::Twilio {
        secrets: secrets(secret),
    };
    let form = "MessageSid=SM1&From=%2B15550001111&To=%2B15559990000&Body=hi+there";
    check(
        Scheme::Twilio,
        "auth-token",
        &twilio("auth-token"),
        form,
        expect![[r#"verified, provider id Some("SM1"); added X-Twilio-Signature"#]],
    );
    check(
        Scheme::Twilio,
        "auth-token",
        &twilio("other-token"),
        form,
        expect!["refused: no secret of the trigger matched the signature; added X-Twilio-Signature"],
    );
    let mailgun = |secret: &str| Verify::Mailgun {
        secrets: secrets(secret),
        tolerance: DEFAULT_TOLERANCE,
    };
    check(
        Scheme::Mailgun,
        "key-signing",
        &mailgun("key-signing"),
        "recipient=support%40example.com&subject=hi",
        expect![[r#"verified, provider id Some("msg_2Ks9"); added timestamp, token, signature"#]],
    );
    check(
        Scheme::Mailgun,
        "key-signing",
        &mailgun("key-other"),
        "",
        expect!["refused: no secret of the trigger matched the signature; added timestamp, token, signature"],
    );
}

#[test]
fn plain_hmac_samples_verify_in_either_encoding_with_a_prefix() {
    let verifier = |secret: &str, encoding: Encoding, prefix: Option<&str>| Verify::HmacSha256 {
        secrets: secrets(secret),
        header: HeaderName::from_static("x-signature"),
        encoding,
        prefix: prefix.map(str::to_owned),
    };
    for encoding in [Encoding::Hex, Encoding::Base64] {
        check(
            Scheme::HmacSha256 {
                header: "X-Signature",
                encoding,
                prefix: Some("sha256="),
            },
            "s3cret",
            &verifier("s3cret", encoding, Some("sha256=")),
            r#"{"a":1}"#,
            expect!["verified, provider id None; added X-Signature"],
        );
    }
    check(
        Scheme::HmacSha256 {
            header: "X-Signature",
            encoding: Encoding::Hex,
            prefix: None,
        },
        "s3cret",
        &verifier("s3cret", Encoding::Base64, None),
        r#"{"a":1}"#,
        expect!["refused: no secret of the trigger matched the signature; added X-Signature"],
    );
}

#[test]
fn sendgrid_samples_verify_with_the_public_half_of_the_key() {
    let verifier = |key: &str| Verify::Sendgrid {
        public_keys: vec![key.to_owned()],
        tolerance: DEFAULT_TOLERANCE,
    };
    for private in [SG_PRIVATE, SG_PRIVATE_SEC1] {
        check(
            Scheme::Sendgrid,
            private,
            &verifier(SG_PUBLIC),
            r#"[{"event":"processed"}]"#,
            expect![
                "verified, provider id None; added X-Twilio-Email-Event-Webhook-Signature, X-Twilio-Email-Event-Webhook-Timestamp"
            ],
        );
    }
    check(
        Scheme::Sendgrid,
        SG_PRIVATE,
        &verifier(SG_OTHER_PUBLIC),
        "[]",
        expect![
            "refused: no secret of the trigger matched the signature; added X-Twilio-Email-Event-Webhook-Signature, X-Twilio-Email-Event-Webhook-Timestamp"
        ],
    );
    check(
        Scheme::Sendgrid,
        "not a key",
        &verifier(SG_PUBLIC),
        "[]",
        expect![
            "not signed: the signing secret is not a P-256 private key (PKCS#8 or SEC1, PEM or base64 DER)"
        ],
    );
}

#[test]
fn a_sample_signed_too_long_ago_is_refused_and_none_signs_nothing() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sample = Sample {
        body: b"{}",
        url: URL,
        now: at(NOW - 301),
        id: "msg_1",
    };
    let signed = sign(&Scheme::StandardWebhooks, secret, &sample).expect("signed");
    let mut headers = HeaderMap::new();
    for (name, value) in &signed.headers {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    let verifier = Verify::StandardWebhooks {
        secrets: secrets(secret),
        tolerance: DEFAULT_TOLERANCE,
    };
    let inbound = Inbound {
        body: b"{}",
        headers: &headers,
        url: URL,
    };
    assert!(verify::verify(&verifier, &inbound, at(NOW)).is_err());
    let none = sign(&Scheme::None, "", &sample).expect("nothing to sign");
    assert!(none.headers.is_empty() && none.fields.is_empty());
}
