use super::*;

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
