//! The trigger form's definition text: YAML or JSON, read exactly as `agentctl triggers apply -f` reads a
//! file (the CLI's own reader, so both take the same documents and name a mistake's line), and the stored
//! definition written back as the edit form shows it. Pure, table-tested.

use protocol::Trigger;

/// The CLI's reader of definition files (`cli/manifest.rs`), compiled here too because `cli` keeps it
/// private (`mod manifest`); only `parse` and `format_of` are used. Once `cli` declares it
/// `pub(crate) mod manifest`, this becomes `use crate::cli::manifest;`.
#[path = "../../cli/manifest.rs"]
#[allow(
    dead_code,
    clippy::duplicate_mod,
    reason = "the same reader as the CLI's, not a copy of it; `agent_id` is the CLI's alone"
)]
mod manifest;

/// The trigger in `text`; `id` (the form's field) wins, else the text's `id`. An error names the line
/// (YAML) or the field.
pub fn parse(id: &str, text: &str) -> Result<(String, Trigger), String> {
    let value = manifest::parse(text, manifest::format_of(None, text)).map_err(|e| {
        format!(
            "definition: {}",
            e.replace("an agent's fields", "a trigger's fields")
        )
    })?;
    let id = match (id.trim(), value.get("id").and_then(|v| v.as_str())) {
        ("", Some(given)) => given.to_owned(),
        ("", None) => {
            return Err("id: give the trigger an id (the field, or `id:` in the definition)".into());
        }
        (id, _) => id.to_owned(),
    };
    let trigger: Trigger = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("definition: {}", e.inner())
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    Ok((id, trigger))
}

/// A stored trigger as the edit form shows it: its definition as pretty JSON, write-only values as
/// `{"set": true, …}` (which a put keeps), without the read-only fields.
pub fn shown(answer: &Trigger) -> String {
    let mut trigger = answer.clone();
    trigger.hook_path = None;
    trigger.created_at = None;
    trigger.updated_at = None;
    let mut value = serde_json::to_value(&trigger).expect("a trigger serialises");
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    serde_json::to_string_pretty(&value).expect("a value serialises")
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(id: &str, text: &str, expect: Expect) {
        let got = match parse(id, text) {
            Ok((id, t)) => format!("{id} {} {:?}", t.agent_id, t.verify.scheme),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn the_text_is_yaml_or_json_and_a_mistake_names_its_line_or_field() {
        let yaml =
            "id: inbox\nagentId: bot\nkind: webhook\nverify:\n  scheme: none\nprompt: \"{{ body }}\"\n";
        check("", yaml, expect!["inbox bot None"]);
        check("other", yaml, expect!["other bot None"]);
        check(
            "",
            r#"{"agentId": "bot", "kind": "webhook", "verify": {"scheme": "github"}, "prompt": "x"}"#,
            expect!["error: id: give the trigger an id (the field, or `id:` in the definition)"],
        );
        check(
            "t",
            "agentId: bot\nkind: webhook\nverify:\n  scheme: none\n  x: [\n",
            expect!["error: definition: invalid YAML: unclosed bracket '[' at line 5, column 6"],
        );
        check(
            "t",
            "agentId: bot\nkind: fax\nverify: {scheme: none}\nprompt: x\n",
            expect!["error: kind: unknown variant `fax`, expected one of `webhook`, `email`, `sms`"],
        );
        check(
            "t",
            "- a\n",
            expect!["error: definition: is not a mapping of a trigger's fields"],
        );
    }
}
