use std::time::Duration;

use expect_test::{Expect, expect};
use protocol::SessionStatus;

use super::*;
use crate::triggers::reply::OutgoingBody;

fn due(status: SessionStatus) -> DueReply {
    DueReply {
        session_id: "s-1".to_owned(),
        trigger_id: "support".to_owned(),
        delivery_id: "d-1".to_owned(),
        attempts: 0,
        session_status: status,
        result_text: Some("Done.".to_owned()),
        conversation_id: "c-1".to_owned(),
        context: None,
    }
}

#[track_caller]
fn check_before(status: SessionStatus, expect: Expect) {
    expect.assert_eq(&format!("{:?}", before_sending(&due(status))));
}

#[test]
fn only_a_succeeded_session_with_a_result_is_answered() {
    check_before(SessionStatus::Succeeded, expect!["None"]);
    check_before(
        SessionStatus::Failed,
        expect![[r#"Some(Skipped { error: "the session ended failed" })"#]],
    );
    check_before(
        SessionStatus::Cancelled,
        expect![[r#"Some(Skipped { error: "the session ended cancelled" })"#]],
    );
    check_before(
        SessionStatus::TimedOut,
        expect![[r#"Some(Skipped { error: "the session ended timed_out" })"#]],
    );
    check_before(
        SessionStatus::Lost,
        expect![[r#"Some(Skipped { error: "the session ended lost" })"#]],
    );
    for text in [None, Some(""), Some(" \n")] {
        let due = DueReply {
            result_text: text.map(str::to_owned),
            ..due(SessionStatus::Succeeded)
        };
        expect![[r#"Some(Skipped { error: "the session's result is empty: nothing to answer" })"#]]
            .assert_eq(&format!("{:?}", before_sending(&due)));
    }
}

fn outgoing(message_id: Option<&str>) -> Outgoing {
    Outgoing {
        url: url::Url::parse("https://api.example.com/send").expect("a URL"),
        headers: Vec::new(),
        body: OutgoingBody::Json(serde_json::json!({})),
        message_id: message_id.map(str::to_owned),
    }
}

fn error(retryable: bool, retry_after: Option<u64>) -> SendError {
    SendError {
        retryable,
        retry_after: retry_after.map(Duration::from_secs),
        message: "api.example.com answered 503 Service Unavailable: busy".to_owned(),
    }
}

/// At 1 s past the epoch, with a 50 ms backoff base and the largest jitter.
#[track_caller]
fn check_after(
    attempts_before: u32,
    message_id: Option<&str>,
    sent: Result<Sent, SendError>,
    expect: Expect,
) {
    let outcome = after_sending(
        attempts_before,
        &outgoing(message_id),
        sent,
        Duration::from_millis(50),
        1.0,
        1_000,
    );
    expect.assert_eq(&format!("{outcome:?}"));
}

#[test]
fn a_send_is_recorded_sent_retried_with_backoff_or_failed_when_out_of_attempts_or_refused() {
    let took = |id: Option<&str>| {
        Ok(Sent {
            status: 201,
            provider_id: id.map(str::to_owned),
        })
    };
    check_after(
        0,
        None,
        took(Some("SM1")),
        expect![[r#"Sent { attempts: 1, sent_at: "1970-01-01T00:00:01.000Z", message_id: Some("SM1") }"#]],
    );
    // A mail keeps our Message-ID, the one a reply to it names.
    check_after(
        2,
        Some("<ab@example.com>"),
        took(Some("<provider@mg>")),
        expect![[
            r#"Sent { attempts: 3, sent_at: "1970-01-01T00:00:01.000Z", message_id: Some("<ab@example.com>") }"#
        ]],
    );
    check_after(
        0,
        None,
        Err(error(true, None)),
        expect![[
            r#"Retry { attempts: 1, next_ms: 1050, error: "api.example.com answered 503 Service Unavailable: busy" }"#
        ]],
    );
    check_after(
        2,
        None,
        Err(error(true, None)),
        expect![[
            r#"Retry { attempts: 3, next_ms: 1200, error: "api.example.com answered 503 Service Unavailable: busy" }"#
        ]],
    );
    // The provider's Retry-After, when longer than the backoff.
    check_after(
        0,
        None,
        Err(error(true, Some(30))),
        expect![[
            r#"Retry { attempts: 1, next_ms: 31000, error: "api.example.com answered 503 Service Unavailable: busy" }"#
        ]],
    );
    check_after(
        reply::MAX_ATTEMPTS - 1,
        None,
        Err(error(true, None)),
        expect![[
            r#"Failed { attempts: 8, error: "api.example.com answered 503 Service Unavailable: busy" }"#
        ]],
    );
    check_after(
        0,
        None,
        Err(error(false, None)),
        expect![[
            r#"Failed { attempts: 1, error: "api.example.com answered 503 Service Unavailable: busy" }"#
        ]],
    );
}

#[track_caller]
fn check_keys(message_id: Option<&str>, reply_token: Option<&str>, expect: Expect) {
    expect.assert_eq(&format!("{:?}", keys_to_file(&outgoing(message_id), reply_token)));
}

#[test]
fn a_mail_reply_files_its_message_id_and_its_token_for_the_conversation() {
    check_keys(
        Some("<ab12@example.com>"),
        Some("abcdefghijklmnopqrstuvwx"),
        expect![[r#"["msg:ab12@example.com", "token:abcdefghijklmnopqrstuvwx"]"#]],
    );
    check_keys(
        Some("<ab12@example.com>"),
        None,
        expect![[r#"["msg:ab12@example.com"]"#]],
    );
    check_keys(None, None, expect!["[]"]);
}

#[test]
fn jitter_stays_within_zero_and_one() {
    for _ in 0..1000 {
        let j = jitter();
        assert!((0.0..1.0).contains(&j), "{j}");
    }
}
