//! Database connections (issue 15 part 2): an agent definition's `databases`, and what a job carries of them
//! to the runner, which serves each as an in-process MCP server `mcp__<name>__…` (agent-runner/databases.mjs).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::SecretField;

/// Shortest password redacted on its own; a shorter one would blank common words out of every event.
pub const MIN_REDACTED_PASSWORD: usize = 8;

fn read_only_default() -> bool {
    true
}

/// One database of an agent definition. `url` is a write-only secret, stored sealed with the agent's
/// `secrets`: a value in a body (or `{"set": true}` to keep the stored one), `{"set": true, "updatedAt"}` in
/// answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentDatabase {
    pub name: String,
    pub url: SecretField,
    #[serde(default = "read_only_default")]
    pub read_only: bool,
}

/// One database of a job (`POST /execute`, a claimed job, the runner's job spec), its URL in clear.
/// `Debug` never shows the URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseSpec {
    pub name: String,
    pub url: String,
    #[serde(default = "read_only_default")]
    pub read_only: bool,
}

impl fmt::Debug for DatabaseSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSpec")
            .field("name", &self.name)
            .field("url", &"[redacted]")
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl DatabaseSpec {
    /// What must never show in an event: the URL, and its password (as written and percent-decoded; in the
    /// user info or libpq's `password=` parameter) when it has at least [`MIN_REDACTED_PASSWORD`] characters.
    pub fn redactions(&self) -> Vec<String> {
        let mut out = vec![self.url.clone()];
        let Ok(url) = url::Url::parse(&self.url) else {
            return out;
        };
        let mut forms = Vec::new();
        if let Some(password) = url.password() {
            forms.extend([password.to_owned(), percent_decode(password)]);
        }
        let params = url.query_pairs().filter(|(k, _)| k == "password");
        forms.extend(params.map(|(_, v)| v.into_owned()));
        for form in forms {
            if form.chars().count() >= MIN_REDACTED_PASSWORD && !out.contains(&form) {
                out.push(form);
            }
        }
        out
    }
}

/// `%XX` decoded (as libpq and node-postgres read a URL's user info); invalid escapes stay as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> DatabaseSpec {
        DatabaseSpec {
            name: "crm".into(),
            url: url.into(),
            read_only: true,
        }
    }

    #[test]
    fn the_url_and_a_long_password_in_both_forms_are_redacted() {
        for (url, expected) in [
            ("postgres://u:short@h/db", vec!["postgres://u:short@h/db"]),
            (
                "postgres://u:long-pass%40word@h/db",
                vec![
                    "postgres://u:long-pass%40word@h/db",
                    "long-pass%40word",
                    "long-pass@word",
                ],
            ),
            (
                "postgresql://u:longpassword@h:5432/db",
                vec!["postgresql://u:longpassword@h:5432/db", "longpassword"],
            ),
            ("postgres://h/db", vec!["postgres://h/db"]),
            (
                "postgres://h/db?sslmode=require&password=query-pass%21",
                vec![
                    "postgres://h/db?sslmode=require&password=query-pass%21",
                    "query-pass!",
                ],
            ),
            (
                "postgres://u:a%zzbcdefgh@h/db",
                vec!["postgres://u:a%zzbcdefgh@h/db", "a%zzbcdefgh"],
            ),
        ] {
            assert_eq!(spec(url).redactions(), expected, "{url}");
        }
    }

    #[test]
    fn databases_read_with_read_only_by_default_and_an_agent_answers_a_url_as_a_state() {
        let request: crate::ExecuteRequest = serde_json::from_str(
            r#"{"agentId": "a", "prompt": "p", "databases": [{"name": "crm", "url": "postgres://h/db"},
            {"name": "w", "url": "postgres://h/w", "readOnly": false}]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&request.databases).unwrap(),
            r#"[{"name":"crm","url":"postgres://h/db","readOnly":true},{"name":"w","url":"postgres://h/w","readOnly":false}]"#
        );
        let agent: crate::Agent = serde_json::from_str(
            r#"{"databases": [{"name": "crm", "url": {"set": true, "updatedAt": "t"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&agent).unwrap()["databases"].to_string(),
            r#"[{"name":"crm","readOnly":true,"url":{"set":true,"updatedAt":"t"}}]"#
        );
        let refused = serde_json::from_str::<crate::Agent>(
            r#"{"databases": [{"name": "a", "url": "x", "readonly": true}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("unknown field `readonly`"), "{refused}");
        // Without databases, a request and an agent serialise as before the field existed.
        let plain: crate::ExecuteRequest =
            serde_json::from_str(r#"{"agentId": "a", "prompt": "p"}"#).unwrap();
        assert!(!serde_json::to_string(&plain).unwrap().contains("databases"));
    }

    #[test]
    fn debug_hides_the_url() {
        let shown = format!("{:?}", spec("postgres://u:longpassword@h/db"));
        assert!(!shown.contains("longpassword"), "{shown}");
        assert!(shown.contains("crm"), "{shown}");
    }
}
