use std::collections::BTreeMap;

use expect_test::{Expect, expect};
use serde_json::json;

use super::{definition, secrets};
use crate::secrets::SecretsKey;
use crate::store::StoredSecret;

#[track_caller]
fn check(body: serde_json::Value, expect: Expect) {
    let got = match serde_json::from_value::<protocol::Agent>(body) {
        Err(e) => format!("parse: {e}"),
        Ok(agent) => match definition::check("bot", agent) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        },
    };
    expect.assert_eq(&got);
}

#[test]
fn a_definition_is_refused_naming_the_field() {
    check(json!({"model": "m", "env": {"TZ": "UTC"}}), expect!["ok"]);
    check(
        json!({"id": "other"}),
        expect![[r#"id: AgentId("other") is not the agent of the path, AgentId("bot")"#]],
    );
    check(json!({"maxTurns": 0}), expect!["maxTurns: must be at least 1"]);
    check(
        json!({"permissionMode": "yolo"}),
        expect![[
            r#"permissionMode: unknown mode "yolo": expected one of default, acceptEdits, bypassPermissions, plan, dontAsk, auto"#
        ]],
    );
    check(
        json!({"timeoutSeconds": 0}),
        expect!["timeoutSeconds: must be at least 1"],
    );
    check(
        json!({"env": {"LD_PRELOAD": "x"}}),
        expect![
            "env.LD_PRELOAD: LD_PRELOAD may not be set: it would let the caller take over the agent process"
        ],
    );
    check(
        json!({"secrets": {"NODE_OPTIONS": "x"}}),
        expect![
            "secrets.NODE_OPTIONS: NODE_OPTIONS may not be set: it would let the caller take over the agent process"
        ],
    );
    check(
        json!({"env": {"TOKEN": "a"}, "secrets": {"TOKEN": "b"}}),
        expect!["secrets.TOKEN: TOKEN is in env too: a name is either a value or a secret"],
    );
    check(
        json!({"skills": [{"name": "Refunds", "files": {"SKILL.md": "x"}}]}),
        expect![[r#"skills[0].name: "Refunds" must match [a-z0-9-]{1,64}"#]],
    );
    check(
        json!({"files": [{"path": "../x", "content": ""}]}),
        expect![[r#"files[0].path: "../x" contains `..`: paths must stay inside the workspace"#]],
    );
    check(
        json!({"runtimeSelector": {"pool": ""}}),
        expect![
            "runtimeSelector.pool: keys and values are 1 to 253 characters, without `=` or control characters"
        ],
    );
    check(json!({"packages": {"npm": ["is-number@7.0.0"]}}), expect!["ok"]);
    check(json!({"packages": {"npm": []}}), expect!["ok"]);
    check(
        json!({"packages": {"npm": ["is-number@7.0.0", "a b"]}}),
        expect![[
            r#"packages.npm[1]: "a b": "a b" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check(
        json!({"packages": {"pip": ["x"]}}),
        expect!["parse: unknown field `pip`, expected `npm` or `lockfile`"],
    );
    check(
        json!({"maxturns": 3}),
        expect![
            "parse: unknown field `maxturns`, expected one of `id`, `description`, `model`, `systemPrompt`, `maxTurns`, `allowedTools`, `disallowedTools`, `permissionMode`, `maxBudgetUsd`, `mcpServers`, `skills`, `files`, `env`, `secrets`, `databases`, `timeoutSeconds`, `runtimeSelector`, `packages`, `version`, `createdAt`, `updatedAt`"
        ],
    );
}

fn stored(key: &SecretsKey, name: &str, value: &str, at: &str) -> (String, StoredSecret) {
    (
        name.to_owned(),
        StoredSecret {
            sealed: key.seal("bot", name, value),
            updated_at: at.to_owned(),
        },
    )
}

#[track_caller]
fn check_secrets(given: Option<serde_json::Value>, key: Option<&SecretsKey>, expect: Expect) {
    let seal_key = SecretsKey::from_bytes(&[1; 32]).expect("32 bytes");
    let current: BTreeMap<String, StoredSecret> = [
        stored(&seal_key, "A", "alpha-value", "t1"),
        stored(&seal_key, "B", "bravo-value", "t1"),
    ]
    .into();
    let given = given.map(|g| serde_json::from_value(g).expect("secrets"));
    let got = match secrets::plan("bot", given.as_ref(), Some(&current), key, "t2") {
        Err(e) => e.to_string(),
        Ok(plan) => plan
            .iter()
            .map(|(name, s)| {
                let kept = current.get(name).is_some_and(|c| c == s);
                let value = seal_key.open("bot", name, &s.sealed).expect("opens");
                format!(
                    "{name}={value} at {} {}",
                    s.updated_at,
                    if kept { "kept" } else { "new" }
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    expect.assert_eq(&got);
}

#[test]
fn secrets_are_kept_replaced_or_removed_as_the_put_says() {
    let key = SecretsKey::from_bytes(&[1; 32]).expect("32 bytes");
    check_secrets(
        None,
        Some(&key),
        expect!["A=alpha-value at t1 kept; B=bravo-value at t1 kept"],
    );
    check_secrets(
        Some(json!({"A": {"set": true, "updatedAt": "t1"}})),
        Some(&key),
        expect!["A=alpha-value at t1 kept"],
    );
    check_secrets(
        Some(json!({"A": "alpha-value", "B": "new-bravo", "C": "charlie-value"})),
        Some(&key),
        expect!["A=alpha-value at t1 kept; B=new-bravo at t2 new; C=charlie-value at t2 new"],
    );
    check_secrets(
        Some(json!({"C": {"set": true}})),
        Some(&key),
        expect![[
            r#"secrets.C: {"set": true} keeps a stored value, and this agent has none: give the value"#
        ]],
    );
    check_secrets(
        Some(json!({"A": {"set": false}})),
        Some(&key),
        expect![[
            r#"secrets.A: give a value, or {"set": true} to keep the stored one; leave a secret out to remove it"#
        ]],
    );
    check_secrets(
        Some(json!({"A": "x"})),
        None,
        expect![
            "secrets.A: this control plane has no secrets key: start every agentctl serve replica with the same --secrets-key-file or AGENTCTL_SECRETS_KEY"
        ],
    );
}
