//! The session list (a table for people, tab-separated lines for scripts) and `show`'s describe block.

use protocol::SessionDetail;

use super::{Style, cost, duration, status_symbol, status_word};
use crate::time;

fn session_duration(s: &SessionDetail, now_ms: i64) -> Option<i64> {
    let start = s.session.started_at.as_deref().and_then(time::parse_rfc3339_ms)?;
    let end = s
        .session
        .finished_at
        .as_deref()
        .and_then(time::parse_rfc3339_ms)
        .unwrap_or(now_ms);
    Some(end - start)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The session list: an aligned table with a header for a terminal.
pub fn sessions_table(sessions: &[SessionDetail], wide: bool, now_ms: i64, style: Style) -> String {
    let mut header = vec!["ID", "STATUS", "AGENT", "TURNS", "COST", "AGE", "DURATION"];
    if wide {
        header.extend(["MODEL", "RUNTIME"]);
    }
    let mut rows: Vec<Vec<(String, String)>> = Vec::new();
    for s in sessions {
        let plain_status = format!("{} {}", status_symbol(s.session.status), s.session.status);
        let age = time::parse_rfc3339_ms(&s.session.created_at).map_or_else(
            || "-".into(),
            |c| format!("{} ago", duration((now_ms - c) / 1000 * 1000)),
        );
        let mut row = vec![
            (s.session.session_id.to_string(), String::new()),
            (plain_status, status_word(style, s.session.status)),
            (s.session.agent_id.to_string(), String::new()),
            (opt(s.session.num_turns), String::new()),
            (cost(s.session.total_cost_usd), String::new()),
            (age, String::new()),
            (
                session_duration(s, now_ms).map_or_else(|| "-".into(), duration),
                String::new(),
            ),
        ];
        if wide {
            row.push((opt(s.model.clone()), String::new()));
            row.push((opt(s.runtime_id.clone()), String::new()));
        }
        rows.push(row);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, (plain, _)) in row.iter().enumerate() {
            widths[i] = widths[i].max(plain.chars().count());
        }
    }
    let mut out = String::new();
    let last = header.len() - 1;
    for (i, h) in header.iter().enumerate() {
        out.push_str(&style.bold(h));
        if i < last {
            out.push_str(&" ".repeat(widths[i] - h.chars().count() + 2));
        }
    }
    out.push('\n');
    for row in rows {
        for (i, (plain, painted)) in row.iter().enumerate() {
            let shown = if painted.is_empty() { plain } else { painted };
            out.push_str(shown);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - plain.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    out
}

/// The session list for scripts: tab-separated, no header, full values, exact times.
pub fn sessions_plain(sessions: &[SessionDetail], wide: bool) -> String {
    let mut out = String::new();
    for s in sessions {
        let mut fields = vec![
            s.session.session_id.to_string(),
            s.session.status.to_string(),
            s.session.agent_id.to_string(),
            opt(s.session.num_turns),
            opt(s.session.total_cost_usd),
            s.session.created_at.clone(),
            opt(s.session.finished_at.clone()),
        ];
        if wide {
            fields.push(opt(s.model.clone()));
            fields.push(opt(s.runtime_id.clone()));
        }
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    out
}

/// `agentctl show`: a describe-style block.
pub fn show(s: &SessionDetail, now_ms: i64, style: Style) -> String {
    let fields: Vec<(&str, String)> = vec![
        ("Session", s.session.session_id.to_string()),
        ("Agent", s.session.agent_id.to_string()),
        ("Status", status_word(style, s.session.status)),
        ("Model", opt(s.model.clone())),
        ("Runtime", opt(s.runtime_id.clone())),
        ("Created", s.session.created_at.clone()),
        ("Started", opt(s.session.started_at.clone())),
        ("Finished", opt(s.session.finished_at.clone())),
        (
            "Duration",
            session_duration(s, now_ms).map_or_else(|| "-".into(), duration),
        ),
        ("Turns", opt(s.session.num_turns)),
        ("Cost", cost(s.session.total_cost_usd)),
        ("Exit code", opt(s.session.exit_code)),
        ("Signal", opt(s.session.signal.clone())),
        ("Error", opt(s.session.error.clone())),
        ("Last seq", opt(s.session.last_seq)),
        ("Result", opt(s.result_text.clone())),
    ];
    let mut out = String::new();
    for (name, value) in fields {
        let label = format!("{name}:");
        // Continuation lines of a multi-line value stay in the value column.
        let value = value.trim_end().replace('\n', &format!("\n{:11}", ""));
        out.push_str(&format!("{label:<11}{value}\n"));
    }
    out
}
