//! `conversations show`: a conversation's sessions, oldest first.

use protocol::Conversation;

use super::sessions::session_duration;
use super::table::{Cell, plain, table};
use super::{Style, duration, escape, status_symbol, status_word};

/// The first line of a text, and `…` when more followed.
fn first_line(text: Option<&str>) -> Option<String> {
    let text = text?.trim_start();
    let mut lines = text.lines();
    let first = lines.next()?;
    Some(if lines.next().is_some() {
        format!("{first}…")
    } else {
        first.to_owned()
    })
}

/// For a terminal (a table with a header line naming the conversation) or for scripts (tab-separated, exact
/// times, no header).
pub fn conversation(c: &Conversation, tty: bool, now_ms: i64, style: Style) -> String {
    let rows: Vec<Vec<Cell>> = c
        .sessions
        .iter()
        .map(|s| {
            let status = s.session.status;
            let plain_status = format!("{} {status}", status_symbol(status));
            vec![
                Cell::text(s.session.session_id.as_str()),
                if tty {
                    Cell::painted(plain_status, status_word(style, status))
                } else {
                    Cell::text(&status.to_string())
                },
                Cell::opt(s.session.agent_version),
                Cell::opt(s.session.started_at.as_deref()),
                Cell::opt(session_duration(s, now_ms).map(duration)),
                Cell::opt(first_line(s.result_text.as_deref())),
            ]
        })
        .collect();
    if !tty {
        return plain(&rows);
    }
    let mut out = format!(
        "conversation {} · agent {} · {} sessions\n",
        escape::line(c.conversation_id.as_str()),
        escape::line(c.agent_id.as_str()),
        c.sessions.len()
    );
    out.push_str(&table(
        &["ID", "STATUS", "VERSION", "STARTED", "DURATION", "RESULT"],
        &rows,
        style,
    ));
    out
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;
    use crate::time;

    #[test]
    fn a_conversation_lists_its_sessions_oldest_first_with_the_results_first_line() {
        let session =
            |id: &str, status: &str, started: Option<&str>, finished: Option<&str>, result: Option<&str>| {
                json!({
                    "sessionId": id, "agentId": "support-bot", "status": status, "pid": null,
                    "createdAt": "2026-01-01T00:00:00.000Z", "startedAt": started, "finishedAt": finished,
                    "exitCode": null, "signal": null, "lastSeq": null, "numTurns": null, "totalCostUsd": null,
                    "error": null, "conversationId": "c-1", "agentVersion": 1,
                    "runtimeId": null, "model": null, "resultText": result
                })
            };
        let c: Conversation = serde_json::from_value(json!({
            "conversationId": "c-1", "agentId": "support-bot",
            "sessions": [
                session("c-1", "succeeded", Some("2026-01-01T00:00:01.000Z"), Some("2026-01-01T00:00:03.500Z"),
                    Some("Refunds take 30 days.\nAnything else?")),
                session("c-2", "running", Some("2026-01-01T00:00:05.000Z"), None, None),
                session("c-3", "queued", None, None, None),
            ]
        }))
        .expect("a conversation");
        let now = time::parse_rfc3339_ms("2026-01-01T00:00:09.000Z").expect("a time");
        expect![[r#"
            conversation c-1 · agent support-bot · 3 sessions
            ID   STATUS       VERSION  STARTED                   DURATION  RESULT
            c-1  ✓ succeeded  1        2026-01-01T00:00:01.000Z  2s        Refunds take 30 days.…
            c-2  ● running    1        2026-01-01T00:00:05.000Z  4s        -
            c-3  ○ queued     1        -                         -         -
        "#]]
        .assert_eq(&conversation(&c, true, now, Style { color: false }));
        expect![[r#"
            c-1	succeeded	1	2026-01-01T00:00:01.000Z	2s	Refunds take 30 days.…
            c-2	running	1	2026-01-01T00:00:05.000Z	4s	-
            c-3	queued	1	-	-	-
        "#]]
        .assert_eq(&conversation(&c, false, now, Style { color: false }));
    }
}
