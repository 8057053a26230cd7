//! Trigger definitions: the list, `triggers show`'s describe block and `apply`'s one line.
//!
//! Signing secrets and reply credentials only appear as the answers carry them (`{"set": true}`): a
//! count or a name and when it was set. A trigger that verifies nothing says so wherever it is shown.

use protocol::{SecretField, Trigger, VerifyScheme};

use super::table::{Cell, plain, table};
use super::{Applied, Style, escape};
use crate::triggers::definition::scheme_name;

/// The scheme as shown: `none` is flagged, since anyone who knows the URL can start the agent.
fn scheme(t: &Trigger) -> String {
    match t.verify.scheme {
        VerifyScheme::None => "none (UNVERIFIED)".to_owned(),
        other => scheme_name(other).to_owned(),
    }
}

fn scheme_cell(t: &Trigger, style: Style) -> Cell {
    let text = scheme(t);
    if t.verify.scheme == VerifyScheme::None {
        Cell::painted(text.clone(), style.red(&text))
    } else {
        Cell::text(&text)
    }
}

fn row(t: &Trigger, scheme: Cell) -> Vec<Cell> {
    vec![
        Cell::opt(t.id.as_ref().map(|i| i.as_str())),
        Cell::text(t.agent_id.as_str()),
        Cell::text(&t.kind.to_string()),
        scheme,
        Cell::text(if t.enabled { "yes" } else { "no" }),
        Cell::opt(t.hook_path.as_deref()),
    ]
}

/// `triggers list` for a terminal.
pub fn triggers_table(triggers: &[Trigger], style: Style) -> String {
    let rows: Vec<Vec<Cell>> = triggers.iter().map(|t| row(t, scheme_cell(t, style))).collect();
    table(
        &["ID", "AGENT", "KIND", "SCHEME", "ENABLED", "HOOK"],
        &rows,
        style,
    )
}

/// `triggers list` for scripts.
pub fn triggers_plain(triggers: &[Trigger]) -> String {
    let rows: Vec<Vec<Cell>> = triggers.iter().map(|t| row(t, Cell::text(&scheme(t)))).collect();
    plain(&rows)
}

fn set(name: &str, field: &SecretField) -> String {
    match field {
        SecretField::State(state) if state.set => match &state.updated_at {
            Some(at) => format!("{name} (set {at})"),
            None => format!("{name} (set)"),
        },
        SecretField::State(_) => format!("{name} (not set)"),
        // Never printed: an answer does not carry a value, and if one ever did, it stays unseen.
        SecretField::Value(_) => format!("{name} (set)"),
    }
}

fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        escape::line(&items.join(", ")).into_owned()
    }
}

fn opt(value: Option<&str>) -> String {
    value.map_or_else(|| "-".into(), |v| escape::line(v).into_owned())
}

/// A template, indented under its label; its lines made harmless to a terminal.
fn block(text: &str) -> String {
    text.lines().map(|l| format!("  {}\n", escape::line(l))).collect()
}

/// `triggers show`: a describe-style block.
pub fn trigger(t: &Trigger) -> String {
    let v = &t.verify;
    let secrets = list(
        v.secrets
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, f)| set(&format!("#{i}"), f))
            .collect(),
    );
    let mut verify = scheme(t);
    if let Some(header) = &v.header {
        verify.push_str(&format!(", header {header}"));
    }
    if let Some(encoding) = v.encoding {
        verify.push_str(&format!(", {}", format!("{encoding:?}").to_lowercase()));
    }
    if let Some(prefix) = &v.prefix {
        verify.push_str(&format!(", prefix {prefix:?}"));
    }
    if let Some(tolerance) = v.tolerance_seconds {
        verify.push_str(&format!(", tolerance {tolerance}s"));
    }
    let reply = t.reply.as_ref().map_or_else(
        || "-".to_owned(),
        |r| {
            let mut text = format!("{:?}", r.kind).to_lowercase();
            if let Some(url) = &r.url {
                text.push_str(&format!(" to {url}"));
            }
            if let Some(from) = &r.from {
                text.push_str(&format!(" from {from}"));
            }
            text
        },
    );
    let credentials = list(
        t.reply
            .iter()
            .flat_map(|r| r.credentials.iter().flatten())
            .map(|(name, f)| set(name, f))
            .collect(),
    );
    let fields: Vec<(&str, String)> = vec![
        ("Trigger", opt(t.id.as_ref().map(|i| i.as_str()))),
        ("Agent", escape::line(t.agent_id.as_str()).into_owned()),
        ("Kind", t.kind.to_string()),
        ("Enabled", (if t.enabled { "yes" } else { "no" }).to_owned()),
        ("Hook", opt(t.hook_path.as_deref())),
        ("Verify", escape::line(&verify).into_owned()),
        ("Secrets", secrets),
        ("Reply", escape::line(&reply).into_owned()),
        ("Credentials", credentials),
        ("Debounce", format!("{}s", t.debounce_seconds)),
        ("Created", opt(t.created_at.as_deref())),
        ("Updated", opt(t.updated_at.as_deref())),
    ];
    let mut out: String = fields
        .into_iter()
        .map(|(name, value)| format!("{:<13}{value}\n", format!("{name}:")))
        .collect();
    out.push_str("Prompt:\n");
    out.push_str(&block(&t.prompt));
    if let Some(conversation) = &t.conversation {
        out.push_str("Conversation:\n");
        out.push_str(&block(conversation));
    }
    out
}

/// `trigger/support-mail configured`.
pub fn trigger_applied(id: &str, how: Applied) -> String {
    format!("trigger/{} {}\n", escape::line(id), how.word())
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;

    fn support_mail() -> Trigger {
        serde_json::from_value(json!({
            "id": "support-mail", "agentId": "support-bot", "kind": "email",
            "verify": {"scheme": "mailgun", "secrets": [{"set": true, "updatedAt": "2026-01-01T00:00:00.000Z"}],
                       "toleranceSeconds": 600},
            "prompt": "New mail from {{ email.from }}:\n{{ email.text }}",
            "reply": {"kind": "mailgun", "from": "support@example.com",
                      "credentials": {"apiKey": {"set": true, "updatedAt": "2026-01-01T00:00:00.000Z"}}},
            "hookPath": "/hooks/support-mail",
            "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:07:00.000Z"
        }))
        .expect("a trigger")
    }

    fn open_hook() -> Trigger {
        serde_json::from_value(json!({
            "id": "open", "agentId": "support-bot", "kind": "webhook", "verify": {"scheme": "none"},
            "prompt": "{{ body }}", "enabled": false, "hookPath": "/hooks/open"
        }))
        .expect("a trigger")
    }

    #[test]
    fn the_list_flags_a_trigger_that_verifies_nothing() {
        let triggers = [support_mail(), open_hook()];
        expect![[r#"
            ID            AGENT        KIND     SCHEME             ENABLED  HOOK
            support-mail  support-bot  email    mailgun            yes      /hooks/support-mail
            open          support-bot  webhook  none (UNVERIFIED)  no       /hooks/open
        "#]]
        .assert_eq(&triggers_table(&triggers, Style { color: false }));
        expect![[r#"
            support-mail	support-bot	email	mailgun	yes	/hooks/support-mail
            open	support-bot	webhook	none (UNVERIFIED)	no	/hooks/open
        "#]]
        .assert_eq(&triggers_plain(&triggers));
        assert!(triggers_table(&triggers, Style { color: true }).contains("\x1b[31mnone (UNVERIFIED)"));
    }

    #[test]
    fn the_describe_block_names_secrets_and_never_a_value() {
        let mut t = support_mail();
        t.verify
            .secrets
            .as_mut()
            .expect("secrets")
            .push(SecretField::Value("hunter2".into()));
        expect![[r#"
            Trigger:     support-mail
            Agent:       support-bot
            Kind:        email
            Enabled:     yes
            Hook:        /hooks/support-mail
            Verify:      mailgun, tolerance 600s
            Secrets:     #0 (set 2026-01-01T00:00:00.000Z), #1 (set)
            Reply:       mailgun from support@example.com
            Credentials: apiKey (set 2026-01-01T00:00:00.000Z)
            Debounce:    0s
            Created:     2026-01-01T00:00:00.000Z
            Updated:     2026-01-01T00:07:00.000Z
            Prompt:
              New mail from {{ email.from }}:
              {{ email.text }}
        "#]]
        .assert_eq(&trigger(&t));
        expect![[r#"
            Trigger:     open
            Agent:       support-bot
            Kind:        webhook
            Enabled:     no
            Hook:        /hooks/open
            Verify:      none (UNVERIFIED)
            Secrets:     -
            Reply:       -
            Credentials: -
            Debounce:    0s
            Created:     -
            Updated:     -
            Prompt:
              {{ body }}
        "#]]
        .assert_eq(&trigger(&open_hook()));
    }
}
