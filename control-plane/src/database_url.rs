//! A database URL is a secret when it carries a password (in its userinfo, or as libpq's `password=` query
//! parameter): whether it does, and the URL with it hidden for messages, decided in one place.

use url::Url;

const HIDDEN: &str = "REDACTED";

/// Whether `url` carries a password.
pub fn has_password(url: &str) -> bool {
    match Url::parse(url) {
        Ok(u) => u.password().is_some() || u.query_pairs().any(|(k, _)| k == "password"),
        // Where a password would be cannot be told: assume there is one where userinfo could be.
        Err(_) => url.contains('@'),
    }
}

/// `url` with its password replaced by `REDACTED`; a URL that does not parse is shown as its scheme only,
/// since where its password would be cannot be told.
pub fn redacted(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{HIDDEN}"),
            None => HIDDEN.to_owned(),
        };
    };
    if parsed.password().is_some() {
        // Only a URL that cannot have a password refuses one, and this one has a password.
        let _ = parsed.set_password(Some(HIDDEN));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    HIDDEN.into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::{has_password, redacted};

    #[track_caller]
    fn check(url: &str, expect: Expect) {
        expect.assert_eq(&format!("{} {}", has_password(url), redacted(url)));
    }

    #[test]
    fn a_password_is_found_in_the_userinfo_or_the_query_and_hidden() {
        check(
            "postgres://agentctl:secret@db:5432/agentctl",
            expect!["true postgres://agentctl:REDACTED@db:5432/agentctl"],
        );
        check(
            "postgresql://u:p@db/x?sslmode=require",
            expect!["true postgresql://u:REDACTED@db/x?sslmode=require"],
        );
        check(
            "postgres://agentctl@db:5432/agentctl",
            expect!["false postgres://agentctl@db:5432/agentctl"],
        );
        check(
            "postgres://db/x?password=secret&sslmode=require",
            expect!["true postgres://db/x?password=REDACTED&sslmode=require"],
        );
        check(
            "postgres://db/x?note=a:b@c",
            expect!["false postgres://db/x?note=a:b@c"],
        );
        check("sqlite://agentctl.db", expect!["false sqlite://agentctl.db"]);
        check(
            "sqlite:///var/lib/a:b@c.db",
            expect!["false sqlite:///var/lib/a:b@c.db"],
        );
        check("postgres://u:p@[bad", expect!["true postgres://REDACTED"]);
        check("no scheme", expect!["false REDACTED"]);
    }
}
