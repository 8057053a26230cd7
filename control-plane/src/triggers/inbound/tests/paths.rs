use expect_test::{Expect, expect};

use super::super::attachment::paths;

#[track_caller]
fn check(names: &[&str], expect: Expect) {
    expect.assert_eq(&paths(names).join("\n"));
}

#[test]
fn attachment_names_become_safe_unique_paths() {
    check(&["../../etc/passwd"], expect!["attachments/passwd"]);
    check(&["a/b\\c.txt"], expect!["attachments/c.txt"]);
    check(&[".bashrc"], expect!["attachments/bashrc"]);
    check(
        &["..", "", "/", "\0\u{7}"],
        expect![[r#"
        attachments/attachment-1
        attachments/attachment-2
        attachments/attachment-3
        attachments/attachment-4"#]],
    );
    check(&["re\0port\n.pdf"], expect!["attachments/report.pdf"]);
    check(
        &["🦀 crab notes 📎.md"],
        expect!["attachments/🦀 crab notes 📎.md"],
    );
    check(
        &["report.pdf", "report.pdf", "report.pdf", "README", "README"],
        expect![[r#"
        attachments/report.pdf
        attachments/report-2.pdf
        attachments/report-3.pdf
        attachments/README
        attachments/README-2"#]],
    );
    check(
        &["a-2.pdf", "a.pdf", "a.pdf"],
        expect![[r#"
        attachments/a-2.pdf
        attachments/a.pdf
        attachments/a-3.pdf"#]],
    );
}

#[test]
fn a_long_name_is_cut_to_100_bytes_on_a_char_boundary() {
    let ascii = "x".repeat(300);
    let emoji = format!("a{}", "é".repeat(150));
    for name in [ascii.as_str(), emoji.as_str()] {
        let path = &paths(&[name])[0];
        let kept = path
            .strip_prefix("attachments/")
            .expect("every path is under attachments/");
        assert!(kept.len() <= 100 && kept.len() >= 99, "{} bytes kept", kept.len());
        assert!(name.starts_with(kept));
    }
}
