//! Pure rendering of sessions and transcripts: strings in, strings out, so every format has a snapshot test.
//!
//! `sessions`: the session list and `show`'s describe block; `transcript`: a session's events as Claude Code
//! shows them; `escape`: every text either shows from an event or a session row, made harmless to a terminal.
//! `agents`, `conversations`, `runtimes`, `triggers`, `deliveries`: what the commands of those names print, in the layouts of `table`.
//! This file holds what both use: the style, status words, durations and costs.

mod agents;
mod conversations;
mod deliveries;
pub(crate) mod escape;
mod runtimes;
mod sessions;
mod table;
pub mod transcript;
mod triggers;

use protocol::SessionStatus;

pub use agents::{Applied, agent, agents_plain, agents_table, applied, versions};
pub use conversations::conversation;
pub use deliveries::{deliveries_plain, deliveries_table, replayed};
pub use runtimes::runtimes;
pub use sessions::{sessions_plain, sessions_table, show};
pub use triggers::{trigger, trigger_applied, triggers_plain, triggers_table};

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

pub(crate) fn status_symbol(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Queued | SessionStatus::Pending => "○",
        SessionStatus::Running => "●",
        SessionStatus::Succeeded => "✓",
        SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => "✗",
        SessionStatus::Cancelled => "⊘",
    }
}

pub(crate) fn status_word(style: Style, status: SessionStatus) -> String {
    let text = format!("{} {}", status_symbol(status), status);
    match status {
        SessionStatus::Succeeded => style.green(&text),
        SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => style.red(&text),
        SessionStatus::Cancelled => style.yellow(&text),
        SessionStatus::Queued | SessionStatus::Pending | SessionStatus::Running => text,
    }
}

/// `1m 42s`, `3h 5m`, `850ms`.
pub(crate) fn duration(ms: i64) -> String {
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

pub(crate) fn cost(usd: Option<f64>) -> String {
    usd.map_or_else(|| "-".into(), |c| format!("${c:.4}"))
}
