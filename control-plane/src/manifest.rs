//! A definition file (`agents apply -f`, `triggers apply -f`, the UI's trigger form), YAML or JSON, read
//! into the JSON value the API takes.
//!
//! The value goes to the server as it is: the server's checks name the field that is wrong, so the CLI only
//! reads the file and finds the agent's `id` (the PUT's path). YAML is read with serde-saphyr's budget on
//! (a small file cannot expand into a huge value through aliases) and without its source snippets, so an
//! error never quotes a line of the file, which may hold a secret.

use std::path::Path;

use serde_json::Value;

/// Largest definition file read, in bytes: the server takes 4 MiB of JSON, and YAML of that is longer.
const MAX_FILE: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

/// By extension (`.json`, `.yaml`, `.yml`), else by content: a document that starts with `{` is JSON.
pub(crate) fn format_of(path: Option<&Path>, text: &str) -> Format {
    match path.and_then(Path::extension).and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
        Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => Format::Yaml,
        _ if text.trim_start().starts_with('{') => Format::Json,
        _ => Format::Yaml,
    }
}

/// The definition in `text`; an error names the line and column.
pub(crate) fn parse(text: &str, format: Format) -> Result<Value, String> {
    if text.len() > MAX_FILE {
        return Err(format!("is larger than {MAX_FILE} bytes"));
    }
    let value: Value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?,
        Format::Yaml => {
            let options = serde_saphyr::options! {
                budget: serde_saphyr::budget! {
                    max_documents: 1,
                    max_aliases: 1_000,
                    max_anchors: 1_000,
                    max_depth: 64,
                    max_total_scalar_bytes: MAX_FILE,
                },
                // YAML 1.2: `on`, `yes` and `no` stay strings, as in JSON.
                strict_booleans: true,
                with_snippet: false,
            };
            serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(&e))?
        }
    };
    if !value.is_object() {
        return Err("is not a mapping of an agent's fields".into());
    }
    Ok(value)
}

fn yaml_error(e: &serde_saphyr::Error) -> String {
    let message = e.to_string();
    match e.location() {
        Some(at) if !message.contains(&format!("line {}", at.line())) => {
            format!(
                "invalid YAML at line {}, column {}: {message}",
                at.line(),
                at.column()
            )
        }
        _ => format!("invalid YAML: {message}"),
    }
}

/// The agent's `id`, which the file must name.
pub(crate) fn agent_id(value: &Value) -> Result<&str, String> {
    match value.get("id") {
        Some(Value::String(id)) => Ok(id),
        Some(_) => Err("id: is not a string".into()),
        None => Err("id: missing (the file names the agent it defines)".into()),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(path: Option<&str>, text: &str, expect: Expect) {
        let format = format_of(path.map(Path::new), text);
        let shown = match parse(text, format) {
            Ok(v) => format!("{format:?} {v}"),
            Err(e) => format!("{format:?} error: {e}"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn a_file_is_json_or_yaml_by_extension_then_by_content_and_errors_name_the_line() {
        check(Some("a.json"), r#"{"id": "a"}"#, expect![[r#"Json {"id":"a"}"#]]);
        check(None, " {\"id\": \"a\"}", expect![[r#"Json {"id":"a"}"#]]);
        check(
            Some("a.yaml"),
            "id: a\nmaxTurns: 5\nenv:\n  FLAG: on\n",
            expect![[r#"Yaml {"env":{"FLAG":"on"},"id":"a","maxTurns":5}"#]],
        );
        check(Some("a.YML"), "{\"id\": \"a\"}", expect![[r#"Yaml {"id":"a"}"#]]);
        check(
            Some("a.json"),
            "{\"id\": \"a\",\n \"x\": }",
            expect!["Json error: invalid JSON: expected value at line 2 column 7"],
        );
        check(
            Some("a.yaml"),
            "id: a\nenv:\n  - x\n  y: [\n",
            expect![
                "Yaml error: invalid YAML: while parsing a block collection, did not find expected '-' indicator at line 4, column 3"
            ],
        );
        check(
            None,
            "id: a\nid: b\n",
            expect![
                "Yaml error: invalid YAML: duplicate mapping key: id, set DuplicateKeyPolicy in Options if acceptable at line 2, column 1"
            ],
        );
        check(
            None,
            "- a\n- b\n",
            expect!["Yaml error: is not a mapping of an agent's fields"],
        );
        // An alias bomb: six levels of ten aliases each would be a million strings.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..6 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        check(
            None,
            &bomb,
            expect![
                "Yaml error: invalid YAML: budget breached: Nodes { nodes: 250001 } at line 1, column 13 (defined at line 5, column 9) (used at line 6, column 15)"
            ],
        );
    }

    #[test]
    fn the_file_names_its_agent() {
        let id = |text: &str| {
            let v = parse(text, Format::Yaml).expect("parses");
            agent_id(&v)
                .map(str::to_owned)
                .unwrap_or_else(|e| format!("error: {e}"))
        };
        expect!["support-bot"].assert_eq(&id("id: support-bot\n"));
        expect!["error: id: is not a string"].assert_eq(&id("id: 7\n"));
        expect!["error: id: missing (the file names the agent it defines)"].assert_eq(&id("model: x\n"));
    }
}
