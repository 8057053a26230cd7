//! The credentials of an `Authorization` header, read alike by the supervisor and the control plane.

/// The token of an `Authorization: Bearer <token>` header value, `None` for any other scheme or an empty
/// token. The scheme is case-insensitive (RFC 9110 §11.1: `bearer` and `BEARER` are `Bearer`), and the
/// spaces around the token are not part of it.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start_matches([' ', '\t']).split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(token.trim_matches([' ', '\t'])).filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(value: &str, expect: Expect) {
        expect.assert_eq(&format!("{:?}", bearer_token(value)));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_the_token_without_its_spaces() {
        check("Bearer tok-123", expect![[r#"Some("tok-123")"#]]);
        check("bearer tok-123", expect![[r#"Some("tok-123")"#]]);
        check("BEARER tok-123", expect![[r#"Some("tok-123")"#]]);
        check("bEaReR tok-123", expect![[r#"Some("tok-123")"#]]);
        check("Bearer   tok-123 ", expect![[r#"Some("tok-123")"#]]);
        check("Bearer tok-123\t", expect![[r#"Some("tok-123")"#]]);
        check("Bearer", expect!["None"]);
        check("Bearer ", expect!["None"]);
        check("Bearer    ", expect!["None"]);
        check("Basic dXNlcjpwYXNz", expect!["None"]);
        check("Bearertok-123", expect!["None"]);
        check("Bearer- tok-123", expect!["None"]);
        check("tok-123", expect!["None"]);
        check("", expect!["None"]);
    }
}
