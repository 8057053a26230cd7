//! Agent definitions: the list, `agents show`'s describe block, the versions list and `apply`'s one line.
//!
//! Secrets only ever appear here as the answers carry them (`{"set": true}`): a name and when it was set.

use protocol::{Agent, AgentVersions, SecretField};

use super::table::{Cell, plain, table};
use super::{Style, duration, escape};
use crate::time;

/// `3m ago`, from an RFC 3339 time; `-` when absent or unreadable.
fn age(at: Option<&str>, now_ms: i64) -> String {
    at.and_then(time::parse_rfc3339_ms).map_or_else(
        || "-".into(),
        |t| format!("{} ago", duration((now_ms - t) / 1000 * 1000)),
    )
}

fn id(agent: &Agent) -> Cell {
    Cell::opt(agent.id.as_ref().map(|i| i.as_str()))
}

/// `agents list` for a terminal.
pub fn agents_table(agents: &[Agent], now_ms: i64, style: Style) -> String {
    let rows: Vec<Vec<Cell>> = agents
        .iter()
        .map(|a| {
            vec![
                id(a),
                Cell::opt(a.version),
                Cell::opt(a.model.as_deref()),
                Cell::text(&age(a.updated_at.as_deref(), now_ms)),
                Cell::opt(a.description.as_deref()),
            ]
        })
        .collect();
    table(
        &["ID", "VERSION", "MODEL", "UPDATED", "DESCRIPTION"],
        &rows,
        style,
    )
}

/// `agents list` for scripts: exact times.
pub fn agents_plain(agents: &[Agent]) -> String {
    let rows: Vec<Vec<Cell>> = agents
        .iter()
        .map(|a| {
            vec![
                id(a),
                Cell::opt(a.version),
                Cell::opt(a.model.as_deref()),
                Cell::opt(a.updated_at.as_deref()),
                Cell::opt(a.description.as_deref()),
            ]
        })
        .collect();
    plain(&rows)
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        "-".into()
    } else {
        escape::line(&items.join(", ")).into_owned()
    }
}

fn pairs<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    list(map.into_iter().map(|(k, v)| format!("{k}={v}")))
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".into(), |v| escape::line(&v.to_string()).into_owned())
}

/// `agents show`: a describe-style block.
pub fn agent(a: &Agent, now_ms: i64) -> String {
    let secrets = list(a.secrets.iter().flatten().map(|(name, field)| match field {
        SecretField::State(state) if state.set => match &state.updated_at {
            Some(at) => format!("{name} (set {at})"),
            None => format!("{name} (set)"),
        },
        SecretField::State(_) => format!("{name} (not set)"),
        // Never printed: an answer does not carry a value, and if one ever did, it stays unseen.
        SecretField::Value(_) => format!("{name} (set)"),
    }));
    let fields: Vec<(&str, String)> = vec![
        ("Agent", opt(a.id.as_ref().map(|i| i.as_str()))),
        ("Version", opt(a.version)),
        ("Description", opt(a.description.as_deref())),
        ("Model", opt(a.model.as_deref())),
        (
            "Created",
            format!(
                "{} ({})",
                opt(a.created_at.as_deref()),
                age(a.created_at.as_deref(), now_ms)
            ),
        ),
        (
            "Updated",
            format!(
                "{} ({})",
                opt(a.updated_at.as_deref()),
                age(a.updated_at.as_deref(), now_ms)
            ),
        ),
        ("Max turns", opt(a.max_turns)),
        (
            "Budget",
            a.max_budget_usd.map_or_else(|| "-".into(), |b| format!("${b}")),
        ),
        ("Permissions", opt(a.permission_mode.as_deref())),
        ("Tools", list(a.allowed_tools.iter().flatten().cloned())),
        ("Denied", list(a.disallowed_tools.iter().flatten().cloned())),
        (
            "MCP",
            list(a.mcp_servers.iter().flatten().map(|(k, _)| k.clone())),
        ),
        (
            "Databases",
            list(a.databases.iter().map(|d| {
                format!(
                    "{} ({})",
                    d.name,
                    if d.read_only { "read-only" } else { "read-write" }
                )
            })),
        ),
        ("Skills", list(a.skills.iter().map(|s| s.name.clone()))),
        ("Files", list(a.files.iter().map(|f| f.path.clone()))),
        ("Env", pairs(&a.env)),
        ("Secrets", secrets),
        ("Selector", pairs(&a.runtime_selector)),
        (
            "Timeout",
            a.timeout_seconds.map_or_else(|| "-".into(), |s| format!("{s}s")),
        ),
    ];
    // Shown only when there are packages, so the description of an agent without them reads as it did.
    let mut fields = fields;
    if let Some(packages) = a.packages.as_ref().filter(|p| !p.is_empty()) {
        fields.push(("Packages", list(packages.npm.iter().map(|s| format!("npm:{s}")))));
    }
    fields
        .into_iter()
        .map(|(name, value)| format!("{:<13}{value}\n", format!("{name}:")))
        .collect()
}

/// `agents versions`, oldest first, for a terminal or (`tty` false) for scripts.
pub fn versions(v: &AgentVersions, tty: bool, style: Style) -> String {
    let rows: Vec<Vec<Cell>> = v
        .versions
        .iter()
        .map(|version| vec![Cell::opt(Some(version.version)), Cell::text(&version.created_at)])
        .collect();
    let mut out = if tty {
        table(&["VERSION", "CREATED"], &rows, style)
    } else {
        plain(&rows)
    };
    if tty && let Some(at) = &v.deleted_at {
        out.push_str(&format!("deleted {}\n", escape::line(at)));
    }
    out
}

/// What `agents apply` did, kubectl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Configured,
    Unchanged,
}

impl Applied {
    /// Reads the PUT's answer: 201 is a new agent; a 200 is a change unless the version stayed the one
    /// before (`before`: the newest version before the PUT, also of a deleted agent).
    pub fn of(created: bool, before: Option<u32>, after: u32) -> Self {
        match (created, before) {
            (true, _) | (false, None) => Self::Created,
            (false, Some(b)) if b == after => Self::Unchanged,
            (false, Some(_)) => Self::Configured,
        }
    }

    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
        }
    }
}

/// `agent/support-bot configured (version 2)`.
pub fn applied(id: &str, how: Applied, version: u32) -> String {
    format!("agent/{} {} (version {version})\n", escape::line(id), how.word())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    const NOW: &str = "2026-01-01T00:10:00.000Z";

    fn now() -> i64 {
        time::parse_rfc3339_ms(NOW).expect("a time")
    }

    fn support_bot() -> Agent {
        serde_json::from_value(json!({
            "id": "support-bot", "description": "Answers support mail", "model": "claude-test",
            "maxTurns": 5, "allowedTools": ["Bash", "Skill"], "permissionMode": "bypassPermissions",
            "skills": [{"name": "refunds", "files": {"SKILL.md": "---\nname: refunds\ndescription: x\n---\n"}}],
            "files": [{"path": "policies/refunds.md", "content": "30 days", "encoding": "utf8"}],
            "env": {"TZ": "Europe/Berlin"},
            "secrets": {"CRM_TOKEN": {"set": true, "updatedAt": "2026-01-01T00:00:00.000Z"}},
            "timeoutSeconds": 600, "runtimeSelector": {"pool": "default"},
            "version": 2, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:07:00.000Z"
        }))
        .expect("an agent")
    }

    #[test]
    fn the_describe_block_names_secrets_and_never_a_value() {
        let mut a = support_bot();
        a.secrets
            .as_mut()
            .expect("secrets")
            .insert("LEAKED".into(), SecretField::Value("hunter2".into()));
        expect![[r#"
            Agent:       support-bot
            Version:     2
            Description: Answers support mail
            Model:       claude-test
            Created:     2026-01-01T00:00:00.000Z (10m 0s ago)
            Updated:     2026-01-01T00:07:00.000Z (3m 0s ago)
            Max turns:   5
            Budget:      -
            Permissions: bypassPermissions
            Tools:       Bash, Skill
            Denied:      -
            MCP:         -
            Databases:   -
            Skills:      refunds
            Files:       policies/refunds.md
            Env:         TZ=Europe/Berlin
            Secrets:     CRM_TOKEN (set 2026-01-01T00:00:00.000Z), LEAKED (set)
            Selector:    pool=default
            Timeout:     600s
        "#]]
        .assert_eq(&agent(&a, now()));
    }

    #[test]
    fn the_list_is_a_table_on_a_terminal_and_tab_separated_lines_piped() {
        let mut bare = support_bot();
        bare.id = Some(protocol::AgentId::parse("bare").expect("an id"));
        bare.model = None;
        bare.description = None;
        let agents = [support_bot(), bare];
        expect![[r#"
            ID           VERSION  MODEL        UPDATED    DESCRIPTION
            support-bot  2        claude-test  3m 0s ago  Answers support mail
            bare         2        -            3m 0s ago  -
        "#]]
        .assert_eq(&agents_table(&agents, now(), Style { color: false }));
        expect![[r#"
            support-bot	2	claude-test	2026-01-01T00:07:00.000Z	Answers support mail
            bare	2	-	2026-01-01T00:07:00.000Z	-
        "#]]
        .assert_eq(&agents_plain(&agents));
    }

    #[track_caller]
    fn check(created: bool, before: Option<u32>, after: u32, expect: Expect) {
        expect.assert_eq(&applied("a", Applied::of(created, before, after), after));
    }

    #[test]
    fn apply_says_created_configured_or_unchanged_from_the_answer_and_the_version_before() {
        check(true, None, 1, expect!["agent/a created (version 1)\n"]);
        check(false, None, 1, expect!["agent/a created (version 1)\n"]);
        check(false, Some(1), 1, expect!["agent/a unchanged (version 1)\n"]);
        check(false, Some(1), 2, expect!["agent/a configured (version 2)\n"]);
        // A deleted agent put again: its next version.
        check(true, Some(3), 4, expect!["agent/a created (version 4)\n"]);
    }
}
