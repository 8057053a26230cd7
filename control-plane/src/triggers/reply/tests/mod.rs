//! The pure parts of replies: composing each channel's request, the subject and threading rules, the
//! loop guard, backoff, the classification of answers, and reply tokens.

mod backoff;
mod compose;
mod email;
mod token;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use expect_test::{Expect, expect};
use protocol::ReplyKind;
use serde_json::{Value, json};

use super::{Answer, Providers, ReplyConfig, compose};

fn config(kind: ReplyKind, from: Option<&str>, credentials: &[(&str, &str)]) -> ReplyConfig {
    ReplyConfig {
        kind,
        url: None,
        from: from.map(str::to_owned),
        credentials: credentials
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn answer<'a>(context: &'a Value, text: &'a str, reply_token: Option<&'a str>) -> Answer<'a> {
    Answer {
        trigger_id: "support-mail",
        delivery_id: "d-1",
        session_id: "s-1",
        conversation_id: "c-1",
        text,
        context,
        reply_token,
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// The request composed, as its redacting `Debug` shows it, or the reason it cannot be sent.
#[track_caller]
fn check(config: &ReplyConfig, answer: &Answer<'_>, expect: Expect) {
    let got = match compose(config, &Providers::default(), answer, at(1_700_000_000)) {
        Ok(outgoing) => format!("{outgoing:#?}"),
        Err(unsendable) => format!("unsendable: {unsendable}"),
    };
    expect.assert_eq(&got);
}

fn mail() -> Value {
    json!({"email": {
        "from": "Ada Lovelace <ada@example.org>",
        "to": "support@mg.example.com",
        "subject": "Invoice 42",
        "messageId": "<m2@example.org>",
        "references": ["<m0@example.org>", "m1@example.org"],
        "text": "Where is my invoice?",
    }})
}

fn sms() -> Value {
    json!({"sms": {"from": "+15550001111", "to": "+15559990000", "body": "hi", "media": []}})
}
