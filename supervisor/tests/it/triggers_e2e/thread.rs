//! An email thread of five mails (a Mailgun form, a SendGrid-format multipart with an attachment, an
//! automatic answer, a reply to our reply, a mail to our reply address) through one trigger.

use serde_json::{Value, json};

use super::*;
use crate::faults::fixtures::admin_url;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_email_thread_of_mailgun_and_sendgrid_mails_is_one_conversation_run_in_order_with_its_attachment()
{
    email_thread(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgresql_too_an_email_thread_is_one_conversation_run_in_order() {
    let Some(admin) = admin_url() else { return };
    email_thread(Some(&admin)).await;
}

async fn email_thread(postgres: Option<&str>) {
    let model = FakeModel::scenarios(&scenarios()).await;
    let mailgun = StandIn::start(&[]).await;
    let (cp, _pg, _sqlite) = control_plane(postgres, replying_to(&mailgun)).await;
    cp.put_agent("support-bot", &agent()).await;
    // One trigger takes both providers' encodings (the fields tell them apart); its scheme is Mailgun's,
    // so the SendGrid-format post carries Mailgun's signature fields as Mailgun's own multipart does.
    cp.put_trigger(
        "support-mail",
        &json!({
            "agentId": "support-bot", "kind": "email",
            "verify": {"scheme": "mailgun", "secrets": [MAILGUN_KEY]},
            "prompt": "scenario:mail Mail from {{ email.from }} about {{ email.subject }}:\n{{ email.text }}",
            "reply": {"kind": "mailgun", "from": SUPPORT, "credentials": {"apiKey": "key-mailgun-api-1f2e"}},
        }),
    )
    .await;
    let sup = puller(&cp, &model);

    let first = Mail {
        from: CUSTOMER,
        to: SUPPORT,
        subject: "Invoice 1042 is wrong",
        text: "MAIL-A: the total counts the seats twice.",
        message_id: "a-1042@mail.example.com",
        ..Mail::default()
    };
    let a = post_mailgun(&cp, "support-mail", &first, "token-a-5f3c9a1e").await;
    let second = Mail {
        subject: "Re: Invoice 1042 is wrong",
        text: "MAIL-B: my notes are attached.",
        message_id: "b-1042@mail.example.com",
        in_reply_to: Some(first.message_id),
        ..first.clone()
    };
    let (status, _, answer) = cp
        .post_hook(
            "support-mail",
            &format!("multipart/form-data; boundary={SENDGRID_BOUNDARY}"),
            &[],
            sendgrid_multipart(
                &second,
                ("notes.txt", NOTES),
                &mailgun_signature(MAILGUN_KEY, "token-b-0b7d4c2a"),
            ),
        )
        .await;
    let b = session_of(status, &answer);
    let one = succeeded(&cp, &sup, &a).await;
    let two = succeeded(&cp, &sup, &b).await;
    assert!(
        one["resultText"].as_str().unwrap().starts_with("REPLY-ONE"),
        "{one}"
    );
    assert!(two["resultText"].as_str().unwrap().contains(NOTES), "{two}");
    assert!(
        tool_results(&cp.events(&b).await).contains(NOTES),
        "the attachment was a file of the workspace"
    );

    // Both answers reach Mailgun's send API, threaded.
    let replies = received(&mailgun, 2).await;
    expect_test::expect![[r#"
        POST /v3/inbound.example.com/messages | to alice@example.com | Re: Invoice 1042 is wrong | In-Reply-To <a-1042@mail.example.com> | References <a-1042@mail.example.com> | Auto-Submitted auto-replied | basic auth true
        POST /v3/inbound.example.com/messages | to alice@example.com | Re: Invoice 1042 is wrong | In-Reply-To <b-1042@mail.example.com> | References <a-1042@mail.example.com> <b-1042@mail.example.com> | Auto-Submitted auto-replied | basic auth true"#]]
    .assert_eq(&format!(
        "{}\n{}",
        threading(reply_to(&replies, first.message_id)),
        threading(reply_to(&replies, second.message_id))
    ));
    let ours = reply_to(&replies, second.message_id)
        .field("h:Message-Id")
        .expect("our reply's Message-ID");
    let ours = ours.trim_start_matches('<').trim_end_matches('>').to_owned();

    // A machine's answer (RFC 3834) is a session of the thread, answered by nobody.
    let automatic = Mail {
        from: "Out of Office <alice@example.com>",
        subject: "Automatic reply: Invoice 1042 is wrong",
        text: "MAIL-AUTO: I am out of the office.",
        message_id: "ooo-1042@mail.example.com",
        in_reply_to: Some(second.message_id),
        headers: vec![("Auto-Submitted", "auto-replied")],
        ..first.clone()
    };
    let d = post_mailgun(&cp, "support-mail", &automatic, "token-d-9e0f2b4d").await;
    // The customer answers our reply: it is found by our Message-ID.
    let third = Mail {
        subject: "Re: Invoice 1042 is wrong",
        text: "MAIL-C: thanks, is it fixed?",
        message_id: "c-1042@mail.example.com",
        in_reply_to: Some(&ours),
        ..first.clone()
    };
    let c = post_mailgun(&cp, "support-mail", &third, "token-c-1b3d5c7a").await;
    let auto = succeeded(&cp, &sup, &d).await;
    let three = succeeded(&cp, &sup, &c).await;
    assert!(
        three["resultText"].as_str().unwrap().starts_with("REPLY-THREE"),
        "{three}"
    );
    // The third answer arrives; the automatic mail, whose session ran before it, got none.
    let replies = received(&mailgun, 3).await;
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let last = reply_to(&replies, third.message_id);
    assert!(
        last.field("text").unwrap_or_default().starts_with("REPLY-THREE"),
        "{last:#?}"
    );
    assert!(
        last.field("h:References")
            .unwrap_or_default()
            .contains(&format!("<{ours}>")),
        "{last:#?}"
    );
    // A mail to the reply address our answer gave (support+<token>@…), without any threading header,
    // continues the conversation too.
    let plus = last.field("h:Reply-To").expect("a reply address");
    let fresh = Mail {
        to: &plus,
        subject: "One more thing",
        text: "MAIL-E: sent to the reply address.",
        message_id: "e-1042@mail.example.com",
        ..first.clone()
    };
    let e = post_mailgun(&cp, "support-mail", &fresh, "token-e-7a9e0f2b").await;
    let four = succeeded(&cp, &sup, &e).await;
    received(&mailgun, 4).await;
    // Every outcome is recorded on its delivery (after the request reached the stand-in).
    let mut deliveries = Value::Null;
    let mut outcomes: Vec<String> = Vec::new();
    let recorded = eventually(WAIT, async || {
        deliveries = cp.get("/api/v1/triggers/support-mail/deliveries").await;
        outcomes = deliveries["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .rev()
            .map(|d| format!("{} reply {}", d["status"], d["reply"]["status"]))
            .collect();
        outcomes.iter().filter(|o| o.ends_with(r#""sent""#)).count() == 4
    })
    .await;
    assert!(recorded, "{deliveries}");
    assert_eq!(
        outcomes,
        [
            r#""queued" reply "sent""#,
            r#""queued" reply "sent""#,
            r#""queued" reply null"#,
            r#""queued" reply "sent""#,
            r#""queued" reply "sent""#
        ],
        "{deliveries}"
    );
    assert_eq!(mailgun.requests().len(), 4, "nothing answered the automatic mail");

    // One conversation of five sessions, each started after the one before finished.
    let conversation = cp.get(&format!("/api/v1/conversations/{a}")).await;
    let ids: Vec<&str> = conversation["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, [&a, &b, &d, &c, &e], "{conversation}");
    for (before, after) in [(&one, &two), (&two, &auto), (&auto, &three), (&three, &four)] {
        assert!(
            before["finishedAt"].as_str() <= after["startedAt"].as_str(),
            "one after the other: {before} {after}"
        );
    }
    // The model saw every mail's text in the one conversation.
    let requests = model.requests();
    let last = requests
        .iter()
        .rev()
        .find(|r| r["fake"]["auxiliary"] == false)
        .expect("a request");
    let messages = last["body"]["messages"].to_string();
    for text in [
        "MAIL-A",
        "MAIL-B",
        "MAIL-AUTO",
        "MAIL-C",
        "MAIL-E",
        "alice@example.com",
        NOTES,
    ] {
        assert!(
            messages.contains(text),
            "the last request lacks {text}: {messages}"
        );
    }
}
