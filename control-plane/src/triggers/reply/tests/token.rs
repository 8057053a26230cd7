use super::super::token::{base32, key, mint};
use super::*;

const KEY: [u8; 32] = [3; 32];

#[track_caller]
fn check_base32(bytes: &[u8], expect: Expect) {
    expect.assert_eq(&base32(bytes));
}

#[test]
fn base32_is_rfc_4648_s_in_lower_case_without_padding() {
    // RFC 4648 §10's test vectors.
    check_base32(b"", expect![""]);
    check_base32(b"f", expect!["my"]);
    check_base32(b"fo", expect!["mzxq"]);
    check_base32(b"foo", expect!["mzxw6"]);
    check_base32(b"foob", expect!["mzxw6yq"]);
    check_base32(b"fooba", expect!["mzxw6ytb"]);
    check_base32(b"foobar", expect!["mzxw6ytboi"]);
    check_base32(&[0xff; 5], expect!["77777777"]);
}

#[test]
fn a_reply_token_is_24_base32_characters_fixed_per_trigger_conversation_and_key() {
    let token = mint(&KEY, "support-mail", "s-42_a");
    expect!["ii3jcevpftacsm4x2rzgm4f5"].assert_eq(&token);
    assert_eq!(token.len(), 24);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)),
        "{token}"
    );
    assert_eq!(mint(&KEY, "support-mail", "s-42_a"), token, "deterministic");
    assert_ne!(mint(&KEY, "other-trigger", "s-42_a"), token);
    assert_ne!(mint(&KEY, "support-mail", "s-43_a"), token);
    assert_ne!(
        mint(&[4; 32], "support-mail", "s-42_a"),
        token,
        "another server's key"
    );
    // The separator keeps the two ids apart: `ab` + `c` is not `a` + `bc`.
    assert_ne!(mint(&KEY, "ab", "c"), mint(&KEY, "a", "bc"));
    expect!["token:abc"].assert_eq(&key("abc"));
    // RFC 5321's 64 octets leave a `reply.from` local part of up to 39 characters room for `+<token>`.
    assert_eq!(format!("{}+{token}", "a".repeat(39)).len(), 64);
}
