use expect_test::{Expect, expect};
use serde_json::json;

use super::*;
use crate::SkillSpec;

#[track_caller]
fn check_skill(skill: serde_json::Value, expect: Expect) {
    let skill: SkillSpec = serde_json::from_value(skill).expect("a skill spec");
    let got = match check_agent_skills(&[skill]) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&got);
}

fn skill_md(front: &str) -> serde_json::Value {
    json!({ "SKILL.md": format!("---\n{front}\n---\nBody.\n") })
}

#[test]
fn agent_skills_need_a_lowercase_name_and_a_matching_front_matter() {
    check_skill(
        json!({"name": "refunds", "files": skill_md("name: refunds\ndescription: Handles refunds")}),
        expect!["ok"],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md("name: \"refunds\"\ndescription: >\n  Folded\n  text")}),
        expect!["ok"],
    );
    check_skill(
        json!({"name": "Refunds", "files": skill_md("name: Refunds\ndescription: x")}),
        expect![[r#"skills[0].name: "Refunds" must match [a-z0-9-]{1,64}"#]],
    );
    check_skill(
        json!({"name": "a_b", "files": skill_md("name: a_b\ndescription: x")}),
        expect![[r#"skills[0].name: "a_b" must match [a-z0-9-]{1,64}"#]],
    );
    check_skill(
        json!({"name": "x".repeat(65), "files": skill_md("name: x\ndescription: x")}),
        expect![[
            r#"skills[0].name: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" must match [a-z0-9-]{1,64}"#
        ]],
    );
    check_skill(
        json!({"name": "refunds", "files": {"README.md": "x"}}),
        expect!["skills[0].files: must hold SKILL.md"],
    );
    check_skill(
        json!({"name": "refunds", "files": {"SKILL.md": "no front matter"}}),
        expect![[
            r#"skills[0].files["SKILL.md"]: must open with a front matter: a `---` line, `name:` and `description:`, a `---` line"#
        ]],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md("name: returns\ndescription: x")}),
        expect![[
            r#"skills[0].files["SKILL.md"]: front matter name "returns" is not the skill's name "refunds""#
        ]],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md("description: x")}),
        expect![[r#"skills[0].files["SKILL.md"]: front matter has no `name`"#]],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md("name: refunds")}),
        expect![[r#"skills[0].files["SKILL.md"]: front matter has no `description`"#]],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md(&format!("name: refunds\ndescription: {}", "é".repeat(1025)))}),
        expect![[
            r#"skills[0].files["SKILL.md"]: front matter `description` has 1025 characters, more than 1024"#
        ]],
    );
    check_skill(
        json!({"name": "refunds", "files": skill_md(&format!("name: refunds\ndescription: {}", "é".repeat(1024)))}),
        expect!["ok"],
    );
}

#[track_caller]
fn check_path(path: &str, expect: Expect) {
    let got = match check_relative_path(path) {
        Ok(components) => format!("{components:?}"),
        Err(e) => e,
    };
    expect.assert_eq(&got);
}

#[test]
fn relative_paths_stay_inside_the_workspace() {
    check_path("input/data.csv", expect![[r#"["input", "data.csv"]"#]]);
    check_path(
        "/etc/passwd",
        expect![[r#""/etc/passwd" is absolute: paths are relative to the session workspace"#]],
    );
    check_path(
        "a/../../x",
        expect![[r#""a/../../x" contains `..`: paths must stay inside the workspace"#]],
    );
    check_path("a//b", expect![[r#""a//b" has an empty or `.` component"#]]);
    check_path("a\0b", expect!["must not contain a NUL byte"]);
    check_path(
        &"x".repeat(256),
        expect![[
            r#""xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" has a component longer than 255 bytes"#
        ]],
    );
    check_path("", expect!["must not be empty"]);
}

#[track_caller]
fn check_name(name: &str, expect: Expect) {
    let got = match check_env_name(name) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e,
    };
    expect.assert_eq(&got);
}

#[test]
fn env_names_that_take_over_a_process_are_refused() {
    check_name("ANTHROPIC_API_KEY", expect!["ok"]);
    check_name("_x1", expect!["ok"]);
    check_name(
        "1X",
        expect![[r#"invalid name "1X": must match [A-Za-z_][A-Za-z0-9_]*"#]],
    );
    check_name(
        "A-B",
        expect![[r#"invalid name "A-B": must match [A-Za-z_][A-Za-z0-9_]*"#]],
    );
    check_name(
        "",
        expect![[r#"invalid name "": must match [A-Za-z_][A-Za-z0-9_]*"#]],
    );
    check_name(
        "LD_PRELOAD",
        expect!["LD_PRELOAD may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "HOME",
        expect!["HOME may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "PYTHONPATH",
        expect!["PYTHONPATH may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "PYTHONSTARTUP",
        expect!["PYTHONSTARTUP may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "PERL5OPT",
        expect!["PERL5OPT may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "NODE_EXTRA_CA_CERTS",
        expect!["NODE_EXTRA_CA_CERTS may not be set: it would let the caller take over the agent process"],
    );
    check_name(
        "NODE_TLS_REJECT_UNAUTHORIZED",
        expect![
            "NODE_TLS_REJECT_UNAUTHORIZED may not be set: it would let the caller take over the agent process"
        ],
    );
    check_name(&"A".repeat(256), expect!["ok"]);
    check_name(
        &"A".repeat(5000),
        expect!["a name of 5000 characters is longer than 256"],
    );
}

#[test]
fn options_are_named_with_the_prefix_of_their_body() {
    let options = crate::AgentOptions {
        max_turns: Some(0),
        ..Default::default()
    };
    expect!["options.maxTurns: must be at least 1"]
        .assert_eq(&check_options(&options, "options.").unwrap_err().to_string());
    expect!["maxTurns: must be at least 1"].assert_eq(&check_options(&options, "").unwrap_err().to_string());
}

#[track_caller]
fn check_npm(specs: &[&str], expect: Expect) {
    let packages = crate::Packages {
        npm: specs.iter().map(|s| (*s).to_owned()).collect(),
        lockfile: None,
    };
    let got = match check_packages(&packages) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&got);
}

#[test]
fn npm_specs_are_registry_packages_with_a_version_range_or_tag() {
    check_npm(
        &[
            "is-number@7.0.0",
            "left-pad@^1.3.0",
            "@types/node@>=20 <21",
            "lodash",
            "react@next",
            "a.b_c-d@1.x || 2",
        ],
        expect!["ok"],
    );
    check_npm(
        &["../x"],
        expect![[
            r#"packages.npm[0]: "../x": "../x" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check_npm(
        &["git+ssh://git@github.com/a/b.git"],
        expect![[
            r#"packages.npm[0]: "git+ssh://git@github.com/a/b.git": is a URL or git spec: only packages of the registry can be installed"#
        ]],
    );
    check_npm(
        &["ok@1", "a b"],
        expect![[
            r#"packages.npm[1]: "a b": "a b" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check_npm(
        &["Express@4"],
        expect![[
            r#"packages.npm[0]: "Express@4": "Express" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check_npm(
        &["x@file:../y"],
        expect![[
            r#"packages.npm[0]: "x@file:../y": "file:../y" is not a version, range or tag: git, file, alias and URL specs are refused"#
        ]],
    );
    check_npm(
        &["x@npm:y@1"],
        expect![[
            r#"packages.npm[0]: "x@npm:y@1": "npm:y@1" is not a version, range or tag: git, file, alias and URL specs are refused"#
        ]],
    );
    check_npm(
        &["user/repo"],
        expect![[
            r#"packages.npm[0]: "user/repo": "user/repo" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check_npm(
        &["x@1;rm -rf /"],
        expect![[
            r#"packages.npm[0]: "x@1;rm -rf /": "1;rm -rf /" is not a version, range or tag: git, file, alias and URL specs are refused"#
        ]],
    );
    check_npm(
        &["x@$(id)"],
        expect![[
            r#"packages.npm[0]: "x@$(id)": "$(id)" is not a version, range or tag: letters, digits and `. - + _ ^ ~ * < > = |` and spaces only"#
        ]],
    );
    check_npm(
        &["x@"],
        expect![[r#"packages.npm[0]: "x@": has `@` but no version, range or tag after it"#]],
    );
    check_npm(
        &["@scope"],
        expect![[r#"packages.npm[0]: "@scope": "@scope": a scoped name is `@scope/name`"#]],
    );
    check_npm(
        &["_private"],
        expect![[
            r#"packages.npm[0]: "_private": "_private" is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"#
        ]],
    );
    check_npm(
        &["node_modules"],
        expect![[r#"packages.npm[0]: "node_modules": "node_modules" is a name npm reserves"#]],
    );
    check_npm(
        &["is-number@7", "is-number@6"],
        expect!["packages.npm[1]: is-number is listed twice (packages.npm[0] too)"],
    );
    let long = format!("{}@1", "a".repeat(215));
    check_npm(
        &[&long],
        expect![[
            r#"packages.npm[0]: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@1": names are at most 214 characters"#
        ]],
    );
}

#[test]
fn a_jobs_npm_packages_need_their_lockfile() {
    let mut packages = crate::Packages {
        npm: vec!["is-number@7.0.0".into()],
        lockfile: None,
    };
    expect!["packages.lockfile: is required with packages.npm: a runtime installs a pinned tree (`npm ci`), it resolves none (make one with `npm install --package-lock-only`)"]
        .assert_eq(&check_job_packages(&packages).unwrap_err().to_string());
    packages.lockfile = Some("{".into());
    expect!["packages.lockfile: is not JSON: it is the text of a package-lock.json"]
        .assert_eq(&check_job_packages(&packages).unwrap_err().to_string());
    packages.lockfile = Some("{}".into());
    assert!(check_job_packages(&packages).is_ok());
}

#[test]
fn the_manifest_names_each_package_with_its_range() {
    let manifest = npm_manifest(&[
        "is-number@7.0.0".into(),
        "@types/node@^20".into(),
        "lodash".into(),
    ])
    .unwrap();
    expect![[r#"
        {
          "dependencies": {
            "@types/node": "^20",
            "is-number": "7.0.0",
            "lodash": "*"
          },
          "name": "agent-packages",
          "private": true,
          "version": "0.0.0"
        }
    "#]]
    .assert_eq(&manifest);
}

#[test]
fn npm_errors_keep_npms_lines_without_the_log_path_or_credentials() {
    let stderr = "npm error code E404\nnpm error 404 Not Found - GET https://u:s3cret@npm.example/zz9\n\
                  npm notice New minor version\nnpm error A complete log of this run can be found in: /tmp/x.log\n\
                  npm error fetch http://other:pw@mirror/x failed\n\
                  npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/x.js:1:2)\n";
    expect![[r#"
        code E404
        404 Not Found - GET https://npm.example/zz9
        fetch http://mirror/x failed"#]]
    .assert_eq(&npm_error(
        stderr,
        "https://u:s3cret@npm.example/",
        "https://npm.example/",
    ));
    expect!["no npm here"].assert_eq(&npm_error("  no npm here\n", "r", "r"));
}
