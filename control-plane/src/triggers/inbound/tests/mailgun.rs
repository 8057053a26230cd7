use expect_test::expect;

use super::{Kind, Limits, Payload, check, check_invalid};

const FORM: &str = include_str!("fixtures/mailgun_form.txt");
const MULTIPART: &str = include_str!("fixtures/mailgun_multipart.txt");
const MIME: &str = include_str!("fixtures/mailgun_mime.txt");

#[test]
fn a_mailgun_form_post_becomes_the_email_shape() {
    check(
        Kind::Email,
        &Payload::fixture(FORM),
        expect![[r#"
        provider_id: Some("CAF=1042.abc@mail.example.com")
        auto_submitted: false
        keys: ["msg:CAF=1042.abc@mail.example.com"]
        thread: Email {
            message_id: Some(
                "CAF=1042.abc@mail.example.com",
            ),
            in_reply_to: None,
            references: [],
            reply_tokens: [],
            from: "alice@example.com",
            to: [
                "support@inbound.example.com",
            ],
            subject: "Invoice 1042 is wrong",
        }
        context: {
          "email": {
            "attachments": [],
            "from": "Alice Example <alice@example.com>",
            "html": "<div>Hi,</div><div>the total on invoice 1042 counts the seats twice.</div>",
            "inReplyTo": null,
            "messageId": "CAF=1042.abc@mail.example.com",
            "references": [],
            "strippedText": "Hi,\n\nthe total on invoice 1042 counts the seats twice.",
            "subject": "Invoice 1042 is wrong",
            "text": "Hi,\n\nthe total on invoice 1042 counts the seats twice.\n\nAlice\n",
            "to": "support@inbound.example.com"
          },
          "headers": {
            "content-type": "multipart/alternative; boundary=\"001a11c\"",
            "date": "Tue, 01 Dec 2026 09:12:44 +0000",
            "from": "Alice Example <alice@example.com>",
            "message-id": "<CAF=1042.abc@mail.example.com>",
            "mime-version": "1.0",
            "received": "by luna.mailgun.net with SMTP mgrt 8734663311733; Fri, 03 May 2013 18:26:27 +0000",
            "return-path": "<alice@example.com>",
            "subject": "Invoice 1042 is wrong",
            "to": "support@inbound.example.com"
          }
        }
    "#]],
    );
}

#[test]
fn a_mailgun_multipart_reply_brings_its_attachment_and_its_thread() {
    check(
        Kind::Email,
        &Payload::fixture(MULTIPART),
        expect![[r#"
        provider_id: Some("20261201.2@mail.example.org")
        auto_submitted: false
        keys: ["token:t0k3n42", "msg:agent-7f3a@inbound.example.com", "msg:20261130.1@mail.example.org", "msg:20261201.2@mail.example.org"]
        thread: Email {
            message_id: Some(
                "20261201.2@mail.example.org",
            ),
            in_reply_to: Some(
                "agent-7f3a@inbound.example.com",
            ),
            references: [
                "20261130.1@mail.example.org",
                "agent-7f3a@inbound.example.com",
            ],
            reply_tokens: [
                "t0k3n42",
            ],
            from: "bob@example.org",
            to: [
                "reply+t0k3n42@inbound.example.com",
            ],
            subject: "Re: Quote for the garden shed",
        }
        attachment: attachments/signed quote.pdf ("signed quote.pdf", application/pdf, 145 bytes, starts "%PDF-1.4\r\n1 ")
        context: {
          "email": {
            "attachments": [
              {
                "contentType": "application/pdf",
                "filename": "signed quote.pdf",
                "path": "attachments/signed quote.pdf",
                "size": 145
              }
            ],
            "from": "Bob Builder <bob@example.org>",
            "html": null,
            "inReplyTo": "agent-7f3a@inbound.example.com",
            "messageId": "20261201.2@mail.example.org",
            "references": [
              "20261130.1@mail.example.org",
              "agent-7f3a@inbound.example.com"
            ],
            "strippedText": "Signed quote attached.",
            "subject": "Re: Quote for the garden shed",
            "text": "Signed quote attached.\r\n\r\nOn Mon, Nov 30, 2026 at 10:00 AM Agent wrote:\r\n> Here is the quote.\r\n",
            "to": "reply+t0k3n42@inbound.example.com"
          },
          "headers": {
            "from": "Bob Builder <bob@example.org>",
            "in-reply-to": "<agent-7f3a@inbound.example.com>",
            "message-id": "<20261201.2@mail.example.org>",
            "references": "<20261130.1@mail.example.org> <agent-7f3a@inbound.example.com>",
            "subject": "Re: Quote for the garden shed",
            "to": "reply+t0k3n42@inbound.example.com"
          }
        }
    "#]],
    );
}

#[test]
fn a_mailgun_raw_mime_post_is_read_with_its_attachment_and_references() {
    check(
        Kind::Email,
        &Payload::fixture(MIME),
        expect![[r#"
        provider_id: Some("m3@example.net")
        auto_submitted: false
        keys: ["msg:m2@inbound.example.com", "msg:m1@example.net", "msg:m3@example.net"]
        thread: Email {
            message_id: Some(
                "m3@example.net",
            ),
            in_reply_to: Some(
                "m2@inbound.example.com",
            ),
            references: [
                "m1@example.net",
                "m2@inbound.example.com",
            ],
            reply_tokens: [],
            from: "carol@example.net",
            to: [
                "support@inbound.example.com",
            ],
            subject: "Re: Seats — March",
        }
        attachment: attachments/seats.csv ("seats.csv", text/csv, 28 bytes, starts "name,seats\na")
        context: {
          "email": {
            "attachments": [
              {
                "contentType": "text/csv",
                "filename": "seats.csv",
                "path": "attachments/seats.csv",
                "size": 28
              }
            ],
            "from": "Carol Díaz <carol@example.net>",
            "html": null,
            "inReplyTo": "m2@inbound.example.com",
            "messageId": "m3@example.net",
            "references": [
              "m1@example.net",
              "m2@inbound.example.com"
            ],
            "strippedText": "Here are the seat counts.",
            "subject": "Re: Seats — March",
            "text": "Here are the seat counts.\r\n\r\nOn Mon, 30 Nov 2026 at 18:00, Support <support@inbound.example.com> wrote:\r\n> Could you send the counts?\r\n",
            "to": "support@inbound.example.com"
          },
          "headers": {
            "cc": "\"Doe, Jane\" <jane@example.net>",
            "content-type": "multipart/mixed; boundary=\"mixed-b1\"",
            "date": "Tue, 01 Dec 2026 10:01:02 +0100",
            "from": "=?UTF-8?Q?Carol_D=C3=ADaz?= <carol@example.net>",
            "in-reply-to": "<m2@inbound.example.com>",
            "message-id": "<m3@example.net>",
            "mime-version": "1.0",
            "references": "<m1@example.net> <m2@inbound.example.com>",
            "return-path": "<carol@example.net>",
            "subject": "=?UTF-8?Q?Re:_Seats_=E2=80=94_March?=",
            "to": "Support <support@inbound.example.com>"
          }
        }
    "#]],
    );
}

#[test]
fn top_level_mailgun_fields_win_over_message_headers() {
    let form = Payload::fixture(FORM);
    let extra = "&Message-Id=%3Ctop%40example.com%3E&Auto-Submitted=auto-generated";
    let body = [form.body.as_slice(), extra.as_bytes()].concat();
    let result = super::run(
        Kind::Email,
        &Payload::new(&form.content_type, body),
        &Limits::default(),
    );
    let normalised = result.expect("the form is valid");
    assert_eq!(normalised.provider_id.as_deref(), Some("top@example.com"));
    assert!(normalised.auto_submitted);
}

#[test]
fn malformed_mailgun_posts_name_what_was_wrong() {
    let form = Payload::fixture(FORM);
    let multipart = Payload::fixture(MULTIPART);
    let mime = Payload::fixture(MIME);
    let limits = Limits::default();
    let cases = [
        (form.replace("&from=", "&frm="), expect!["missing field `from`"]),
        (
            form.replace("message-headers=%5B", "message-headers=%7B"),
            expect!["message-headers is not a JSON list of [name, value] pairs"],
        ),
        (
            form.replace("body-plain=Hi", "body-plain=Hi%G1"),
            expect!["form field `body-plain` is not valid URL encoding"],
        ),
        (
            form.replace("recipient=support%40inbound.example.com", "recipient="),
            expect!["field `recipient` holds no address"],
        ),
        (
            form.replace("recipient=support%40inbound.example.com&sender=", "x=1&sender=")
                .replace("body-plain=", "text="),
            expect![
                "not an inbound mail: expected Mailgun's fields (body-plain, body-mime or recipient) or SendGrid's (envelope, headers or email)"
            ],
        ),
        (
            multipart.replace(
                "name=\"attachment-count\"\r\n\r\n1",
                "name=\"attachment-count\"\r\n\r\n2",
            ),
            expect!["attachment-count is 2 but `attachment-2` is missing"],
        ),
        (
            multipart.replace(
                "name=\"attachment-count\"\r\n\r\n1",
                "name=\"attachment-count\"\r\n\r\none",
            ),
            expect!["attachment-count is not a number"],
        ),
        (
            mime.replace("bmFtZSxzZWF0cw", "bmFtZSx*ZWF0cw"),
            expect!["`body-mime` attachment 1 (seats.csv) is not valid base64"],
        ),
        (
            mime.replace("From: =?UTF-8", "X-From: =?UTF-8"),
            expect!["`body-mime` has no From header with an address"],
        ),
    ];
    for (payload, expect) in cases {
        check_invalid(Kind::Email, &payload, &limits, expect);
    }
}

#[test]
fn a_truncated_or_unbounded_multipart_body_is_refused() {
    let multipart = Payload::fixture(MULTIPART);
    let limits = Limits::default();
    let cut = Payload::new(
        &multipart.content_type,
        multipart.body[..multipart.body.len() / 2].to_vec(),
    );
    check_invalid(
        Kind::Email,
        &cut,
        &limits,
        expect![[
            r#"multipart field `message-headers` is malformed: field "message-headers" received with incomplete data"#
        ]],
    );
    let mut no_boundary = multipart.clone();
    no_boundary.content_type = "multipart/form-data".to_owned();
    check_invalid(
        Kind::Email,
        &no_boundary,
        &limits,
        expect!["multipart/form-data without a boundary in its Content-Type"],
    );
    let small = Limits {
        max_attachment_bytes: 100,
        ..Limits::default()
    };
    check_invalid(
        Kind::Email,
        &multipart,
        &small,
        expect!["attachment 1 is 145 bytes, over 100 bytes"],
    );
    let none = Limits {
        max_attachments: 0,
        ..Limits::default()
    };
    check_invalid(
        Kind::Email,
        &multipart,
        &none,
        expect!["too many attachments: 1, over the limit of 0"],
    );
}

#[test]
fn a_form_of_neither_provider_names_the_fields_expected() {
    let limits = Limits::default();
    let other = Payload::new("application/x-www-form-urlencoded", "name=x&message=hello");
    check_invalid(
        Kind::Email,
        &other,
        &limits,
        expect![
            "not an inbound mail: expected Mailgun's fields (body-plain, body-mime or recipient) or SendGrid's (envelope, headers or email)"
        ],
    );
    check_invalid(
        Kind::Email,
        &Payload::new("text/plain", "hello"),
        &limits,
        expect!["Content-Type text/plain is not application/x-www-form-urlencoded or multipart/form-data"],
    );
}

#[test]
fn an_attachment_over_the_default_bound_is_named_with_its_size() {
    let big = "x".repeat(12 * 1024 * 1024);
    let multipart = Payload::fixture(MULTIPART).replace("%%EOF", &big);
    check_invalid(
        Kind::Email,
        &multipart,
        &Limits::default(),
        expect!["attachment 1 is 12 MiB, over 10 MiB"],
    );
}

#[test]
fn a_multipart_body_of_countless_fields_is_refused() {
    let part = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n";
    let body = format!("{}--b--\r\n", part.repeat(500));
    let payload = Payload::new("multipart/form-data; boundary=b", body);
    check_invalid(
        Kind::Email,
        &payload,
        &Limits::default(),
        expect!["multipart body has more than 220 fields"],
    );
}

#[test]
fn a_decoded_sender_name_with_a_comma_keeps_its_address() {
    let mime = Payload::fixture(MIME).replace(
        "From: =?UTF-8?Q?Carol_D=C3=ADaz?= <carol@example.net>",
        "From: =?UTF-8?Q?D=C3=ADaz,_Carol?= <carol@example.net>",
    );
    let normalised = super::run(Kind::Email, &mime, &Limits::default()).expect("the mail is valid");
    let super::super::Thread::Email { from, .. } = &normalised.thread else {
        panic!("a mail has an email thread");
    };
    expect![[r#""\"Díaz, Carol\" <carol@example.net>" / carol@example.net"#]]
        .assert_eq(&format!("{} / {from}", normalised.context["email"]["from"]));
}
