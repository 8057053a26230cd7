use super::super::email::subject;
use super::*;

#[track_caller]
fn check_subject(received: Option<&str>, expect: Expect) {
    expect.assert_eq(&subject(received));
}

#[test]
fn a_reply_subject_gets_one_re() {
    check_subject(Some("Invoice 42"), expect!["Re: Invoice 42"]);
    check_subject(Some("Re: Invoice 42"), expect!["Re: Invoice 42"]);
    check_subject(Some("RE: Invoice 42"), expect!["RE: Invoice 42"]);
    check_subject(Some("re:Invoice"), expect!["re:Invoice"]);
    check_subject(Some("  Invoice  "), expect!["Re: Invoice"]);
    check_subject(Some("Reminder"), expect!["Re: Reminder"]);
    check_subject(Some("Ré"), expect!["Re: Ré"]);
    check_subject(Some(""), expect!["Re: (no subject)"]);
    check_subject(None, expect!["Re: (no subject)"]);
    check_subject(
        Some("Hi\r\nBcc: x@evil.example"),
        expect!["Re: Hi  Bcc: x@evil.example"],
    );
}

#[track_caller]
fn check_threading(email: Value, expect: Expect) {
    check_threading_with(email, json!({}), expect);
}

/// Like [`check_threading`], with the mail's headers as inbound keeps them (by lower-case name).
#[track_caller]
fn check_threading_with(email: Value, headers: Value, expect: Expect) {
    let config = config(ReplyKind::Mailgun, Some("s@example.com"), &[("apiKey", "k")]);
    let context = json!({ "email": email, "headers": headers });
    let outgoing = match compose(
        &config,
        &Providers::default(),
        &answer(&context, "x", None),
        at(0),
    ) {
        Ok(outgoing) => outgoing,
        Err(unsendable) => return expect.assert_eq(&format!("unsendable: {unsendable}")),
    };
    let super::super::OutgoingBody::Form(fields) = outgoing.body else {
        panic!("Mailgun takes a form")
    };
    let headers: Vec<String> = fields
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "to" | "h:In-Reply-To" | "h:References"))
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    expect.assert_eq(&headers.join("\n"));
}

#[test]
fn the_threading_headers_follow_the_mail_answered() {
    check_threading(
        json!({"from": "a@example.org", "messageId": "m1@example.org"}),
        expect![[r#"
            to: a@example.org
            h:In-Reply-To: <m1@example.org>
            h:References: <m1@example.org>"#]],
    );
    check_threading(
        json!({"from": "a@example.org", "messageId": "<m2@x>", "references": ["<m1@x>", "<m2@x>"]}),
        expect![[r#"
            to: a@example.org
            h:In-Reply-To: <m2@x>
            h:References: <m1@x> <m2@x>"#]],
    );
    check_threading(
        json!({"from": "a@example.org", "references": ["<m1@x>", "", 7]}),
        expect![[r#"
            to: a@example.org
            h:References: <m1@x>"#]],
    );
    check_threading(json!({"from": "a@example.org"}), expect!["to: a@example.org"]);
    check_threading(
        json!({"from": "a\r\nBcc:v@example.org"}),
        expect!["unsendable: context email.from is not a mail address"],
    );
    // An id with a line break (a header injection) or a space is left out.
    check_threading(
        json!({"from": "a@example.org", "messageId": "<m3@x>\r\nBcc: v@x", "references": ["<m1 @x>", "<m2@x>"]}),
        expect![[r#"
            to: a@example.org
            h:References: <m2@x>"#]],
    );
    check_threading(
        json!({"from": "a@example.org", "replyTo": "ignored@example.org"}),
        expect!["to: a@example.org"],
    );
    check_threading_with(
        json!({"from": "a@example.org"}),
        json!({"reply-to": "\"Team A\" <team@example.org>"}),
        expect!["to: team@example.org"],
    );
}
