//! The pure decisions of `POST /hooks/{id}` (DESIGN §10): which URL a provider signed, which id deduplicates a
//! delivery, and how each outcome is answered to each provider.
//!
//! Providers read status codes differently: Twilio wants an empty TwiML document at once (any text it
//! would send as an SMS), Mailgun takes 406 as "reject, do not retry", and every provider retries other
//! non-2xx answers. So a disabled trigger is 406 to Mailgun and 403 elsewhere, and a redelivery is 200.

use axum::http::StatusCode;
use protocol::{DeliveryStatus, TriggerKind, VerifyScheme};
use serde_json::json;

use super::inbound;

/// The empty TwiML answer: Twilio sends no SMS back for it.
pub const TWIML_EMPTY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

/// Who is calling, as far as the answer's shape goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Webhook,
    Twilio,
    Mailgun,
}

pub fn channel(kind: TriggerKind, scheme: VerifyScheme) -> Channel {
    match (kind, scheme) {
        (_, VerifyScheme::Twilio) | (TriggerKind::Sms, _) => Channel::Twilio,
        (_, VerifyScheme::Mailgun) => Channel::Mailgun,
        _ => Channel::Webhook,
    }
}

pub fn inbound_kind(kind: TriggerKind) -> inbound::Kind {
    match kind {
        TriggerKind::Webhook => inbound::Kind::Webhook,
        TriggerKind::Email => inbound::Kind::Email,
        TriggerKind::Sms => inbound::Kind::Sms,
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored: `queued` with its session, or `waiting` for its burst.
    Accepted {
        delivery_id: String,
        session_id: Option<String>,
        status: DeliveryStatus,
    },
    Duplicate {
        delivery_id: String,
    },
    Refused(String),
    Disabled,
    Invalid(String),
    TooLarge(String),
    /// The trigger's agent was deleted.
    Gone(String),
}

/// An answer to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

pub fn answer(channel: Channel, outcome: &Outcome) -> Answer {
    let json = |status: StatusCode, body: serde_json::Value| Answer {
        status,
        content_type: "application/json",
        body: body.to_string(),
    };
    let error = |status: StatusCode, code: &str, message: &str| {
        json(status, json!({"error": {"code": code, "message": message}}))
    };
    let twiml = || Answer {
        status: StatusCode::OK,
        content_type: "text/xml",
        body: TWIML_EMPTY.to_owned(),
    };
    match outcome {
        Outcome::Accepted { .. } | Outcome::Duplicate { .. } if channel == Channel::Twilio => twiml(),
        Outcome::Accepted {
            delivery_id,
            session_id,
            status,
        } => json(
            if channel == Channel::Webhook {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            },
            json!({"deliveryId": delivery_id, "sessionId": session_id, "status": status}),
        ),
        Outcome::Duplicate { delivery_id } => json(
            StatusCode::OK,
            json!({"deliveryId": delivery_id, "sessionId": null, "status": DeliveryStatus::Duplicate}),
        ),
        Outcome::Refused(why) => error(StatusCode::UNAUTHORIZED, "signature_refused", why),
        Outcome::Disabled if channel == Channel::Mailgun => error(
            StatusCode::NOT_ACCEPTABLE,
            "trigger_disabled",
            "this trigger is disabled",
        ),
        Outcome::Disabled => error(
            StatusCode::FORBIDDEN,
            "trigger_disabled",
            "this trigger is disabled",
        ),
        Outcome::Invalid(why) => error(StatusCode::BAD_REQUEST, "invalid_request", why),
        Outcome::TooLarge(why) => error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", why),
        Outcome::Gone(why) => error(StatusCode::GONE, "agent_deleted", why),
    }
}

/// The id a redelivery repeats: the one the signature scheme carries outside the body (`webhook-id`,
/// `X-GitHub-Delivery`, `MessageSid`, …), else the one in the body (a Stripe event's id, a mail's
/// Message-Id). Blank ids deduplicate nothing.
pub fn dedupe_key(verified: Option<String>, normalised: Option<String>) -> Option<String> {
    verified
        .filter(|id| !id.trim().is_empty())
        .or(normalised.filter(|id| !id.trim().is_empty()))
}

/// The URL the provider called, as Twilio signs it: `--public-url` (the address providers are given, behind
/// any proxy) or `http://<Host>`, then the path and query as received.
pub fn hook_url(public_url: Option<&str>, host: Option<&str>, path_and_query: &str) -> String {
    let base = match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", host.unwrap_or("localhost")),
    };
    format!("{base}{path_and_query}")
}

/// What a delivery over the body bound records, in MiB as the bound is usually given.
pub fn too_large(max: usize) -> String {
    if max.is_multiple_of(1024 * 1024) {
        format!("body is over {} MiB", max / (1024 * 1024))
    } else {
        format!("body is over {max} bytes")
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(channel: Channel, outcome: Outcome, expect: Expect) {
        let a = answer(channel, &outcome);
        expect.assert_eq(&format!("{} {} {}", a.status.as_u16(), a.content_type, a.body));
    }

    fn accepted() -> Outcome {
        Outcome::Accepted {
            delivery_id: "d1".into(),
            session_id: Some("s1".into()),
            status: DeliveryStatus::Queued,
        }
    }

    #[test]
    fn each_provider_gets_the_answer_it_understands() {
        check(
            Channel::Webhook,
            accepted(),
            expect![[r#"202 application/json {"deliveryId":"d1","sessionId":"s1","status":"queued"}"#]],
        );
        check(
            Channel::Twilio,
            accepted(),
            expect![[r#"200 text/xml <?xml version="1.0" encoding="UTF-8"?><Response/>"#]],
        );
        check(
            Channel::Mailgun,
            accepted(),
            expect![[r#"200 application/json {"deliveryId":"d1","sessionId":"s1","status":"queued"}"#]],
        );
        check(
            Channel::Webhook,
            Outcome::Duplicate {
                delivery_id: "d2".into(),
            },
            expect![[r#"200 application/json {"deliveryId":"d2","sessionId":null,"status":"duplicate"}"#]],
        );
        check(
            Channel::Twilio,
            Outcome::Duplicate {
                delivery_id: "d2".into(),
            },
            expect![[r#"200 text/xml <?xml version="1.0" encoding="UTF-8"?><Response/>"#]],
        );
        check(
            Channel::Webhook,
            Outcome::Refused("missing webhook-signature".into()),
            expect![[
                r#"401 application/json {"error":{"code":"signature_refused","message":"missing webhook-signature"}}"#
            ]],
        );
        check(
            Channel::Mailgun,
            Outcome::Disabled,
            expect![[
                r#"406 application/json {"error":{"code":"trigger_disabled","message":"this trigger is disabled"}}"#
            ]],
        );
        check(
            Channel::Twilio,
            Outcome::Disabled,
            expect![[
                r#"403 application/json {"error":{"code":"trigger_disabled","message":"this trigger is disabled"}}"#
            ]],
        );
        check(
            Channel::Webhook,
            Outcome::Gone("agent a was deleted".into()),
            expect![[
                r#"410 application/json {"error":{"code":"agent_deleted","message":"agent a was deleted"}}"#
            ]],
        );
    }

    #[test]
    fn the_signature_scheme_s_id_wins_and_blank_ids_deduplicate_nothing() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(dedupe_key(s("msg_1"), s("evt_1")), s("msg_1"));
        assert_eq!(dedupe_key(None, s("evt_1")), s("evt_1"));
        assert_eq!(dedupe_key(s(" "), s("evt_1")), s("evt_1"));
        assert_eq!(dedupe_key(None, s("")), None);
    }

    #[test]
    fn the_signed_url_is_the_public_url_or_the_host_with_the_path_as_received() {
        let url = |p, h, q| hook_url(p, h, q);
        expect![[r#"["https://hooks.example.com/hooks/sms?x=1", "http://127.0.0.1:8080/hooks/sms", "http://localhost/hooks/sms"]"#]]
            .assert_eq(&format!(
                "{:?}",
                [
                    url(Some("https://hooks.example.com/"), Some("10.0.0.1"), "/hooks/sms?x=1"),
                    url(None, Some("127.0.0.1:8080"), "/hooks/sms"),
                    url(None, None, "/hooks/sms"),
                ]
            ));
        assert_eq!(
            channel(TriggerKind::Sms, VerifyScheme::HmacSha256),
            Channel::Twilio
        );
        assert_eq!(
            channel(TriggerKind::Email, VerifyScheme::Mailgun),
            Channel::Mailgun
        );
        assert_eq!(
            channel(TriggerKind::Email, VerifyScheme::Sendgrid),
            Channel::Webhook
        );
        assert_eq!(too_large(16 * 1024 * 1024), "body is over 16 MiB");
    }
}
