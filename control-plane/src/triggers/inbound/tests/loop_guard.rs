use expect_test::{Expect, expect};

use super::super::loop_guard::auto_submitted;

#[track_caller]
fn check(headers: &[(&str, &str)], return_path: Option<&str>, from: &str, expect: Expect) {
    let headers = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    expect.assert_eq(&auto_submitted(&headers, return_path, from).to_string());
}

#[test]
fn the_loop_guard_spots_mail_a_machine_sent() {
    let person = "alice@example.com";
    check(&[], Some("alice@example.com"), person, expect!["false"]);
    check(&[("Auto-Submitted", "no")], None, person, expect!["false"]);
    check(
        &[("auto-submitted", "No (a person wrote this)")],
        None,
        person,
        expect!["false"],
    );
    check(
        &[("Auto-Submitted", "auto-replied")],
        None,
        person,
        expect!["true"],
    );
    check(
        &[("AUTO-SUBMITTED", "Auto-Generated; owner-email=\"x@y\"")],
        None,
        person,
        expect!["true"],
    );
    check(&[("Precedence", "bulk")], None, person, expect!["true"]);
    check(&[("Precedence", "JUNK")], None, person, expect!["true"]);
    check(&[("Precedence", "list")], None, person, expect!["true"]);
    check(&[("Precedence", "first-class")], None, person, expect!["false"]);
    check(
        &[("List-Id", "<dev.lists.example.com>")],
        None,
        person,
        expect!["true"],
    );
    check(&[], Some("<>"), person, expect!["true"]);
    check(&[], Some(""), person, expect!["true"]);
    check(&[("Return-Path", "<>")], None, person, expect!["true"]);
    check(
        &[("Return-Path", "<>")],
        Some("alice@example.com"),
        person,
        expect!["false"],
    );
    check(&[], Some("MAILER-DAEMON@mx.example.com"), person, expect!["true"]);
    check(&[], None, "postmaster@example.com", expect!["true"]);
    check(
        &[("Return-Path", "<MAILER-DAEMON>")],
        None,
        person,
        expect!["true"],
    );
    check(&[], None, "daemon-fan@example.com", expect!["false"]);
}
