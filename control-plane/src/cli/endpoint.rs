//! The URLs agentctl talks to (`--url`, `--runtime`), checked before any request: a URL without a scheme would
//! otherwise reach reqwest as a relative URL and fail with its words ("relative URL without a base", "URL
//! scheme is not allowed") as a runtime error instead of a usage error.

/// `text` as the base of a server's URL (no trailing `/`), or what is wrong with it, naming `flag`.
pub(crate) fn base(flag: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if !text.contains("://") {
        return Err(format!(
            "{flag} {text} has no scheme: did you mean http://{text}?"
        ));
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("{flag} {text}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{flag} {text}: the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{flag} {text}: no host"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(text: &str, expect: Expect) {
        let shown = match base("--url", text) {
            Ok(base) => format!("ok {base}"),
            Err(e) => format!("error {e}"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn a_url_needs_an_http_scheme_and_a_host_and_a_missing_scheme_gets_a_hint() {
        check("http://127.0.0.1:3000", expect!["ok http://127.0.0.1:3000"]);
        check("https://cp.example.com/", expect!["ok https://cp.example.com"]);
        check(" http://localhost:3000// ", expect!["ok http://localhost:3000"]);
        check(
            "localhost:3000",
            expect!["error --url localhost:3000 has no scheme: did you mean http://localhost:3000?"],
        );
        check(
            "127.0.0.1:3000",
            expect!["error --url 127.0.0.1:3000 has no scheme: did you mean http://127.0.0.1:3000?"],
        );
        check(
            "ftp://example.com",
            expect!["error --url ftp://example.com: the scheme must be http or https"],
        );
        check("http://", expect!["error --url http://: empty host"]);
        check(
            "http://exa mple.com",
            expect!["error --url http://exa mple.com: invalid international domain name"],
        );
    }
}
