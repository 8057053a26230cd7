//! Scenario files: what the fake model answers, turn by turn.
//!
//! A file holds named scenarios and says which one is the default:
//!
//! ```json
//! {"default": "bash",
//!  "scenarios": {"bash": {"turns": [{"text": "…", "toolUse": {"name": "Bash", "input": {"command": "ls"}}},
//!                                   {"text": "It printed {{tool_result}}"}],
//!                         "finalText": "Done."}}}
//! ```
//!
//! A file whose top level is a single scenario (`{"turns": […]}`) is the scenario named `default`.
//! Scenarios are immutable once loaded; see `conversation` for how a request picks its turn.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The scenarios built into the binary, used when no `--scenario` file is given.
const BUILTIN: &str = include_str!("../scenarios/builtin.json");

/// The text answered once a conversation has gone past its scenario's last turn.
const DEFAULT_FINAL_TEXT: &str = "Done.";

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("read scenario file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parse scenario file at `{path}`: {message}")]
    Parse { path: String, message: String },
    #[error("invalid scenario file: {0}")]
    Invalid(String),
}

/// Every scenario a server can answer from, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenarios {
    default: String,
    by_name: BTreeMap<String, Scenario>,
}

impl Scenarios {
    /// The built-in scenarios: `bash` (the default: one `Bash` tool call, then a text answer), `text`,
    /// `sleep`, `slow`, `unauthorized`, `rate_limited` and `overloaded`.
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN).expect("the built-in scenario file is valid (checked by a unit test)")
    }

    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Self, ScenarioError> {
        let value: Value = serde_json::from_str(text).map_err(|err| ScenarioError::Parse {
            path: ".".to_owned(),
            message: err.to_string(),
        })?;
        // A lone scenario is accepted too, so a one-off test can write `{"turns": […]}` and nothing else.
        let file: File = if value.get("turns").is_some() {
            File {
                default: None,
                scenarios: BTreeMap::from([("default".to_owned(), parse(value)?)]),
            }
        } else {
            parse(value)?
        };
        Self::new(file)
    }

    fn new(file: File) -> Result<Self, ScenarioError> {
        if file.scenarios.is_empty() {
            return Err(ScenarioError::Invalid("`scenarios` is empty".to_owned()));
        }
        if let Some(bad) = file.scenarios.keys().find(|name| !is_scenario_name(name)) {
            return Err(ScenarioError::Invalid(format!(
                "scenario name `{bad}` must be non-empty and use only letters, digits, `_`, `-` and `.`"
            )));
        }
        let default = match file.default {
            Some(name) if file.scenarios.contains_key(&name) => name,
            Some(name) => {
                return Err(ScenarioError::Invalid(format!(
                    "`default` names no scenario: `{name}`"
                )));
            }
            None if file.scenarios.contains_key("default") => "default".to_owned(),
            None if file.scenarios.len() == 1 => file.scenarios.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(ScenarioError::Invalid(
                    "several scenarios and none named `default`: set `default` to one of them".to_owned(),
                ));
            }
        };
        Ok(Self {
            default,
            by_name: file.scenarios,
        })
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    pub fn get(&self, name: &str) -> Option<&Scenario> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// Characters a scenario name may use; the same set ends a `scenario:NAME` marker in a prompt.
pub fn is_scenario_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn is_scenario_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_scenario_name_char)
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ScenarioError> {
    serde_path_to_error::deserialize(value).map_err(|err| ScenarioError::Parse {
        path: err.path().to_string(),
        message: err.inner().to_string(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    default: Option<String>,
    scenarios: BTreeMap<String, Scenario>,
}

/// One scripted conversation. Turn `n` answers the request that already holds `n` assistant messages.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    pub turns: Vec<Turn>,
    /// Answered to every request past the last turn.
    #[serde(default = "default_final_text")]
    pub final_text: String,
}

fn default_final_text() -> String {
    DEFAULT_FINAL_TEXT.to_owned()
}

/// One answer of the fake model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawTurn")]
pub struct Turn {
    /// Waited before answering (before the response headers, so a client sees a slow first byte).
    pub delay: Duration,
    pub reply: Reply,
    /// Token counts to report instead of the estimate from the request and reply sizes.
    pub usage: UsageOverride,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An assistant message: text, a tool call, or text followed by a tool call.
    Message {
        text: Option<String>,
        tool_use: Option<ToolUse>,
    },
    /// An HTTP error instead of a message.
    Error(ApiError),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolUse {
    /// Generated (`toolu_fake_…`) when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default = "empty_object")]
    pub input: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// An Anthropic API error answered with `status`: `{"type":"error","error":{"type","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiError {
    pub status: u16,
    /// Anthropic's error type, e.g. `authentication_error`, `rate_limit_error`, `overloaded_error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    /// Seconds, sent as the `retry-after` header.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageOverride {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
}

/// The file's shape of a turn; `Turn` is what is left once the combinations are checked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTurn {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    usage: UsageOverride,
}

impl TryFrom<RawTurn> for Turn {
    type Error = String;

    fn try_from(raw: RawTurn) -> Result<Self, Self::Error> {
        let reply = match (raw.error, raw.text, raw.tool_use) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(
                    "a turn is either an `error` or a message (`text`, `toolUse`), not both".to_owned(),
                );
            }
            (Some(error), None, None) => {
                if !(400..=599).contains(&error.status) {
                    return Err(format!("error status must be 400..=599, got {}", error.status));
                }
                Reply::Error(error)
            }
            (None, None, None) => return Err("a turn needs `text`, `toolUse` or `error`".to_owned()),
            (None, text, tool_use) => {
                if let Some(tool_use) = &tool_use
                    && !tool_use.input.is_object()
                {
                    return Err(format!(
                        "toolUse `{}`: input must be a JSON object",
                        tool_use.name
                    ));
                }
                Reply::Message { text, tool_use }
            }
        };
        Ok(Self {
            delay: Duration::from_millis(raw.delay_ms),
            reply,
            usage: raw.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[track_caller]
    fn check_error(json: &str, expected: expect_test::Expect) {
        let err = Scenarios::from_json(json).expect_err("scenario file should be refused");
        expected.assert_eq(&err.to_string());
    }

    #[test]
    fn builtin_scenarios_parse_and_default_to_bash() {
        let scenarios = Scenarios::builtin();
        assert_eq!(scenarios.default_name(), "bash");
        let names: Vec<_> = scenarios.names().collect();
        assert_eq!(
            names,
            [
                "bash",
                "overloaded",
                "rate_limited",
                "sleep",
                "slow",
                "text",
                "unauthorized"
            ]
        );
    }

    #[test]
    fn a_lone_scenario_is_the_default() {
        let scenarios = Scenarios::from_json(r#"{"turns": [{"text": "hi"}]}"#).unwrap();
        assert_eq!(scenarios.default_name(), "default");
        let scenario = scenarios.get("default").unwrap();
        assert_eq!(scenario.final_text, "Done.");
        assert_eq!(
            scenario.turns[0].reply,
            Reply::Message {
                text: Some("hi".to_owned()),
                tool_use: None
            }
        );
    }

    #[test]
    fn a_single_named_scenario_is_the_default() {
        let scenarios = Scenarios::from_json(r#"{"scenarios": {"only": {"turns": []}}}"#).unwrap();
        assert_eq!(scenarios.default_name(), "only");
    }

    #[test]
    fn refuses_files_that_cannot_mean_what_they_say() {
        check_error(
            r#"{"scenarios": {"a": {"turns": []}, "b": {"turns": []}}}"#,
            expect![
                "invalid scenario file: several scenarios and none named `default`: set `default` to one of them"
            ],
        );
        check_error(
            r#"{"default": "c", "scenarios": {"a": {"turns": []}}}"#,
            expect!["invalid scenario file: `default` names no scenario: `c`"],
        );
        check_error(
            r#"{"scenarios": {"a b": {"turns": []}}}"#,
            expect![
                "invalid scenario file: scenario name `a b` must be non-empty and use only letters, digits, `_`, `-` and `.`"
            ],
        );
        check_error(
            r#"{"turns": [{"text": "x", "error": {"status": 401, "type": "t", "message": "m"}}]}"#,
            expect![
                "parse scenario file at `turns[0]`: a turn is either an `error` or a message (`text`, `toolUse`), not both"
            ],
        );
        check_error(
            r#"{"turns": [{"delayMs": 5}]}"#,
            expect!["parse scenario file at `turns[0]`: a turn needs `text`, `toolUse` or `error`"],
        );
        check_error(
            r#"{"turns": [{"error": {"status": 200, "type": "t", "message": "m"}}]}"#,
            expect!["parse scenario file at `turns[0]`: error status must be 400..=599, got 200"],
        );
        check_error(
            r#"{"turns": [{"toolUse": {"name": "Bash", "input": "ls"}}]}"#,
            expect!["parse scenario file at `turns[0]`: toolUse `Bash`: input must be a JSON object"],
        );
        check_error(
            r#"{"scenarios": {"a": {"turns": [{"txt": "typo"}]}}}"#,
            expect![
                "parse scenario file at `scenarios.a.turns[0].txt`: unknown field `txt`, expected one of `delayMs`, `text`, `toolUse`, `error`, `usage`"
            ],
        );
        check_error(
            "{",
            expect!["parse scenario file at `.`: EOF while parsing an object at line 1 column 1"],
        );
    }
}
