use super::*;

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
