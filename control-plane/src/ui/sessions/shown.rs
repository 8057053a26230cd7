//! Values as a page shows them: cut to a size a browser handles (a 100,000-event page must stay small), with a
//! label saying how much there was. Pure.

use serde_json::Value;

/// The most of one value a page shows; the rest is in the event's raw view (`/sessions/{id}/events/{seq}`).
pub(crate) const VALUE_MAX: usize = 4096;

/// A value as shown: its (possibly cut) text and, when cut, the label saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    pub text: String,
    /// `truncated, 123,456 bytes` when `text` is a prefix.
    pub cut: Option<String>,
}

impl Shown {
    pub fn new(text: &str) -> Self {
        Self::within(text, VALUE_MAX)
    }

    /// `text` cut at a character boundary at or below `max` bytes.
    pub fn within(text: &str, max: usize) -> Self {
        if text.len() <= max {
            return Self {
                text: text.to_owned(),
                cut: None,
            };
        }
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            text: text[..end].to_owned(),
            cut: Some(format!("truncated, {} bytes", thousands(text.len()))),
        }
    }

    /// A JSON value, compact.
    pub fn json(value: &Value) -> Self {
        Self::new(&value.to_string())
    }
}

/// `123456` → `123,456`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line of at most `max` characters: a tool call's summary beside its name.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A tool call's short input: the first string among the fields that usually say what it does, else the
/// input as compact JSON.
pub(crate) fn tool_summary(input: &Value) -> String {
    const TELLING: [&str; 8] = [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ];
    let telling = TELLING.iter().find_map(|k| input.get(*k).and_then(Value::as_str));
    match telling {
        Some(text) => one_line(text, 80),
        None if input.as_object().is_some_and(serde_json::Map::is_empty) => String::new(),
        None => one_line(&input.to_string(), 80),
    }
}

/// An id made safe for an HTML `id` and a CSS selector (htmx finds out-of-band targets by id).
pub(crate) fn dom_id(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(shown: Shown, expect: Expect) {
        expect.assert_eq(&format!("{:?} {:?}", shown.text, shown.cut));
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary_and_say_how_long_they_were() {
        check(Shown::within("short", 8), expect![[r#""short" None"#]]);
        check(Shown::within("exactly8", 8), expect![[r#""exactly8" None"#]]);
        check(
            Shown::within("ééééé", 5),
            expect![[r#""éé" Some("truncated, 10 bytes")"#]],
        );
        check(
            Shown::new(&"x".repeat(123_456))
                .cut
                .map_or(Shown::new(""), |c| Shown::new(&c)),
            expect![[r#""truncated, 123,456 bytes" None"#]],
        );
    }

    #[test]
    fn summaries_pick_the_telling_field_on_one_line() {
        let cases = [
            json!({"command": "cargo test\n  -p parser", "description": "Run"}),
            json!({"file_path": "src/parser.rs"}),
            json!({"x": 1, "y": [2]}),
            json!({}),
            json!({"command": "a".repeat(100)}),
        ];
        let got: Vec<String> = cases.iter().map(tool_summary).collect();
        expect![[r#"
            [
                "cargo test -p parser",
                "src/parser.rs",
                "{\"x\":1,\"y\":[2]}",
                "",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…",
            ]
        "#]]
        .assert_debug_eq(&got);
    }

    #[test]
    fn numbers_get_thousands_separators_and_ids_only_safe_characters() {
        let got: Vec<String> = [0, 999, 1000, 123_456, 1_234_567]
            .into_iter()
            .map(thousands)
            .collect();
        expect![[r#"["0", "999", "1,000", "123,456", "1,234,567"]"#]].assert_eq(&format!("{got:?}"));
        expect!["toolu_01_x_script_"].assert_eq(&dom_id("toolu_01 x<script>"));
    }
}
