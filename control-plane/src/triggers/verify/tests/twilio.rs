use super::*;

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
