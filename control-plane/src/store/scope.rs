//! The ordering scopes of trigger deliveries (DESIGN §10 "Conversations"): which deliveries must not look up
//! and file conversation keys at the same time. A pure decision over the candidate keys; `Tx::serialise`
//! takes the lock. Parts are joined with U+001F: PostgreSQL text holds no NUL.

/// The scope a delivery with these conversation key candidates is serialised in before the lookup: none
/// without a key; the one key (`sms:…`, a template's `key:…`); the whole trigger for a mail, whose thread
/// keys (`msg:`, `token:`) differ from one message of a thread to the next and are tied together only by
/// the lookup itself.
pub(super) fn order_scope(trigger_id: &str, candidates: &[String]) -> Option<String> {
    match candidates {
        [] => None,
        [key] if !key.starts_with("msg:") && !key.starts_with("token:") => {
            Some(format!("trigger\u{1f}{trigger_id}\u{1f}{key}"))
        }
        _ => Some(trigger_scope(trigger_id)),
    }
}

/// The scope of every thread lookup of a trigger (and of its debounce flushes).
pub(super) fn trigger_scope(trigger_id: &str) -> String {
    format!("trigger\u{1f}{trigger_id}")
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(candidates: &[&str], expect: Expect) {
        let candidates: Vec<String> = candidates.iter().map(|c| (*c).to_owned()).collect();
        expect.assert_debug_eq(&order_scope("mail", &candidates));
    }

    #[test]
    fn one_key_is_its_own_scope_and_a_mail_thread_takes_its_whole_trigger() {
        check(
            &[],
            expect![[r#"
            None
        "#]],
        );
        check(
            &["sms:+15559999:+15550001"],
            expect![[r#"
            Some(
                "trigger\u{1f}mail\u{1f}sms:+15559999:+15550001",
            )
        "#]],
        );
        check(
            &["key:order-42"],
            expect![[r#"
            Some(
                "trigger\u{1f}mail\u{1f}key:order-42",
            )
        "#]],
        );
        // A new mail has only its own id; a reply to it has the parent's too: both must take one lock.
        check(
            &["msg:a@example.com"],
            expect![[r#"
            Some(
                "trigger\u{1f}mail",
            )
        "#]],
        );
        check(
            &["token:abc", "msg:a@example.com", "msg:b@example.com"],
            expect![[r#"
            Some(
                "trigger\u{1f}mail",
            )
        "#]],
        );
    }
}
