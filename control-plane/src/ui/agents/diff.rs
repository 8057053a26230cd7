//! A line diff of two versions of a definition, as pretty JSON (`/agents/{id}/diff`). Pure, table-tested.

use similar::{ChangeTag, TextDiff};

/// One line of the diff as shown: `kind` is `add`, `del` or `same` (a CSS class, and the `+`/`-` mark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: &'static str,
    pub mark: &'static str,
    pub text: String,
}

pub fn lines(from: &str, to: &str) -> Vec<Line> {
    TextDiff::from_lines(from, to)
        .iter_all_changes()
        .map(|change| {
            let (kind, mark) = match change.tag() {
                ChangeTag::Insert => ("add", "+"),
                ChangeTag::Delete => ("del", "-"),
                ChangeTag::Equal => ("same", " "),
            };
            Line {
                kind,
                mark,
                text: change.value().trim_end_matches('\n').to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(from: &str, to: &str, expect: Expect) {
        let shown: String = lines(from, to)
            .iter()
            .map(|l| format!("{}|{} [{}]\n", l.mark.replace(' ', "="), l.text, l.kind))
            .collect();
        expect.assert_eq(&shown);
    }

    #[test]
    fn changed_lines_are_marked_removed_then_added_and_the_rest_kept() {
        check(
            "{\n  \"maxTurns\": 3,\n  \"model\": \"a\"\n}",
            "{\n  \"maxTurns\": 5,\n  \"model\": \"a\"\n}",
            expect![[r#"
                =|{ [same]
                -|  "maxTurns": 3, [del]
                +|  "maxTurns": 5, [add]
                =|  "model": "a" [same]
                =|} [same]
            "#]],
        );
        check(
            "a\n",
            "a\n",
            expect![[r#"
            =|a [same]
        "#]],
        );
        check(
            "",
            "x\n",
            expect![[r#"
            +|x [add]
        "#]],
        );
    }
}
