//! The conversation keys a delivery is looked up and filed under (DESIGN §10 "Conversations").
//!
//! A trigger's `conversation` template, when set, names the one key (a blank rendering: no conversation,
//! every delivery a conversation of its own); otherwise the thread's own keys, in priority order. The store
//! takes the first key already filed and files a new conversation under the last.

use super::inbound::Thread;

pub fn candidates(template_key: Option<&str>, thread: &Thread) -> Vec<String> {
    match template_key.map(str::trim) {
        Some("") => Vec::new(),
        Some(key) => vec![format!("key:{key}")],
        None => thread.default_keys(),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(template_key: Option<&str>, thread: Thread, expect: Expect) {
        expect.assert_debug_eq(&candidates(template_key, &thread));
    }

    #[test]
    fn a_template_key_replaces_the_thread_and_a_blank_one_means_no_conversation() {
        let sms = || Thread::Sms {
            from: "+15550001".into(),
            to: "+15559999".into(),
        };
        check(
            Some(" order-42\n"),
            sms(),
            expect![[r#"
                [
                    "key:order-42",
                ]
            "#]],
        );
        check(
            Some("  "),
            sms(),
            expect![[r#"
            []
        "#]],
        );
        check(
            None,
            sms(),
            expect![[r#"
                [
                    "sms:+15559999:+15550001",
                ]
            "#]],
        );
        check(
            None,
            Thread::None,
            expect![[r#"
            []
        "#]],
        );
    }
}
