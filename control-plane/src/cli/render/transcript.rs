//! The transcript: a session's events as Claude Code shows its own (`⏺ Bash(cargo test)`, `  ⎿  output`), ending
//! in a footer that says how the session ended.
//!
//! [`render`] is the pure function of a whole event list; [`Transcript`] is the same fold one event at a time,
//! for `logs -f`, where events arrive while the session runs. The only state carried between events is the
//! SDK's `result` message, which the footer (rendered at `session.finished`) reads.

use protocol::{Event, EventSource, SessionStatus};
use serde_json::Value;

use super::{Style, cost, duration, escape, status_symbol};

/// Lines of a tool result shown before `… +N lines`.
const RESULT_LINES: usize = 3;
/// Longest tool argument or failure reason shown on one line.
const ARG_WIDTH: usize = 80;

/// The transcript of `events`, one line per `\n`; what `agentctl logs` prints for them.
pub fn render(events: &[Event], style: Style, timestamps: bool) -> String {
    let mut transcript = Transcript::new(style, timestamps);
    let mut out = String::new();
    for event in events {
        for line in transcript.event(event) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Renders a session's events one at a time, like Claude Code's own transcript.
#[derive(Debug)]
pub(crate) struct Transcript {
    style: Style,
    timestamps: bool,
    /// The last `result` message, for the footer.
    result: Option<Value>,
}

impl Transcript {
    pub(crate) fn new(style: Style, timestamps: bool) -> Self {
        Self {
            style,
            timestamps,
            result: None,
        }
    }

    /// The lines for one event (possibly none).
    pub(crate) fn event(&mut self, event: &Event) -> Vec<String> {
        let data: Value = serde_json::from_str(event.data.get()).unwrap_or(Value::Null);
        let style = self.style;
        let mut lines = match (event.source, event.kind.as_str()) {
            (EventSource::Supervisor, "session.started") => vec![style.dim(&format!(
                "session {} · agent {} · runner {} · pid {}",
                escape::line(event.session_id.as_str()),
                field(&data, "agentId"),
                field(&data, "runner"),
                data.get("pid").map_or_else(|| "-".into(), Value::to_string),
            ))],
            (EventSource::Supervisor, "session.finished") => vec![self.footer(&data)],
            (EventSource::Supervisor, "session.cancel_requested") => vec![style.yellow("⊘ cancel requested")],
            (_, "output.truncated") => vec![style.yellow(&format!(
                "… {} output truncated ({} bytes dropped)",
                field(&data, "stream"),
                data.get("droppedBytes").map_or_else(|| "?".into(), Value::to_string)
            ))],
            (EventSource::Stderr, _) => text(&data, "text")
                .lines()
                .map(|l| style.dim(&format!("stderr: {l}")))
                .collect(),
            (EventSource::Agent, "text") => text(&data, "text").lines().map(str::to_owned).collect(),
            (EventSource::Agent, "log") => vec![style.dim(&format!(
                "{}: {}",
                field(&data, "key"),
                data.get("value").map_or_else(String::new, |v| match v {
                    Value::String(s) => escape::text(s).into_owned(),
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
            // The stored marker of a piece of the state the next turn resumes (crate::conversation): one
            // line per turn, at its last piece.
            (EventSource::Agent, "conversation.state") if data["last"] == true => vec![style.dim(&format!(
                "↺ conversation state saved ({} pieces)",
                data["seq"].as_u64().map_or(0, |seq| seq + 1)
            ))],
            _ => Vec::new(),
        };
        // A blank line inside a message would otherwise keep its indent: invisible, and noise in a diff.
        for line in &mut lines {
            line.truncate(line.trim_end().len());
        }
        if self.timestamps {
            let clock = escape::line(event.ts.get(11..19).unwrap_or(&event.ts)).into_owned();
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
            field(data, "model"),
            tools,
            if tools == 1 { "" } else { "s" },
            field(data, "cwd")
        ))]
    }

    fn assistant(&self, data: &Value) -> Vec<String> {
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
                    let name = field(&block, "name");
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
                lines.extend(escape::text(prompt).lines().map(|l| format!("> {l}")));
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
            let body = escape::text(&body);
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
            // The supervisor's error usually names the subtype already (`error_max_turns: Reached …`).
            let subtype = subtype.filter(|s| !error.is_some_and(|e| e.starts_with(s)));
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

/// The string `name` of `value` (`-` when absent), control characters escaped but lines kept.
fn text(value: &Value, name: &str) -> String {
    escape::text(value.get(name).and_then(Value::as_str).unwrap_or("-")).into_owned()
}

/// The same for a value shown inside one line.
fn field(value: &Value, name: &str) -> String {
    escape::line(value.get(name).and_then(Value::as_str).unwrap_or("-")).into_owned()
}

/// The first line of `s`, cut to [`ARG_WIDTH`], then escaped (so an escape is never cut in half).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    escape::line(&truncate(line, ARG_WIDTH)).into_owned()
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
