//! What an agent printed, made harmless to show on a terminal.
//!
//! An agent controls most of the text a transcript shows, and a terminal obeys control characters: OSC 52 writes
//! the clipboard, OSC 0 the window title, `ESC [2J` clears the screen, `\r` lets a line overwrite what came before
//! it, and the C1 characters (U+0080–U+009F, e.g. U+009B, a one-character CSI) do the same as their `ESC`
//! sequences on many terminals. So every C0 control, DEL and every C1 control is shown in one form, Rust's
//! `\u{XX}` (lowercase hex): ESC is `\u{1b}`, CR `\u{d}`, CSI `\u{9b}`. A backslash is left as it is: the point
//! is that nothing printed can drive the terminal, not that the text round-trips (`-o jsonl` is the exact form).

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with its control characters escaped, except `\n` and `\t`, which keep their meaning in a transcript.
pub(crate) fn text(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// A one-line value (an id, a table cell, a tool's name): `\n` and `\t` escaped as well, so a value can neither
/// start a line of its own nor shift the columns of a tab-separated row.
pub(crate) fn line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !keep(c);
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(input: &str, expect: Expect) {
        expect.assert_eq(&format!("text: {}\nline: {}", text(input), line(input)));
    }

    #[test]
    fn control_characters_are_shown_as_unicode_escapes_and_newlines_and_tabs_only_kept_in_text() {
        check(
            "plain, ünïcödé ⏺ and a \\ backslash",
            expect![[r#"
                text: plain, ünïcödé ⏺ and a \ backslash
                line: plain, ünïcödé ⏺ and a \ backslash"#]],
        );
        // OSC 52 (clipboard) and OSC 0 (title), both ended by BEL.
        check(
            "\x1b]52;c;cHduZWQ=\x07\x1b]0;title\x07",
            expect![[r#"
                text: \u{1b}]52;c;cHduZWQ=\u{7}\u{1b}]0;title\u{7}
                line: \u{1b}]52;c;cHduZWQ=\u{7}\u{1b}]0;title\u{7}"#]],
        );
        check(
            "\x1b[2Jclear\rforged\x00nul\x7fdel",
            expect![[r#"
                text: \u{1b}[2Jclear\u{d}forged\u{0}nul\u{7f}del
                line: \u{1b}[2Jclear\u{d}forged\u{0}nul\u{7f}del"#]],
        );
        // C1: a one-character CSI and the last C1; `¡` (U+00A1), just after them, is not a control.
        check(
            "\u{9b}31mred\u{9f}\u{a1}",
            expect![[r#"
                text: \u{9b}31mred\u{9f}¡
                line: \u{9b}31mred\u{9f}¡"#]],
        );
        check(
            "one\n\ttwo",
            expect![[r#"
                text: one
                	two
                line: one\u{a}\u{9}two"#]],
        );
    }
}
