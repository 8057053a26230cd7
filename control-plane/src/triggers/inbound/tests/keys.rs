use expect_test::{Expect, expect};

use super::super::Thread;

#[track_caller]
fn check(thread: Thread, expect: Expect) {
    expect.assert_debug_eq(&thread.default_keys());
}

fn email(
    tokens: &[&str],
    in_reply_to: Option<&str>,
    references: &[&str],
    message_id: Option<&str>,
) -> Thread {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    Thread::Email {
        message_id: message_id.map(str::to_owned),
        in_reply_to: in_reply_to.map(str::to_owned),
        references: owned(references),
        reply_tokens: owned(tokens),
        from: "a@example.com".to_owned(),
        to: vec!["b@example.com".to_owned()],
        subject: "s".to_owned(),
    }
}

#[test]
fn conversation_keys_go_from_the_strongest_hint_to_the_message_s_own_id() {
    check(
        Thread::None,
        expect![[r#"
        []
    "#]],
    );
    check(
        Thread::Sms {
            from: "+14155550123".to_owned(),
            to: "+14155550100".to_owned(),
        },
        expect![[r#"
            [
                "sms:+14155550100:+14155550123",
            ]
        "#]],
    );
    // A new mail: only its own id, under which it is filed.
    check(
        email(&[], None, &[], Some("m1@x")),
        expect![[r#"
        [
            "msg:m1@x",
        ]
    "#]],
    );
    // A reply: token, the answered message, the references newest first, its own id last.
    check(
        email(
            &["t0k", "t1k"],
            Some("m2@x"),
            &["m0@x", "m1@x", "m2@x"],
            Some("m3@x"),
        ),
        expect![[r#"
            [
                "token:t0k",
                "token:t1k",
                "msg:m2@x",
                "msg:m1@x",
                "msg:m0@x",
                "msg:m3@x",
            ]
        "#]],
    );
    // An id repeated across the headers is tried once; the message's own id stays last even if referenced.
    check(
        email(&[], Some("m1@x"), &["m1@x", "m3@x"], Some("m3@x")),
        expect![[r#"
        [
            "msg:m1@x",
            "msg:m3@x",
        ]
    "#]],
    );
    // Without a Message-Id there is nothing to file a new conversation under but the last hint.
    check(
        email(&[], None, &["m1@x"], None),
        expect![[r#"
        [
            "msg:m1@x",
        ]
    "#]],
    );
}

#[test]
fn a_reply_token_is_what_follows_the_last_plus_of_the_local_part() {
    let token = super::super::email::reply_token;
    assert_eq!(token("support+abc@example.com").as_deref(), Some("abc"));
    assert_eq!(token("support+bot+abc@example.com").as_deref(), Some("abc"));
    assert_eq!(token("support@example.com"), None);
    assert_eq!(token("support+@example.com"), None);
    assert_eq!(token("no-domain+abc"), None);
}
