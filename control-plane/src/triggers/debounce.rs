//! `debounceSeconds` (DESIGN §10): the `waiting` deliveries of one (trigger, conversation key) become one
//! session once the newest of them is `debounceSeconds` old. A task of `agentctl serve`, like the lease
//! sweep: the rows are the state (`store/bursts.rs`), so a restart or a second replica loses nothing.

use std::collections::HashSet;
use std::time::Duration;

use protocol::{FileSpec, Trigger};
use tokio_util::sync::CancellationToken;

use crate::dispatch::Bell;
use crate::store::{Flush, Flushed, Store, StoreError, WaitingDelivery};
use crate::time;

/// How often waiting bursts are looked at: the debounce's resolution.
pub const TICK: Duration = Duration::from_millis(250);

/// Whether a burst whose newest delivery arrived at `newest_ms` is due at `now_ms`.
pub fn due(newest_ms: i64, debounce_seconds: u32, now_ms: i64) -> bool {
    newest_ms + i64::from(debounce_seconds) * 1000 <= now_ms
}

/// One session's prompt and files from a burst: every prompt in arrival order, a blank line between them;
/// every attachment, a path given twice (two mails' `photo.jpg`) numbered like the parser numbers its own.
pub fn compose(deliveries: &[WaitingDelivery]) -> (String, Vec<FileSpec>) {
    let prompt = deliveries
        .iter()
        .map(|d| d.prompt.trim_end_matches('\n'))
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for attachment in deliveries.iter().flat_map(|d| &d.attachments) {
        let mut file = attachment_file(attachment);
        let mut n = 2;
        while !seen.insert(file.path.clone()) {
            file.path = numbered(&attachment.path, n);
            n += 1;
        }
        files.push(file);
    }
    (prompt, files)
}

fn attachment_file(a: &crate::store::StoredAttachment) -> FileSpec {
    FileSpec {
        path: a.path.clone(),
        content: a.base64.clone(),
        encoding: protocol::FileEncoding::Base64,
    }
}

/// `attachments/report.pdf`, 2 → `attachments/report-2.pdf`.
fn numbered(path: &str, n: u32) -> String {
    let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
    let name = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}-{n}.{ext}"),
        _ => format!("{name}-{n}"),
    };
    if dir.is_empty() {
        name
    } else {
        format!("{dir}/{name}")
    }
}

/// Flushes due bursts every [`TICK`] until `shutdown`.
pub async fn run(store: Store, bell: Bell, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match flush_due(&store, time::now_ms()).await {
            Ok(0) => {}
            Ok(_) => bell.ring().await,
            Err(error) => tracing::warn!(error = %error, "flush debounced deliveries"),
        }
    }
}

/// Flushes every burst due at `now_ms`; answers how many sessions it queued.
pub async fn flush_due(store: &Store, now_ms: i64) -> Result<usize, StoreError> {
    let mut queued = 0;
    for burst in store.waiting_bursts().await? {
        // A deleted trigger's waiting deliveries stay as they are, listed `waiting`: nothing to start.
        let Some(row) = store.trigger(&burst.trigger_id).await? else {
            continue;
        };
        let trigger: Trigger = serde_json::from_str(&row.definition)
            .map_err(|e| StoreError::Corrupt(format!("triggers ({}): {e}", row.trigger_id)))?;
        if !due(burst.newest_ms, trigger.debounce_seconds, now_ms) {
            continue;
        }
        let session_id = uuid::Uuid::new_v4().to_string();
        let flushed = store
            .flush_burst(
                &Flush {
                    trigger_id: &burst.trigger_id,
                    conversation_key: burst.conversation_key.as_deref(),
                    agent_id: &row.agent_id,
                    cutoff_ms: now_ms - i64::from(trigger.debounce_seconds) * 1000,
                    session_id: &session_id,
                    reply: trigger.reply.is_some(),
                    now_ms,
                },
                compose,
            )
            .await?;
        match flushed {
            Flushed::Queued(row) => {
                tracing::info!(trigger_id = %burst.trigger_id, session_id = %row.session_id, "debounced deliveries queued");
                queued += 1;
            }
            Flushed::Nothing => {}
            Flushed::NotQueued(why) => {
                tracing::warn!(trigger_id = %burst.trigger_id, outcome = ?why, "debounced deliveries not queued")
            }
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::store::StoredAttachment;

    fn delivery(id: &str, prompt: &str, files: &[&str]) -> WaitingDelivery {
        WaitingDelivery {
            delivery_id: id.into(),
            prompt: prompt.into(),
            auto_submitted: false,
            attachments: files
                .iter()
                .map(|p| StoredAttachment {
                    path: (*p).into(),
                    filename: (*p).into(),
                    content_type: "image/jpeg".into(),
                    base64: "AA==".into(),
                })
                .collect(),
        }
    }

    #[track_caller]
    fn check(deliveries: &[WaitingDelivery], expect: Expect) {
        let (prompt, files) = compose(deliveries);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        expect.assert_eq(&format!("{prompt}\n--\n{paths:?}"));
    }

    #[test]
    fn a_burst_joins_its_prompts_in_arrival_order_and_keeps_every_attachment() {
        check(
            &[
                delivery("a", "first\n", &["attachments/photo.jpg"]),
                delivery("b", "second", &["attachments/photo.jpg", "attachments/README"]),
                delivery("c", "third", &["attachments/photo.jpg", "attachments/README"]),
            ],
            expect![[r#"
                first

                second

                third
                --
                ["attachments/photo.jpg", "attachments/photo-2.jpg", "attachments/README", "attachments/photo-3.jpg", "attachments/README-2"]"#]],
        );
        check(
            &[delivery("a", "only", &[])],
            expect![[r#"
            only
            --
            []"#]],
        );
    }

    #[test]
    fn a_burst_is_due_once_its_newest_delivery_is_debounce_seconds_old() {
        assert!(!due(10_000, 1, 10_999));
        assert!(due(10_000, 1, 11_000));
        assert!(due(10_000, 0, 10_000));
    }
}
