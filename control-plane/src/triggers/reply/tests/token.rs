use super::super::token::{in_address, mint, open};
use super::*;

const KEY: [u8; 32] = [3; 32];

#[track_caller]
fn check_open(trigger_id: &str, token: &str, expect: Expect) {
    expect.assert_eq(&format!("{:?}", open(&KEY, trigger_id, token)));
}

#[test]
fn a_reply_token_opens_only_for_its_trigger_and_as_minted() {
    let token = mint(&KEY, "support-mail", "s-42_a");
    expect!["s-42_a.42369112af2cc0293397d4726670bdd5"].assert_eq(&token);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "{token}"
    );
    check_open("support-mail", &token, expect![[r#"Some("s-42_a")"#]]);
    check_open("other-trigger", &token, expect!["None"]);
    assert_eq!(
        open(&[4; 32], "support-mail", &token),
        None,
        "another server's key"
    );
    // A flipped character anywhere: in the tag, in the conversation id.
    let flipped_tag = format!(
        "{}{}",
        &token[..token.len() - 1],
        if token.ends_with('0') { '1' } else { '0' }
    );
    check_open("support-mail", &flipped_tag, expect!["None"]);
    check_open(
        "support-mail",
        &token.replacen("s-42", "s-43", 1),
        expect!["None"],
    );
    check_open("support-mail", &token.to_uppercase(), expect!["None"]);
    check_open("support-mail", &token[..token.len() - 2], expect!["None"]);
    check_open("support-mail", "", expect!["None"]);
    check_open("support-mail", ".", expect!["None"]);
    check_open("support-mail", "s-42_a", expect!["None"]);
    check_open("support-mail", "s-42_a.zz", expect!["None"]);
    check_open(
        "support-mail",
        &format!("s 42.{}", &token[token.len() - 32..]),
        expect!["None"],
    );
    check_open(
        "support-mail",
        &format!(".{}", &token[token.len() - 32..]),
        expect!["None"],
    );
}

#[track_caller]
fn check_in_address(address: &str, expect: Expect) {
    expect.assert_eq(&format!("{:?}", in_address(address)));
}

#[test]
fn the_token_is_found_after_the_last_plus_of_a_reply_address() {
    check_in_address("support+c-1.00ff@example.com", expect![[r#"Some("c-1.00ff")"#]]);
    check_in_address(
        "<support+inbound+c-1.00ff@example.com>",
        expect![[r#"Some("c-1.00ff")"#]],
    );
    check_in_address("support@example.com", expect!["None"]);
    check_in_address("support+@example.com", expect!["None"]);
    check_in_address("support+c-1", expect!["None"]);
}
