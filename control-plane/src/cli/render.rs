//! Pure rendering of sessions and transcripts: strings in, strings out, so every format has a snapshot test.

use std::collections::HashMap;

use protocol::{Event, EventSource, SessionDetail, SessionStatus};
use serde_json::Value;

use crate::time;

/// Lines of a tool result shown before `… +N lines`.
const RESULT_LINES: usize = 3;
const ARG_WIDTH: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
}

pub fn status_symbol(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Pending => "○",
        SessionStatus::Running => "●",
        SessionStatus::Succeeded => "✓",
        SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => "✗",
        SessionStatus::Cancelled => "⊘",
    }
}

fn status_word(style: Style, status: SessionStatus) -> String {
    let text = format!("{} {}", status_symbol(status), status);
    match status {
        SessionStatus::Succeeded => style.green(&text),
        SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => style.red(&text),
        SessionStatus::Cancelled => style.yellow(&text),
        SessionStatus::Pending | SessionStatus::Running => text,
    }
}

/// `1m 42s`, `3h 5m`, `850ms`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn cost(usd: Option<f64>) -> String {
    usd.map_or_else(|| "-".into(), |c| format!("${c:.4}"))
}

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

/// Renders a session's events like Claude Code's own transcript.
#[derive(Debug)]
pub struct Transcript {
    style: Style,
    timestamps: bool,
    /// The last `result` message, for the footer.
    result: Option<Value>,
    /// Tool names by tool_use id, so a result can say what it answers.
    tools: HashMap<String, String>,
}

impl Transcript {
    pub fn new(style: Style, timestamps: bool) -> Self {
        Self {
            style,
            timestamps,
            result: None,
            tools: HashMap::new(),
        }
    }

    /// The lines for one event (possibly none).
    pub fn event(&mut self, event: &Event) -> Vec<String> {
        let data: Value = serde_json::from_str(event.data.get()).unwrap_or(Value::Null);
        let style = self.style;
        let mut lines = match (event.source, event.kind.as_str()) {
            (EventSource::Supervisor, "session.started") => vec![style.dim(&format!(
                "session {} · agent {} · runner {} · pid {}",
                event.session_id,
                text(&data, "agentId"),
                text(&data, "runner"),
                data.get("pid").map_or_else(|| "-".into(), Value::to_string),
            ))],
            (EventSource::Supervisor, "session.finished") => vec![self.footer(&data)],
            (EventSource::Supervisor, "session.cancel_requested") => vec![style.yellow("⊘ cancel requested")],
            (_, "output.truncated") => vec![style.yellow(&format!(
                "… {} output truncated ({} bytes dropped)",
                text(&data, "stream"),
                data.get("droppedBytes").map_or_else(|| "?".into(), Value::to_string)
            ))],
            (EventSource::Stderr, _) => text(&data, "text")
                .lines()
                .map(|l| style.dim(&format!("stderr: {l}")))
                .collect(),
            (EventSource::Agent, "text") => text(&data, "text").lines().map(str::to_owned).collect(),
            (EventSource::Agent, "log") => vec![style.dim(&format!(
                "{}: {}",
                text(&data, "key"),
                data.get("value").map_or_else(String::new, |v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            ))],
            (EventSource::Agent, "system") => self.system(&data),
            (EventSource::Agent, "assistant") => self.assistant(&data),
            (EventSource::Agent, "user") => self.user(&data),
            (EventSource::Agent, "result") => {
                self.result = Some(data);
                Vec::new()
            }
            _ => Vec::new(),
        };
        if self.timestamps {
            let clock = event.ts.get(11..19).unwrap_or(&event.ts).to_owned();
            for line in &mut lines {
                *line = format!("{} {line}", style.dim(&clock));
            }
        }
        lines
    }

    fn system(&self, data: &Value) -> Vec<String> {
        if data.get("subtype").and_then(Value::as_str) != Some("init") {
            return Vec::new();
        }
        let tools = data.get("tools").and_then(Value::as_array).map_or(0, Vec::len);
        vec![self.style.dim(&format!(
            "model {} · {} tool{} · cwd {}",
            text(data, "model"),
            tools,
            if tools == 1 { "" } else { "s" },
            text(data, "cwd")
        ))]
    }

    fn assistant(&mut self, data: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        let blocks = data
            .pointer("/message/content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let indent = if data.get("parent_tool_use_id").is_some_and(|p| !p.is_null()) {
            "  "
        } else {
            ""
        };
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    let body = text(&block, "text");
                    for (i, line) in body.trim_end().lines().enumerate() {
                        let prefix = if i == 0 { "⏺ " } else { "  " };
                        lines.push(format!("{indent}{prefix}{line}"));
                    }
                }
                Some("tool_use") => {
                    let name = text(&block, "name");
                    if let Some(id) = block.get("id").and_then(Value::as_str) {
                        self.tools.insert(id.to_owned(), name.clone());
                    }
                    let arg = block.get("input").map(primary_arg).unwrap_or_default();
                    lines.push(format!("{indent}⏺ {}({arg})", self.style.bold(&name)));
                }
                _ => {}
            }
        }
        lines
    }

    fn user(&self, data: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        let content = data.pointer("/message/content");
        let Some(blocks) = content.and_then(Value::as_array) else {
            if let Some(prompt) = content.and_then(Value::as_str) {
                lines.extend(prompt.lines().map(|l| format!("> {l}")));
            }
            return lines;
        };
        for block in blocks {
            if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                continue;
            }
            let body = match block.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            let is_error = block.get("is_error").and_then(Value::as_bool) == Some(true);
            let all: Vec<&str> = body.trim_end().lines().collect();
            if all.is_empty() {
                lines.push(format!("  ⎿  {}", self.style.dim("(no output)")));
                continue;
            }
            for (i, line) in all.iter().take(RESULT_LINES).enumerate() {
                let prefix = if i == 0 { "  ⎿  " } else { "     " };
                let line = if is_error && i == 0 {
                    self.style.red(&format!("✗ {line}"))
                } else if is_error {
                    self.style.red(line)
                } else {
                    (*line).to_owned()
                };
                lines.push(format!("{prefix}{line}"));
            }
            if all.len() > RESULT_LINES {
                lines.push(format!(
                    "     {}",
                    self.style.dim(&format!("… +{} lines", all.len() - RESULT_LINES))
                ));
            }
        }
        lines
    }

    /// `✓ succeeded · 6 turns · 1m 42s · $0.0831`.
    fn footer(&self, finished: &Value) -> String {
        let status = text(finished, "status")
            .parse::<SessionStatus>()
            .unwrap_or(SessionStatus::Failed);
        let result = self.result.as_ref();
        let turns = result
            .and_then(|r| r.get("num_turns"))
            .or_else(|| finished.get("numTurns"))
            .and_then(Value::as_u64);
        let cost_usd = result
            .and_then(|r| r.get("total_cost_usd"))
            .or_else(|| finished.get("totalCostUsd"))
            .and_then(Value::as_f64);
        let mut head = format!("{} {status}", status_symbol(status));
        if status != SessionStatus::Succeeded {
            let subtype = result
                .and_then(|r| r.get("subtype"))
                .and_then(Value::as_str)
                .filter(|s| *s != "success");
            let error = finished.get("error").and_then(Value::as_str);
            // "cancelled (cancelled)" says nothing twice.
            let error = error.filter(|e| *e != status.as_str());
            let reason: Vec<&str> = subtype.into_iter().chain(error).collect();
            if !reason.is_empty() {
                head.push_str(&format!(" ({})", first_line(&reason.join(": "))));
            }
        }
        let mut parts = vec![match status {
            SessionStatus::Succeeded => self.style.green(&head),
            SessionStatus::Cancelled => self.style.yellow(&head),
            _ => self.style.red(&head),
        }];
        if let Some(t) = turns {
            parts.push(format!("{t} turn{}", if t == 1 { "" } else { "s" }));
        }
        if let Some(ms) = finished.get("durationMs").and_then(Value::as_i64) {
            parts.push(duration(ms));
        }
        if cost_usd.is_some() {
            parts.push(cost(cost_usd));
        }
        parts.join(" · ")
    }
}

fn text(value: &Value, name: &str) -> String {
    value.get(name).and_then(Value::as_str).unwrap_or("-").to_owned()
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    truncate(line, ARG_WIDTH)
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let kept: String = s.chars().take(width - 1).collect();
        format!("{kept}…")
    }
}

/// The argument Claude Code shows for a tool call: `Bash(cargo test)`, `Read(src/lib.rs)`.
fn primary_arg(input: &Value) -> String {
    for key in [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ] {
        if let Some(v) = input.get(key).and_then(Value::as_str) {
            return first_line(v);
        }
    }
    input
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_str))
        .map(first_line)
        .unwrap_or_default()
}
