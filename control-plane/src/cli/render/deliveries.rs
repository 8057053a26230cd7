//! `triggers deliveries`: what became of each request a trigger received, and the answer sent back.

use protocol::{Delivery, QueuedSession};

use super::Style;
use super::table::{Cell, plain, table};

fn reply(d: &Delivery) -> String {
    match &d.reply {
        None => "-".to_owned(),
        Some(r) if r.attempts > 0 => format!("{} ({} attempts)", r.status.as_str(), r.attempts),
        Some(r) => r.status.as_str().to_owned(),
    }
}

fn row(d: &Delivery) -> Vec<Cell> {
    vec![
        Cell::text(&d.delivery_id),
        Cell::text(&d.received_at),
        Cell::text(&d.status.to_string()),
        Cell::opt(d.session_id.as_ref().map(|s| s.as_str())),
        Cell::opt(d.provider_id.as_deref()),
        Cell::text(&reply(d)),
        Cell::opt(d.error.as_deref()),
    ]
}

const HEADER: [&str; 7] = [
    "DELIVERY",
    "RECEIVED",
    "STATUS",
    "SESSION",
    "PROVIDER ID",
    "REPLY",
    "ERROR",
];

/// For a terminal; a next page is named by its cursor.
pub fn deliveries_table(deliveries: &[Delivery], next: Option<&str>, style: Style) -> String {
    let rows: Vec<Vec<Cell>> = deliveries.iter().map(row).collect();
    let mut text = table(&HEADER, &rows, style);
    if let Some(cursor) = next {
        text.push_str(&format!("more: --cursor {cursor}\n"));
    }
    text
}

/// For scripts: one tab-separated line per delivery.
pub fn deliveries_plain(deliveries: &[Delivery]) -> String {
    let rows: Vec<Vec<Cell>> = deliveries.iter().map(row).collect();
    plain(&rows)
}

/// `triggers replay`'s line.
pub fn replayed(delivery_id: &str, queued: &QueuedSession) -> String {
    format!(
        "delivery/{delivery_id} replayed: session {} queued in conversation {}\n",
        queued.session_id, queued.conversation_id
    )
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use protocol::{DeliveryReply, DeliveryStatus, ReplyStatus, SessionId};

    use super::*;

    #[track_caller]
    fn check(deliveries: &[Delivery], expect: Expect) {
        expect.assert_eq(&deliveries_plain(deliveries));
    }

    #[test]
    fn each_delivery_shows_its_status_session_reply_and_why() {
        let queued = Delivery {
            delivery_id: "d-2".into(),
            received_at: "2026-12-02T01:00:01.000Z".into(),
            provider_id: Some("msg_1".into()),
            verified: true,
            duplicate: false,
            session_id: Some(SessionId::parse("s-1").expect("an id")),
            status: DeliveryStatus::Queued,
            error: None,
            reply: Some(DeliveryReply {
                status: ReplyStatus::Failed,
                attempts: 3,
                error: Some("503".into()),
                sent_at: None,
            }),
        };
        let refused = Delivery {
            delivery_id: "d-1".into(),
            received_at: "2026-12-02T01:00:00.000Z".into(),
            provider_id: None,
            verified: false,
            duplicate: false,
            session_id: None,
            status: DeliveryStatus::Refused,
            error: Some("missing webhook-signature".into()),
            reply: None,
        };
        check(
            &[queued, refused],
            expect![[r#"
                d-2	2026-12-02T01:00:01.000Z	queued	s-1	msg_1	failed (3 attempts)	-
                d-1	2026-12-02T01:00:00.000Z	refused	-	-	-	missing webhook-signature
            "#]],
        );
    }
}
