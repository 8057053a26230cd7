//! The `databases` of a request or an agent definition (issue 15 part 2): names like an MCP server's, unique
//! and clear of `mcpServers`; URLs that parse as PostgreSQL's. A message never quotes a URL: it is a secret.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{RequestError, invalid};

/// Most databases one agent may have.
pub const MAX_DATABASES: usize = 16;
/// Longest database name, as for a skill.
pub const MAX_DATABASE_NAME: usize = 64;
/// Longest URL, in bytes.
pub const MAX_DATABASE_URL: usize = 4096;

/// Checks `databases`, each a name and its URL (`None`: a stored URL kept, `{"set": true}`), against the
/// `mcpServers` of the same request.
pub fn check_databases<'a>(
    databases: &[(&'a str, Option<&'a str>)],
    mcp_servers: Option<&BTreeMap<String, Value>>,
) -> Result<(), RequestError> {
    if databases.len() > MAX_DATABASES {
        return Err(invalid(
            "databases",
            format!("at most {MAX_DATABASES} databases (got {})", databases.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, (name, url)) in databases.iter().enumerate() {
        let at = |field: &str| format!("databases[{i}].{field}");
        let well_formed = !name.is_empty()
            && name.len() <= MAX_DATABASE_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(invalid(
                at("name"),
                format!("{name:?} must match [a-z0-9_-]{{1,{MAX_DATABASE_NAME}}}"),
            ));
        }
        if !seen.insert(*name) {
            return Err(invalid(at("name"), format!("{name:?} is given twice")));
        }
        if mcp_servers.is_some_and(|servers| servers.contains_key(*name)) {
            return Err(invalid(
                at("name"),
                format!(
                    "{name:?} is an mcpServers key too: a database is served as the MCP server of its name"
                ),
            ));
        }
        if let Some(url) = url {
            check_database_url(url).map_err(|message| invalid(at("url"), message))?;
        }
    }
    Ok(())
}

/// Why `url` is not a PostgreSQL URL the runner can connect to, without quoting it.
pub fn check_database_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_DATABASE_URL {
        return Err(format!("is longer than {MAX_DATABASE_URL} bytes"));
    }
    if url.chars().any(char::is_control) {
        return Err("holds control characters".into());
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("does not parse as a postgres:// or postgresql:// URL ({e})"))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "must be a postgres:// or postgresql:// URL (the scheme is {:?})",
            parsed.scheme()
        ));
    }
    if !parsed.has_authority() {
        return Err("must be a postgres:// or postgresql:// URL (no `//` after the scheme)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(databases: &[(&str, Option<&str>)], expected: Expect) {
        let servers: BTreeMap<String, Value> = [("files".to_owned(), json!({}))].into();
        let got = match check_databases(databases, Some(&servers)) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        expected.assert_eq(&got);
    }

    #[test]
    fn databases_are_refused_naming_the_field_and_never_quoting_the_url() {
        check(&[("crm", Some("postgres://u:pw@h/db"))], expect!["ok"]);
        check(
            &[
                ("crm", Some("postgresql://h:5432/db?sslmode=require")),
                ("b_2", None),
            ],
            expect!["ok"],
        );
        check(
            &[("CRM", None)],
            expect![[r#"databases[0].name: "CRM" must match [a-z0-9_-]{1,64}"#]],
        );
        check(
            &[("", None)],
            expect![[r#"databases[0].name: "" must match [a-z0-9_-]{1,64}"#]],
        );
        check(
            &[("a", None), ("a", None)],
            expect![[r#"databases[1].name: "a" is given twice"#]],
        );
        check(
            &[("files", None)],
            expect![[
                r#"databases[0].name: "files" is an mcpServers key too: a database is served as the MCP server of its name"#
            ]],
        );
        check(
            &[("crm", Some("not a url pw-SECRET"))],
            expect![
                "databases[0].url: does not parse as a postgres:// or postgresql:// URL (relative URL without a base)"
            ],
        );
        check(
            &[("crm", Some("mysql://u:pw-SECRET@h/db"))],
            expect![[
                r#"databases[0].url: must be a postgres:// or postgresql:// URL (the scheme is "mysql")"#
            ]],
        );
        check(
            &[("crm", Some("postgres:pw-SECRET"))],
            expect![
                "databases[0].url: must be a postgres:// or postgresql:// URL (no `//` after the scheme)"
            ],
        );
        check(
            &[("crm", Some("postgres://u:pw-SECRET@[::1/db"))],
            expect![
                "databases[0].url: does not parse as a postgres:// or postgresql:// URL (invalid IPv6 address)"
            ],
        );
        check(
            &[("crm", Some("postgres://h/db\npw-SECRET"))],
            expect!["databases[0].url: holds control characters"],
        );
        let many: Vec<(&str, Option<&str>)> = (0..17).map(|_| ("a", None)).collect();
        check(&many, expect!["databases: at most 16 databases (got 17)"]);
    }
}
