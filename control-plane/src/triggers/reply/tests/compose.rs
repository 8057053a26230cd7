use base64::Engine as _;

use super::*;

#[test]
fn twilio_answers_the_sender_from_the_number_it_wrote_to() {
    let config = config(
        ReplyKind::Twilio,
        None,
        &[("accountSid", "AC123"), ("authToken", "tok-secret")],
    );
    check(
        &config,
        &answer(&sms(), "Hello back", None),
        expect![[r#"
            Outgoing {
                url: "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
                headers: [
                    (
                        "Authorization",
                        "[redacted]",
                    ),
                ],
                body: Form(
                    [
                        (
                            "To",
                            "+15550001111",
                        ),
                        (
                            "From",
                            "+15559990000",
                        ),
                        (
                            "Body",
                            "Hello back",
                        ),
                    ],
                ),
                message_id: None,
            }"#]],
    );
    let outgoing =
        compose(&config, &Providers::default(), &answer(&sms(), "x", None), at(0)).expect("sendable");
    assert_eq!(
        outgoing.headers[0].1,
        format!("Basic {}", b64("AC123:tok-secret"))
    );
}

#[test]
fn twilio_sends_from_the_configured_number_and_cuts_a_long_answer_to_its_limit() {
    let config = config(
        ReplyKind::Twilio,
        Some("+15551234567"),
        &[("accountSid", "AC123"), ("authToken", "tok")],
    );
    let long = "é".repeat(2000);
    let outgoing = compose(
        &config,
        &Providers::default(),
        &answer(&sms(), &long, None),
        at(0),
    )
    .expect("sendable");
    let super::super::OutgoingBody::Form(fields) = &outgoing.body else {
        panic!("Twilio takes a form")
    };
    assert_eq!(fields[1], ("From".to_owned(), "+15551234567".to_owned()));
    let body = &fields[2].1;
    assert_eq!(body.chars().count(), 1600);
    assert!(body.ends_with("é…"), "{}", &body[body.len() - 8..]);
    let exact = "a".repeat(1600);
    let outgoing = compose(
        &config,
        &Providers::default(),
        &answer(&sms(), &exact, None),
        at(0),
    )
    .expect("sendable");
    let super::super::OutgoingBody::Form(fields) = &outgoing.body else {
        panic!("Twilio takes a form")
    };
    assert_eq!(fields[2].1, exact, "1600 characters fit as they are");
}

#[test]
fn mailgun_threads_the_answer_and_asks_for_replies_at_the_plus_address() {
    check(
        &config(
            ReplyKind::Mailgun,
            Some("Support <support@mg.example.com>"),
            &[("apiKey", "key-secret")],
        ),
        &answer(
            &mail(),
            "It is attached.",
            Some("c-1.00112233445566778899aabbccddeeff"),
        ),
        expect![[r#"
            Outgoing {
                url: "https://api.mailgun.net/v3/mg.example.com/messages",
                headers: [
                    (
                        "Authorization",
                        "[redacted]",
                    ),
                ],
                body: Form(
                    [
                        (
                            "from",
                            "Support <support@mg.example.com>",
                        ),
                        (
                            "to",
                            "ada@example.org",
                        ),
                        (
                            "subject",
                            "Re: Invoice 42",
                        ),
                        (
                            "text",
                            "It is attached.",
                        ),
                        (
                            "h:In-Reply-To",
                            "<m2@example.org>",
                        ),
                        (
                            "h:References",
                            "<m0@example.org> <m1@example.org> <m2@example.org>",
                        ),
                        (
                            "h:Auto-Submitted",
                            "auto-replied",
                        ),
                        (
                            "h:Message-Id",
                            "<34a14dbe46d91f39e989e49109a7a6d0@mg.example.com>",
                        ),
                        (
                            "h:Reply-To",
                            "support+c-1.00112233445566778899aabbccddeeff@mg.example.com",
                        ),
                    ],
                ),
                message_id: Some(
                    "<34a14dbe46d91f39e989e49109a7a6d0@mg.example.com>",
                ),
            }"#]],
    );
}

#[test]
fn mailgun_sends_through_the_configured_domain_and_authorizes_as_api() {
    let config = config(
        ReplyKind::Mailgun,
        Some("support@example.com"),
        &[("apiKey", "key-secret"), ("domain", "mg.example.com")],
    );
    let outgoing =
        compose(&config, &Providers::default(), &answer(&mail(), "x", None), at(0)).expect("sendable");
    assert_eq!(
        outgoing.url.as_str(),
        "https://api.mailgun.net/v3/mg.example.com/messages"
    );
    assert_eq!(outgoing.headers[0].1, format!("Basic {}", b64("api:key-secret")));
    let id = outgoing.message_id.expect("an email reply has a Message-ID");
    assert!(id.ends_with("@example.com>"), "{id}");
    let again = compose(
        &config,
        &Providers::default(),
        &answer(&mail(), "x", None),
        at(99),
    )
    .expect("sendable");
    assert_eq!(
        again.message_id.as_deref(),
        Some(id.as_str()),
        "a retry is the same mail"
    );
}

#[test]
fn sendgrid_takes_the_v3_mail_send_body() {
    check(
        &config(
            ReplyKind::Sendgrid,
            Some("Support <support@example.com>"),
            &[("apiKey", "SG.secret")],
        ),
        &answer(
            &mail(),
            "It is attached.",
            Some("c-1.00112233445566778899aabbccddeeff"),
        ),
        expect![[r#"
            Outgoing {
                url: "https://api.sendgrid.com/v3/mail/send",
                headers: [
                    (
                        "Authorization",
                        "[redacted]",
                    ),
                ],
                body: Json(
                    Object {
                        "content": Array [
                            Object {
                                "type": String("text/plain"),
                                "value": String("It is attached."),
                            },
                        ],
                        "from": Object {
                            "email": String("support@example.com"),
                            "name": String("Support"),
                        },
                        "headers": Object {
                            "Auto-Submitted": String("auto-replied"),
                            "In-Reply-To": String("<m2@example.org>"),
                            "Message-ID": String("<34a14dbe46d91f39e989e49109a7a6d0@example.com>"),
                            "References": String("<m0@example.org> <m1@example.org> <m2@example.org>"),
                        },
                        "personalizations": Array [
                            Object {
                                "to": Array [
                                    Object {
                                        "email": String("ada@example.org"),
                                        "name": String("Ada Lovelace"),
                                    },
                                ],
                            },
                        ],
                        "reply_to": Object {
                            "email": String("support+c-1.00112233445566778899aabbccddeeff@example.com"),
                        },
                        "subject": String("Re: Invoice 42"),
                    },
                ),
                message_id: Some(
                    "<34a14dbe46d91f39e989e49109a7a6d0@example.com>",
                ),
            }"#]],
    );
    let config = config(
        ReplyKind::Sendgrid,
        Some("support@example.com"),
        &[("apiKey", "SG.secret")],
    );
    let outgoing =
        compose(&config, &Providers::default(), &answer(&mail(), "x", None), at(0)).expect("sendable");
    assert_eq!(outgoing.headers[0].1, "Bearer SG.secret");
}

#[test]
fn a_webhook_answer_is_a_signed_trigger_reply_event() {
    let mut config = config(
        ReplyKind::Webhook,
        None,
        &[("secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
    );
    config.url = Some("https://app.example.com/agent-replies".to_owned());
    let context = json!({"body": {"ticket": 7}, "headers": {}, "query": {}});
    check(
        &config,
        &answer(&context, "Done.", None),
        expect![[r#"
            Outgoing {
                url: "https://app.example.com/agent-replies",
                headers: [
                    (
                        "webhook-id",
                        "reply_s-1",
                    ),
                    (
                        "webhook-timestamp",
                        "1700000000",
                    ),
                    (
                        "webhook-signature",
                        "v1,zbJQh40QK/WbBBuyWqPNaRc3Dfr63qCkImyMKAh5HrY=",
                    ),
                ],
                body: Json(
                    Object {
                        "conversationId": String("c-1"),
                        "deliveryId": String("d-1"),
                        "sessionId": String("s-1"),
                        "text": String("Done."),
                        "triggerId": String("support-mail"),
                        "type": String("trigger.reply"),
                    },
                ),
                message_id: None,
            }"#]],
    );
}

#[test]
fn what_a_reply_cannot_do_without_is_named() {
    let twilio = |credentials: &[(&str, &str)]| config(ReplyKind::Twilio, None, credentials);
    check(
        &twilio(&[("authToken", "t")]),
        &answer(&sms(), "x", None),
        expect!["unsendable: missing reply.credentials.accountSid"],
    );
    check(
        &twilio(&[("accountSid", "AC1"), ("authToken", "")]),
        &answer(&sms(), "x", None),
        expect!["unsendable: missing reply.credentials.authToken"],
    );
    check(
        &twilio(&[("accountSid", "AC1"), ("authToken", "t")]),
        &answer(&json!({"sms": {"to": "+1555"}}), "x", None),
        expect!["unsendable: missing context sms.from"],
    );
    check(
        &twilio(&[("accountSid", "AC1"), ("authToken", "t")]),
        &answer(&json!({"sms": {"from": "+1555"}}), "x", None),
        expect!["unsendable: missing context sms.to"],
    );
    for kind in [ReplyKind::Mailgun, ReplyKind::Sendgrid] {
        check(
            &config(kind, Some("support@example.com"), &[]),
            &answer(&mail(), "x", None),
            expect!["unsendable: missing reply.credentials.apiKey"],
        );
        check(
            &config(kind, None, &[("apiKey", "k")]),
            &answer(&mail(), "x", None),
            expect!["unsendable: missing reply.from"],
        );
        check(
            &config(kind, Some("support at example.com"), &[("apiKey", "k")]),
            &answer(&mail(), "x", None),
            expect!["unsendable: reply.from is not a mail address"],
        );
        check(
            &config(kind, Some("support@example.com"), &[("apiKey", "k")]),
            &answer(&json!({"email": {"subject": "hi"}}), "x", None),
            expect!["unsendable: missing context email.from"],
        );
        check(
            &config(kind, Some("support@example.com"), &[("apiKey", "k")]),
            &answer(&json!({"email": {"from": "<>"}}), "x", None),
            expect!["unsendable: context email.from is not a mail address"],
        );
    }
    check(
        &twilio(&[("accountSid", "AC1"), ("authToken", "t")]),
        &answer(&sms(), " \n", None),
        expect!["unsendable: missing the session's result text"],
    );
    let webhook = |url: Option<&str>, credentials: &[(&str, &str)]| {
        let mut config = config(ReplyKind::Webhook, None, credentials);
        config.url = url.map(str::to_owned);
        config
    };
    let context = json!({"body": {}});
    check(
        &webhook(None, &[("secret", "whsec_AAAA")]),
        &answer(&context, "x", None),
        expect!["unsendable: missing reply.url"],
    );
    check(
        &webhook(Some("ftp://example.com/x"), &[("secret", "whsec_AAAA")]),
        &answer(&context, "x", None),
        expect!["unsendable: reply.url is not an http(s) URL"],
    );
    check(
        &webhook(Some("https://example.com/x"), &[]),
        &answer(&context, "x", None),
        expect!["unsendable: missing reply.credentials.secret"],
    );
    check(
        &webhook(Some("https://example.com/x"), &[("secret", "whsec_not base64!")]),
        &answer(&context, "x", None),
        expect!["unsendable: reply.credentials.secret is not whsec_ followed by base64"],
    );
}

#[test]
fn a_reply_configuration_never_prints_its_credentials() {
    let config = config(
        ReplyKind::Twilio,
        None,
        &[("accountSid", "AC123"), ("authToken", "tok-secret")],
    );
    let shown = format!("{config:?}");
    assert!(!shown.contains("tok-secret"), "{shown}");
    assert!(shown.contains("authToken"), "{shown}");
    let outgoing =
        compose(&config, &Providers::default(), &answer(&sms(), "x", None), at(0)).expect("sendable");
    let shown = format!("{outgoing:?}");
    assert!(!shown.contains(&b64("AC123:tok-secret")), "{shown}");
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}
