//! Triggers' `prompt` and `conversation` templates (DESIGN §10): minijinja, sandboxed, because the
//! template is the user's and the context is whatever a stranger posted.
//!
//! - `UndefinedBehavior::Strict`: a field the event does not have is an error naming it, never an empty
//!   string that silently becomes a prompt (`| default(…)` is how a template says a field is optional).
//! - Fuel: a render runs at most [`FUEL`] instructions (minijinja also charges the data built with
//!   it), so a loop over a huge range, or one over a huge body, ends with an error instead of holding a
//!   request thread.
//! - No loader: `include`/`extends`/`import` find nothing. No auto-escape: prompts are text, not HTML.
//! - Bounded: a template is at most [`MAX_SOURCE`] bytes, its output at most [`MAX_OUTPUT`].

use std::fmt;
use std::io;

use minijinja::value::{Kwargs, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

/// Instructions (and data, ~64 bytes a unit) a render may use.
pub const FUEL: u64 = 100_000;
/// Longest template source, in bytes.
pub const MAX_SOURCE: usize = 64 * 1024;
/// Longest rendered text, in bytes.
pub const MAX_OUTPUT: usize = 256 * 1024;

/// A template that does not compile or does not render. Safe to answer: it quotes the template and
/// names the field, never a value of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based line of the template, where the error has one.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Compiles `source` without rendering it: what a PUT checks.
pub fn check(source: &str) -> Result<(), TemplateError> {
    sized(source)?;
    let env = environment();
    env.template_from_str(source).map(|_| ()).map_err(error)
}

/// Renders `source` over `context` (the normalised event).
pub fn render(source: &str, context: &serde_json::Value) -> Result<String, TemplateError> {
    sized(source)?;
    let env = environment();
    let template = env.template_from_str(source).map_err(error)?;
    let mut out = Capped::default();
    match template.render_captured_to(Value::from(minijinja::value::Serde(context)), &mut out) {
        Ok(_) => {}
        Err(_) if out.overflowed => {
            return Err(TemplateError {
                line: None,
                message: format!("the rendered text is longer than {} KiB", MAX_OUTPUT / 1024),
            });
        }
        Err(e) => return Err(error(e)),
    }
    String::from_utf8(out.bytes).map_err(|_| TemplateError {
        line: None,
        message: "the rendered text is not UTF-8".to_owned(),
    })
}

fn sized(source: &str) -> Result<(), TemplateError> {
    if source.len() > MAX_SOURCE {
        return Err(TemplateError {
            line: None,
            message: format!("the template is longer than {} KiB", MAX_SOURCE / 1024),
        });
    }
    Ok(())
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Tracks where an undefined value came from, so the error names the field (`email.cc`).
    env.set_debug(true);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("truncate", truncate);
    env
}

/// Jinja's `truncate(length=255, end="...")`, cutting at a character (not a word): the builtins lack it,
/// and prompts built from long bodies want it.
fn truncate(value: &str, length: Option<usize>, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let length = match length {
        Some(length) => length,
        None => kwargs.get::<Option<usize>>("length")?.unwrap_or(255),
    };
    let end = kwargs.get::<Option<&str>>("end")?.unwrap_or("...");
    kwargs.assert_all_used()?;
    if value.chars().count() <= length {
        return Ok(value.to_owned());
    }
    let keep = length.saturating_sub(end.chars().count());
    let mut out: String = value.chars().take(keep).collect();
    out.push_str(end);
    Ok(out)
}

fn error(e: minijinja::Error) -> TemplateError {
    let what = match e.kind() {
        ErrorKind::OutOfFuel => format!(
            "the template ran out of fuel (more than {FUEL} steps): loop over less, or truncate the input"
        ),
        kind => match e.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    TemplateError {
        line: e.line(),
        message: what,
    }
}

/// The output buffer: refuses to grow past [`MAX_OUTPUT`], which stops the render.
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.overflowed = true;
            return Err(io::Error::other("output too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check_render(source: &str, expect: Expect) {
        let context = json!({
            "email": {"from": "ada@example.com", "subject": "Invoice 42", "text": "Please pay invoice 42 by Friday."},
            "sms": {"from": "+15550001111", "body": "hi"},
            "tags": ["urgent", "billing"],
        });
        let got = match render(source, &context) {
            Ok(text) => format!("ok: {text}"),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn templates_render_fields_and_refuse_what_is_missing_or_unbounded() {
        check_render(
            "From {{ email.from }}: {{ email.subject }}",
            expect![[r#"ok: From ada@example.com: Invoice 42"#]],
        );
        check_render(
            "line one\nline two\n{{ email.cc }}",
            expect!["error: line 3: undefined value: `email.cc` is undefined"],
        );
        check_render(
            "{{ missing }}",
            expect!["error: line 1: undefined value: `missing` is undefined"],
        );
        check_render("{{ email.cc | default('nobody') }}", expect!["ok: nobody"]);
        check_render("{{ email.text | truncate(12) }}", expect!["ok: Please pa..."]);
        check_render(
            "{{ email.text | truncate(12, end='…') }}",
            expect!["ok: Please pay …"],
        );
        check_render("{{ email.subject | truncate }}", expect!["ok: Invoice 42"]);
        check_render("{{ email.text | truncate(length=9) }}", expect!["ok: Please..."]);
        check_render(
            "{{ email.text | truncate(9, killwords=true) }}",
            expect!["error: line 1: too many arguments: unknown keyword argument 'killwords'"],
        );
        check_render("{{ tags | join(', ') }}", expect!["ok: urgent, billing"]);
        check_render(
            "{{ sms | tojson }}",
            expect![[r#"ok: {"body": "hi", "from": "+15550001111"}"#]],
        );
        check_render(
            "<b>{{ '<i>' }}</b> & {{ email.from }}",
            expect!["ok: <b><i></b> & ada@example.com"],
        );
        check_render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            expect![
                "error: line 1: the template ran out of fuel (more than 100000 steps): loop over less, or truncate the input"
            ],
        );
        check_render(
            "{% for i in range(10000) %}{{ email.text }}{% endfor %}",
            expect!["error: the rendered text is longer than 256 KiB"],
        );
        check_render(
            "{% include 'other' %}",
            expect!["error: line 1: syntax error: unknown statement include"],
        );
    }

    #[track_caller]
    fn check_compile(source: &str, expect: Expect) {
        let got = match check(source) {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn a_template_that_does_not_compile_says_on_which_line() {
        check_compile("Hello {{ email.from }}", expect!["ok"]);
        check_compile(
            "one\ntwo\n{{ email.from }",
            expect!["error: line 3: syntax error: unexpected `}`, expected end of variable block"],
        );
        check_compile(
            "one\n{% if x %}\nthree",
            expect!["error: line 2: syntax error: unexpected end of input, expected end of block"],
        );
        check_compile("{{ x | no_such_filter }}", expect!["ok"]);
        check_compile(
            &"x".repeat(MAX_SOURCE + 1),
            expect!["error: the template is longer than 64 KiB"],
        );
    }

    #[test]
    fn a_missing_field_is_named_with_its_line() {
        let e = render("a\nb\n{{ email.cc }}", &json!({"email": {}})).expect_err("strict");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("email.cc"), "{e}");
    }
}
