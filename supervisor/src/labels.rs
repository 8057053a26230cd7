//! This runtime's labels (`--label k=v`, DESIGN.md §9): what a claimed job's `runtimeSelector` is matched
//! against, sent with every claim and heartbeat.
//!
//! The rule is strict on purpose: a label is matched byte for byte by the control plane, so a stray space
//! or a typo such as `pool:gpu` would make a runtime silently claim nothing.

use std::collections::BTreeMap;

/// Longest key or value.
const MAX_LEN: usize = 63;

/// Parses one `KEY=VALUE`: the key `[A-Za-z0-9][A-Za-z0-9._/-]*`, the value `[A-Za-z0-9._-]+`, each at
/// most 63 characters.
pub(crate) fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("label {text:?}: expected KEY=VALUE"))?;
    let key_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/');
    let value_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if key.is_empty() || key.len() > MAX_LEN {
        return Err(format!(
            "label {text:?}: the key must be 1 to {MAX_LEN} characters"
        ));
    }
    if !key.starts_with(|c: char| c.is_ascii_alphanumeric()) || !key.chars().all(key_chars) {
        return Err(format!(
            "label {text:?}: the key must start with a letter or digit and hold only letters, digits, `.`, `_`, `-` and `/`"
        ));
    }
    if value.is_empty() || value.len() > MAX_LEN {
        return Err(format!(
            "label {text:?}: the value must be 1 to {MAX_LEN} characters"
        ));
    }
    if !value.chars().all(value_chars) {
        return Err(format!(
            "label {text:?}: the value may hold only letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// The labels as a map; a key given twice is refused (which of the two would a selector see?).
pub(crate) fn collect(labels: &[(String, String)]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (key, value) in labels {
        if let Some(earlier) = map.insert(key.clone(), value.clone()) {
            return Err(format!(
                "--label {key}: given twice ({key}={earlier} and {key}={value})"
            ));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(labels: &[&str], expect: Expect) {
        let parsed: Result<Vec<_>, String> = labels.iter().map(|l| parse_label(l)).collect();
        let actual = match parsed.and_then(|p| collect(&p)) {
            Ok(map) => format!("{map:?}"),
            Err(err) => err,
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn labels_parse_into_a_map_and_bad_ones_say_what_is_wrong() {
        check(&[], expect![[r#"{}"#]]);
        check(
            &["pool=gpu", "zone=eu-1", "team.io/owner=agents_1"],
            expect![[r#"{"pool": "gpu", "team.io/owner": "agents_1", "zone": "eu-1"}"#]],
        );
        check(&["pool"], expect![[r#"label "pool": expected KEY=VALUE"#]]);
        check(
            &["=gpu"],
            expect![[r#"label "=gpu": the key must be 1 to 63 characters"#]],
        );
        check(
            &["pool="],
            expect![[r#"label "pool=": the value must be 1 to 63 characters"#]],
        );
        check(
            &["pool=g=pu"],
            expect![[r#"label "pool=g=pu": the value may hold only letters, digits, `.`, `_` and `-`"#]],
        );
        check(
            &[" pool=gpu"],
            expect![[
                r#"label " pool=gpu": the key must start with a letter or digit and hold only letters, digits, `.`, `_`, `-` and `/`"#
            ]],
        );
        check(
            &["pool=gpu "],
            expect![[r#"label "pool=gpu ": the value may hold only letters, digits, `.`, `_` and `-`"#]],
        );
        check(
            &[&format!("{}=x", "k".repeat(64))],
            expect![[
                r#"label "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=x": the key must be 1 to 63 characters"#
            ]],
        );
        check(
            &["pool=gpu", "pool=cpu"],
            expect![[r#"--label pool: given twice (pool=gpu and pool=cpu)"#]],
        );
    }
}
