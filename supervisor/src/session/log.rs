//! A session's event stream: turns agent output and lifecycle facts into events in its local log.

use std::collections::VecDeque;

use protocol::{EventSource, INVALID_EVENT_TYPE, OutputStream, OutputTruncated};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::eventlog::LogWriter;
use crate::redact::Redactor;

/// How much of stderr is kept for `session.finished.stderrTail`.
const STDERR_TAIL_BYTES: usize = 2048;

/// What the agent's latest `result` message said.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResultInfo {
    pub(crate) subtype: String,
    pub(crate) is_error: bool,
    pub(crate) num_turns: Option<u64>,
    pub(crate) total_cost_usd: Option<f64>,
    pub(crate) result: Option<String>,
    pub(crate) errors: Vec<String>,
}

impl ResultInfo {
    pub(crate) fn is_success(&self) -> bool {
        self.subtype == "success" && !self.is_error
    }

    /// A one-line reason for a failed result.
    pub(crate) fn error_text(&self) -> String {
        if !self.errors.is_empty() {
            return format!("{}: {}", self.subtype, self.errors.join("; "));
        }
        match &self.result {
            Some(text) if !text.is_empty() => text.clone(),
            _ => format!("result {}", self.subtype),
        }
    }
}

/// The writer side of one session's log, with redaction and the `--max-output` budget applied.
#[derive(Debug)]
pub(crate) struct SessionLog {
    writer: LogWriter,
    redactor: std::sync::Arc<Redactor>,
    max_output: u64,
    output_bytes: u64,
    dropped_stdout: u64,
    dropped_stderr: u64,
    /// Agent lines that were JSON objects, i.e. SDK messages.
    pub(crate) sdk_messages: u64,
    pub(crate) last_result: Option<ResultInfo>,
    stderr_tail: VecDeque<u8>,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResultMessage {
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    num_turns: Option<u64>,
    #[serde(default)]
    total_cost_usd: Option<f64>,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    errors: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

impl SessionLog {
    pub(crate) fn new(writer: LogWriter, redactor: std::sync::Arc<Redactor>, max_output: u64) -> Self {
        Self {
            writer,
            redactor,
            max_output,
            output_bytes: 0,
            dropped_stdout: 0,
            dropped_stderr: 0,
            sdk_messages: 0,
            last_result: None,
            stderr_tail: VecDeque::new(),
        }
    }

    pub(crate) fn writer(&mut self) -> &mut LogWriter {
        &mut self.writer
    }

    /// Spends `len` bytes of the output budget; false (and counted) when the budget is used up.
    fn admit(&mut self, stream: OutputStream, len: usize) -> bool {
        if self.output_bytes + len as u64 > self.max_output {
            match stream {
                OutputStream::Stdout => self.dropped_stdout += len as u64,
                OutputStream::Stderr => self.dropped_stderr += len as u64,
            }
            return false;
        }
        self.output_bytes += len as u64;
        true
    }

    /// One whole stdout line. Returns true when it was a `result` message.
    pub(crate) fn agent_line(&mut self, ts: &str, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !self.admit(OutputStream::Stdout, line.len() + 1) {
            return false;
        }
        let redactor = self.redactor.clone();
        let line = redactor.redact(line);
        match json_object_type(&line) {
            Some(kind) => {
                self.sdk_messages += 1;
                let is_result = kind == "result";
                if is_result {
                    self.last_result = parse_result(&line);
                }
                self.writer
                    .push_raw(ts, EventSource::Agent, &kind, trim_ascii_end(&line));
                is_result
            }
            None => {
                let text = String::from_utf8_lossy(&line);
                self.writer
                    .push_value(ts, EventSource::Agent, "text", &Text { text: &text });
                false
            }
        }
    }

    /// The kept prefix of a line longer than `--max-line`.
    pub(crate) fn agent_cut(&mut self, ts: &str, prefix: &[u8]) {
        if !self.admit(OutputStream::Stdout, prefix.len()) {
            return;
        }
        let prefix = self.redactor.redact(prefix);
        let text = String::from_utf8_lossy(&prefix);
        self.writer
            .push_value(ts, EventSource::Agent, "text", &Text { text: &text });
    }

    pub(crate) fn truncated(&mut self, ts: &str, stream: OutputStream, dropped_bytes: u64) {
        let data = OutputTruncated {
            stream,
            dropped_bytes,
        };
        self.writer
            .push_value(ts, EventSource::Supervisor, "output.truncated", &data);
    }

    /// Complete stderr lines (joined by `\n`), grouped into one event.
    pub(crate) fn stderr(&mut self, ts: &str, text: &[u8]) {
        if text.is_empty() || !self.admit(OutputStream::Stderr, text.len() + 1) {
            return;
        }
        let text = self.redactor.redact(text);
        let text = String::from_utf8_lossy(&text);
        self.stderr_tail.extend(text.as_bytes());
        self.stderr_tail.push_back(b'\n');
        let excess = self.stderr_tail.len().saturating_sub(STDERR_TAIL_BYTES);
        self.stderr_tail.drain(..excess);
        self.writer
            .push_value(ts, EventSource::Stderr, "stderr", &Text { text: &text });
    }

    /// The last lines of stderr (already redacted), or `None` when there was none.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let bytes: Vec<u8> = self.stderr_tail.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        // The tail may start inside a UTF-8 sequence or a line: start at the first whole line.
        let text = match text.find('\n') {
            Some(at) if self.stderr_tail.len() >= STDERR_TAIL_BYTES => &text[at + 1..],
            _ => &text[..],
        };
        let text = text.trim_end();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// A supervisor lifecycle event; its data is redacted like everything else.
    pub(crate) fn supervisor(&mut self, ts: &str, kind: &str, data: &impl Serialize) -> u64 {
        let json = serde_json::to_vec(data).expect("event data always serialises");
        let json = self.redactor.clone().redact(&json).into_owned();
        self.writer.push_raw(ts, EventSource::Supervisor, kind, &json)
    }

    /// At the end of output: report what `--max-output` dropped.
    pub(crate) fn report_dropped_output(&mut self, ts: &str) {
        for (stream, dropped) in [
            (OutputStream::Stdout, self.dropped_stdout),
            (OutputStream::Stderr, self.dropped_stderr),
        ] {
            if dropped > 0 {
                self.truncated(ts, stream, dropped);
            }
        }
        self.dropped_stdout = 0;
        self.dropped_stderr = 0;
    }
}

/// The event `type` of a line that is a JSON object, or `None` for anything else: its own `type`, `"json"`
/// when it has none (or not a string), [`INVALID_EVENT_TYPE`] when the control plane would refuse it
/// (`protocol::event_type_problem`); the line itself, with its own `type`, is the event's data either way.
fn json_object_type(line: &[u8]) -> Option<String> {
    let first = line.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' || std::str::from_utf8(line).is_err() {
        return None;
    }
    let probe: Probe<'_> = serde_json::from_slice(line).ok()?;
    let kind = match probe.kind {
        Some(raw) => serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| "json".to_owned()),
        None => "json".to_owned(),
    };
    if protocol::event_type_problem(&kind).is_some() {
        return Some(INVALID_EVENT_TYPE.to_owned());
    }
    Some(kind)
}

fn parse_result(line: &[u8]) -> Option<ResultInfo> {
    let message: ResultMessage = serde_json::from_slice(line).ok()?;
    Some(ResultInfo {
        subtype: message.subtype.unwrap_or_default(),
        is_error: message.is_error.unwrap_or(false),
        num_turns: message.num_turns,
        total_cost_usd: message.total_cost_usd,
        result: message.result,
        errors: message
            .errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
    })
}

fn trim_ascii_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_are_sdk_messages() {
        assert_eq!(
            json_object_type(br#"{"type":"assistant","x":[1,2]}"#).as_deref(),
            Some("assistant")
        );
        assert_eq!(json_object_type(br#"  {"no_type":1}"#).as_deref(), Some("json"));
        assert_eq!(json_object_type(br#"{"type":3}"#).as_deref(), Some("json"));
        assert_eq!(json_object_type(br#"["assistant"]"#), None);
        assert_eq!(json_object_type(br#"{"type":"a"} trailing"#), None);
        assert_eq!(json_object_type(b"plain text"), None);
        assert_eq!(json_object_type(b"{\"type\":\"a\xff\"}"), None);
    }

    #[track_caller]
    fn check(lines: &[&str], expect: expect_test::Expect) {
        let kinds: Vec<String> = lines
            .iter()
            .map(|line| format!("{line} -> {:?}", json_object_type(line.as_bytes())))
            .collect();
        expect.assert_eq(&kinds.join("\n"));
    }

    #[test]
    fn a_type_the_control_plane_would_refuse_becomes_invalid_type() {
        let long = format!(r#"{{"type":"{}"}}"#, "t".repeat(129));
        check(
            &[
                r#"{"type":""}"#,
                &long,
                r#"{"type":"a\u0007b"}"#,
                r#"{"type":"a\nb"}"#,
                r#"{"type":"\u009b"}"#,
                r#"{"type":"ok.type"}"#,
            ],
            expect_test::expect![[r#"
                {"type":""} -> Some("invalid_type")
                {"type":"ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt"} -> Some("invalid_type")
                {"type":"a\u0007b"} -> Some("invalid_type")
                {"type":"a\nb"} -> Some("invalid_type")
                {"type":"\u009b"} -> Some("invalid_type")
                {"type":"ok.type"} -> Some("ok.type")"#]],
        );
    }

    #[test]
    fn results_are_read_for_status_turns_and_cost() {
        let info = parse_result(
            br#"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":3,"total_cost_usd":0.5,"errors":["max turns"]}"#,
        )
        .unwrap();
        assert!(!info.is_success());
        assert_eq!(info.num_turns, Some(3));
        assert_eq!(info.error_text(), "error_max_turns: max turns");
    }
}
