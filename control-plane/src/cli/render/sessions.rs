//! The session list (a table for people, tab-separated lines for scripts) and `show`'s describe block.

use protocol::SessionDetail;

use super::{Style, cost, duration, escape, status_symbol, status_word};
use crate::time;

pub(super) fn session_duration(s: &SessionDetail, now_ms: i64) -> Option<i64> {
    let start = s.session.started_at.as_deref().and_then(time::parse_rfc3339_ms)?;
    let end = s
        .session
        .finished_at
        .as_deref()
        .and_then(time::parse_rfc3339_ms)
        .unwrap_or(now_ms);
    Some(end - start)
}

/// A value for one cell or line (`-` when absent): the server's text, which an agent may have written, escaped.
fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| cell(&v.to_string()))
}

fn cell(text: &str) -> String {
    escape::line(text).into_owned()
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
            (cell(s.session.session_id.as_str()), String::new()),
            (plain_status, status_word(style, s.session.status)),
            (cell(s.session.agent_id.as_str()), String::new()),
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
            cell(s.session.session_id.as_str()),
            s.session.status.to_string(),
            cell(s.session.agent_id.as_str()),
            opt(s.session.num_turns),
            opt(s.session.total_cost_usd),
            cell(&s.session.created_at),
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

/// A value that may span lines (`-` when absent), escaped but with its lines kept.
fn lines(text: Option<&str>) -> String {
    text.map_or_else(|| "-".into(), |t| escape::text(t).into_owned())
}

/// `agentctl show`: a describe-style block.
pub fn show(s: &SessionDetail, now_ms: i64, style: Style) -> String {
    let fields: Vec<(&str, String)> = vec![
        ("Session", cell(s.session.session_id.as_str())),
        ("Agent", cell(s.session.agent_id.as_str())),
        ("Status", status_word(style, s.session.status)),
        ("Model", opt(s.model.clone())),
        ("Runtime", opt(s.runtime_id.clone())),
        ("Created", cell(&s.session.created_at)),
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
        ("Error", lines(s.session.error.as_deref())),
        ("Last seq", opt(s.session.last_seq)),
        ("Result", lines(s.result_text.as_deref())),
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
