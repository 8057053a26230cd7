use expect_test::expect;

use super::{Kind, Limits, Payload, check, check_invalid};

const MULTIPART: &str = include_str!("fixtures/sendgrid_multipart.txt");
const RAW: &str = include_str!("fixtures/sendgrid_raw.txt");

#[test]
fn a_sendgrid_parse_post_with_two_attachments_becomes_the_email_shape() {
    check(
        Kind::Email,
        &Payload::fixture(MULTIPART),
        expect![[r#"
        provider_id: Some("CAOps-99@mail.example.com")
        auto_submitted: false
        keys: ["msg:m3@example.net", "msg:m2@inbound.example.com", "msg:m1@example.net", "msg:CAOps-99@mail.example.com"]
        thread: Email {
            message_id: Some(
                "CAOps-99@mail.example.com",
            ),
            in_reply_to: Some(
                "m3@example.net",
            ),
            references: [
                "m1@example.net",
                "m2@inbound.example.com",
                "m3@example.net",
            ],
            reply_tokens: [],
            from: "dan@example.com",
            to: [
                "agent@parse.example.com",
            ],
            subject: "Logs from the outage",
        }
        attachment: attachments/api.log ("api.log", text/plain, 92 bytes, starts "2026-12-01T1")
        attachment: attachments/graph.svg ("graph.svg", image/svg+xml, 64 bytes, starts "<svg xmlns=\"")
        context: {
          "email": {
            "attachments": [
              {
                "contentType": "text/plain",
                "filename": "api.log",
                "path": "attachments/api.log",
                "size": 92
              },
              {
                "contentType": "image/svg+xml",
                "filename": "graph.svg",
                "path": "attachments/graph.svg",
                "size": 64
              }
            ],
            "from": "Dan Ops <dan@example.com>",
            "html": "<div>Two logs attached.</div>",
            "inReplyTo": "m3@example.net",
            "messageId": "CAOps-99@mail.example.com",
            "references": [
              "m1@example.net",
              "m2@inbound.example.com",
              "m3@example.net"
            ],
            "strippedText": "Two logs attached.",
            "subject": "Logs from the outage",
            "text": "Two logs attached.\r\n\r\nOn Tue, Dec 1, 2026 at 10:01 AM Carol Díaz <carol@example.net>\r\nwrote:\r\n\r\n> Here are the seat counts.\r\n>\r\n",
            "to": "agent@parse.example.com"
          },
          "headers": {
            "content-type": "multipart/mixed; boundary=\"000000000000e1\"",
            "from": "Dan Ops <dan@example.com>",
            "in-reply-to": "<m3@example.net>",
            "message-id": "<CAOps-99@mail.example.com>",
            "mime-version": "1.0",
            "received": "by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Tue, 01 Dec 2026 11:00:00 +0000 (UTC), from mail.example.com (mail.example.com [192.0.2.10]) by mx0047p1mdw1.sendgrid.net (Postfix) with ESMTPS id 7B2C1A0A2B for <agent@parse.example.com>; Tue, 01 Dec 2026 11:00:00 +0000 (UTC)",
            "references": "<m1@example.net> <m2@inbound.example.com> <m3@example.net>",
            "subject": "Logs from the outage",
            "to": "agent@parse.example.com"
          }
        }
    "#]],
    );
}

#[test]
fn a_sendgrid_raw_out_of_office_reply_is_marked_auto_submitted() {
    check(
        Kind::Email,
        &Payload::fixture(RAW),
        expect![[r#"
        provider_id: Some("ooo-1@example.org")
        auto_submitted: true
        keys: ["token:r9x", "msg:agent-7f3a@inbound.example.com", "msg:ooo-1@example.org"]
        thread: Email {
            message_id: Some(
                "ooo-1@example.org",
            ),
            in_reply_to: Some(
                "agent-7f3a@inbound.example.com",
            ),
            references: [],
            reply_tokens: [
                "r9x",
            ],
            from: "erin@example.org",
            to: [
                "agent+r9x@parse.example.com",
            ],
            subject: "Automatic reply: Quote for the garden shed",
        }
        context: {
          "email": {
            "attachments": [],
            "from": "Out of Office <erin@example.org>",
            "html": null,
            "inReplyTo": "agent-7f3a@inbound.example.com",
            "messageId": "ooo-1@example.org",
            "references": [],
            "strippedText": "I am out of the office until Monday.",
            "subject": "Automatic reply: Quote for the garden shed",
            "text": "I am out of the office until Monday.\r\n",
            "to": "agent+r9x@parse.example.com"
          },
          "headers": {
            "auto-submitted": "auto-replied",
            "content-type": "text/plain; charset=utf-8",
            "from": "Out of Office <erin@example.org>",
            "in-reply-to": "<agent-7f3a@inbound.example.com>",
            "message-id": "<ooo-1@example.org>",
            "mime-version": "1.0",
            "received": "from mta.example.org by mx.sendgrid.net; Tue, 01 Dec 2026 12:00:00 +0000",
            "return-path": "<>",
            "subject": "Automatic reply: Quote for the garden shed",
            "to": "agent+r9x@parse.example.com"
          }
        }
    "#]],
    );
}

#[test]
fn malformed_sendgrid_posts_name_what_was_wrong() {
    let multipart = Payload::fixture(MULTIPART);
    let raw = Payload::fixture(RAW);
    let limits = Limits::default();
    let cases = [
        (
            multipart.replace("name=\"from\"", "name=\"sender\""),
            expect!["missing field `from`"],
        ),
        (
            multipart.replace("{\"to\":[\"agent", "[\"to\":[\"agent"),
            expect!["envelope is not a JSON object with `to` and `from`"],
        ),
        (
            multipart.replace("{\"attachment1\"", "[\"attachment1\""),
            expect!["attachment-info is not a JSON object"],
        ),
        (
            multipart.replace("name=\"attachments\"\r\n\r\n2", "name=\"attachments\"\r\n\r\n3"),
            expect!["attachments is 3 but `attachment3` is missing"],
        ),
        (
            multipart.replace(
                "name=\"attachments\"\r\n\r\n2",
                "name=\"attachments\"\r\n\r\nmany",
            ),
            expect!["attachments is not a number"],
        ),
        (
            raw.replace("From: Out of Office", "Sender: Out of Office"),
            expect!["`email` has no From header with an address"],
        ),
    ];
    for (payload, expect) in cases {
        check_invalid(Kind::Email, &payload, &limits, expect);
    }
    let total = Limits {
        max_total_attachment_bytes: 100,
        ..Limits::default()
    };
    check_invalid(
        Kind::Email,
        &multipart,
        &total,
        expect!["attachments total more than 100 bytes"],
    );
}

#[test]
fn sendgrid_fields_are_decoded_by_the_charsets_it_names() {
    let multipart = Payload::fixture(MULTIPART)
        .replace("\"text\":\"UTF-8\"", "\"text\":\"iso-8859-1\"")
        .replace_bytes("Two logs attached.\r\n", b"Deux journaux, caf\xe9.\r\n");
    let normalised = super::run(Kind::Email, &multipart, &Limits::default()).expect("the post is valid");
    expect!["Deux journaux, café."].assert_eq(
        normalised.context["email"]["strippedText"]
            .as_str()
            .expect("a text body"),
    );
    let bad = Payload::fixture(MULTIPART).replace("{\"to\":\"UTF-8\"", "[\"to\":\"UTF-8\"");
    check_invalid(
        Kind::Email,
        &bad,
        &Limits::default(),
        expect!["charsets is not a JSON object"],
    );
}

#[track_caller]
fn check_block(block: &str, expect: expect_test::Expect) {
    expect.assert_debug_eq(&super::super::headers::parse_block(block));
}

#[test]
fn sendgrid_s_raw_header_block_is_read_with_folded_lines_and_stops_at_the_body() {
    check_block(
        "",
        expect![[r#"
        []
    "#]],
    );
    check_block(
        "Message-ID: <a@x>\nReferences: <r1@x>\n\t<r2@x>\n  <r3@x>\r\nAuto-Submitted: auto-replied\n",
        expect![[r#"
            [
                (
                    "Message-ID",
                    "<a@x>",
                ),
                (
                    "References",
                    "<r1@x> <r2@x> <r3@x>",
                ),
                (
                    "Auto-Submitted",
                    "auto-replied",
                ),
            ]
        "#]],
    );
    check_block(
        "not a header line\nX-Ok: 1\nbroken name: 2\n\nBody: not a header\n",
        expect![[r#"
        [
            (
                "X-Ok",
                "1",
            ),
        ]
    "#]],
    );
    check_block(
        "\tcontinuation before any header\nSubject: kept",
        expect![[r#"
        [
            (
                "Subject",
                "kept",
            ),
        ]
    "#]],
    );
}
