use expect_test::{Expect, expect};
use protocol::Agent;

use super::Fields;

#[track_caller]
fn check(form: &[(&str, &str)], current: Option<&str>, expect: Expect) {
    let pairs: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let current: Option<Agent> = current.map(|c| serde_json::from_str(c).expect("a definition"));
    let shown = match Fields::posted(&pairs).agent(current.as_ref()) {
        Ok(agent) => serde_json::to_string(&agent).expect("serialises"),
        Err(e) => format!("error: {e}"),
    };
    expect.assert_eq(&shown);
}

#[test]
fn a_form_becomes_the_definition_a_put_would_take() {
    check(
        &[
            ("description", " Answers mail "),
            ("model", "claude-sonnet-4-5"),
            ("systemPrompt", "Be brief.\r\nBe kind."),
            ("maxTurns", "5"),
            ("allowedTools", "Read, Grep,,  Bash "),
            ("disallowedTools", ""),
            ("permissionMode", "acceptEdits"),
            ("maxBudgetUsd", "0.5"),
            ("timeoutSeconds", ""),
            ("runtimeSelector", "zone=eu\n"),
            (
                "env",
                "# a pasted .env\nexport MODE=\"fast\"\n\nLEVEL='2'\nEMPTY=\n",
            ),
            ("mcpServers", ""),
        ],
        None,
        expect![[
            r#"{"id":null,"description":"Answers mail","model":"claude-sonnet-4-5","systemPrompt":"Be brief.\nBe kind.","maxTurns":5,"allowedTools":["Read","Grep","Bash"],"disallowedTools":null,"permissionMode":"acceptEdits","maxBudgetUsd":0.5,"mcpServers":null,"skills":[],"files":[],"env":{"EMPTY":"","LEVEL":"2","MODE":"fast"},"secrets":{},"timeoutSeconds":null,"runtimeSelector":{"zone":"eu"},"version":null,"createdAt":null,"updatedAt":null}"#
        ]],
    );
}

#[test]
fn skills_take_their_name_from_the_front_matter_and_keep_their_other_files() {
    let md = "---\nname: triage\ndescription: Sorts mail\n---\nBody\n";
    check(
        &[
            ("skill_md", md),
            ("skill_md", "  "),
            ("file_path", "notes.md"),
            ("file_content", "hi"),
            ("file_path", ""),
            ("file_content", ""),
        ],
        Some(
            r#"{"skills":[{"name":"triage","files":{"SKILL.md":"old","rules.md":"kept"}}],
                "files":[{"path":"logo.png","content":"iVBO","encoding":"base64"},{"path":"old.md","content":"gone"}]}"#,
        ),
        expect![[
            r#"{"id":null,"description":null,"model":null,"systemPrompt":null,"maxTurns":null,"allowedTools":null,"disallowedTools":null,"permissionMode":null,"maxBudgetUsd":null,"mcpServers":null,"skills":[{"name":"triage","files":{"SKILL.md":"---\nname: triage\ndescription: Sorts mail\n---\nBody\n","rules.md":"kept"}}],"files":[{"path":"notes.md","content":"hi","encoding":"utf8"},{"path":"logo.png","content":"iVBO","encoding":"base64"}],"env":{},"secrets":{},"timeoutSeconds":null,"runtimeSelector":{},"version":null,"createdAt":null,"updatedAt":null}"#
        ]],
    );
    check(
        &[("skill_md", "no front matter")],
        None,
        expect![
            "error: skills[0]: SKILL.md 1 must open with a front matter (a `---` line, `name:` and `description:`, a `---` line)"
        ],
    );
}

#[test]
fn secrets_are_kept_replaced_removed_or_added() {
    let form = [
        ("secret", "KEEP"),
        ("secret_value.KEEP", ""),
        ("secret", "NEW_VALUE"),
        ("secret_value.NEW_VALUE", "s3cret"),
        ("secret", "GONE"),
        ("secret_value.GONE", "ignored"),
        ("secret_remove.GONE", "1"),
        ("new_secret_name", " ADDED "),
        ("new_secret_value", "fresh"),
    ];
    let shown = |form: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        match Fields::posted(&pairs).agent(None) {
            Ok(agent) => serde_json::to_string(&agent.secrets).expect("serialises"),
            Err(e) => format!("error: {e}"),
        }
    };
    expect![[r#"{"ADDED":"fresh","KEEP":{"set":true,"updatedAt":null},"NEW_VALUE":"s3cret"}"#]]
        .assert_eq(&shown(&form));
    expect!["error: secrets.ADDED: give the new secret a value"]
        .assert_eq(&shown(&[("new_secret_name", "ADDED"), ("new_secret_value", "")]));
    expect!["error: secrets: the new secret's value has no name"]
        .assert_eq(&shown(&[("new_secret_name", ""), ("new_secret_value", "x")]));
}

#[test]
fn a_mistake_names_its_field() {
    check(
        &[("maxTurns", "five")],
        None,
        expect![[r#"error: maxTurns: "five" is not a number"#]],
    );
    check(
        &[("env", "A=1\nnope\n")],
        None,
        expect!["error: env: line 2 is not KEY=VALUE"],
    );
    check(
        &[("mcpServers", "[1")],
        None,
        expect![
            "error: mcpServers: is not a JSON object: invalid type: sequence, expected a map at line 1 column 0"
        ],
    );
    check(
        &[("file_path", " "), ("file_content", "x")],
        None,
        expect!["error: files[0].path: is empty"],
    );
}

#[test]
fn a_definition_shown_in_the_form_and_posted_back_is_the_same_definition() {
    let stored = r#"{"description":"d","model":"m","systemPrompt":"p\nq","maxTurns":3,"allowedTools":["Read","Bash"],
        "permissionMode":"plan","maxBudgetUsd":1.25,"timeoutSeconds":60,"runtimeSelector":{"a":"b"},"env":{"X":"1"},
        "mcpServers":{"s":{"command":"x"}},"skills":[{"name":"k","files":{"SKILL.md":"---\nname: k\ndescription: d\n---\n"}}],
        "files":[{"path":"f.md","content":"c"}],"secrets":{"T":{"set":true,"updatedAt":"2026-01-01T00:00:00Z"}}}"#;
    let agent: Agent = serde_json::from_str(stored).expect("a definition");
    let fields = Fields::of(&agent);
    let mut pairs: Vec<(String, String)> = vec![
        ("description".into(), fields.description.clone()),
        ("model".into(), fields.model.clone()),
        ("systemPrompt".into(), fields.system_prompt.clone()),
        ("maxTurns".into(), fields.max_turns.clone()),
        ("allowedTools".into(), fields.allowed_tools.clone()),
        ("disallowedTools".into(), fields.disallowed_tools.clone()),
        ("permissionMode".into(), fields.permission_mode.clone()),
        ("maxBudgetUsd".into(), fields.max_budget_usd.clone()),
        ("timeoutSeconds".into(), fields.timeout_seconds.clone()),
        ("runtimeSelector".into(), fields.runtime_selector.clone()),
        ("env".into(), fields.env.clone()),
        ("mcpServers".into(), fields.mcp_servers.clone()),
    ];
    pairs.extend(fields.skills.iter().map(|s| ("skill_md".into(), s.clone())));
    for (path, content) in &fields.files {
        pairs.push(("file_path".into(), path.clone()));
        pairs.push(("file_content".into(), content.clone()));
    }
    pairs.extend(fields.secrets.iter().map(|s| ("secret".into(), s.name.clone())));
    let back = Fields::posted(&pairs).agent(Some(&agent)).expect("valid");
    let mut want = agent.clone();
    want.secrets = Some(
        [(
            "T".to_owned(),
            protocol::SecretField::State(protocol::SecretState {
                set: true,
                updated_at: None,
            }),
        )]
        .into(),
    );
    assert_eq!(back, want);
}
