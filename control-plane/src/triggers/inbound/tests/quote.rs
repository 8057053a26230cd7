use expect_test::{Expect, expect};

use super::super::quote::strip_quoted;

#[track_caller]
fn check(text: &str, expect: Expect) {
    expect.assert_eq(&strip_quoted(text));
}

#[test]
fn quoted_text_and_its_attribution_are_stripped() {
    check("Thanks, that works.", expect!["Thanks, that works."]);
    check(
        "Thanks.\n\nOn Mon, 30 Nov 2026, Bob <bob@x> wrote:\n> Try this.\n> Bye\n",
        expect!["Thanks."],
    );
    check(
        "Yes.\n\nOn Tue, Dec 1, 2026 at 10:01 AM Carol <carol@x>\nwrote:\n\n> Quoted\n>\n",
        expect!["Yes."],
    );
    check(
        "> first question\nanswer one\n> second question\nanswer two",
        expect![[r#"
        answer one
        answer two"#]],
    );
    check(
        "On Monday we ship.\nSee you.",
        expect![[r#"
        On Monday we ship.
        See you."#]],
    );
    check("   > indented quote\nkept", expect!["kept"]);
}
